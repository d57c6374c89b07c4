package io.arpo4j.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MathVerifierTest {
  /** answer | reference | equal; each checked by hand. */
  @ParameterizedTest(name = "{0} vs {1}")
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '`',
      value = {
        // symbolic equality
        "(x-1)(x+1)                    | x^2-1                         | true",
        "\\frac{x+2}{7}                | \\frac{x}{7}+\\frac{2}{7}       | true",
        "\\tan^2(y)+1                  | \\sec^2(y)                    | true",
        "x^2+2x+1                      | (x+1)^2+1                     | false",
        "x+2n+1                        | x+1                           | false",
        "f(x)                          | f(y)                          | false",
        "\\frac{1+\\sqrt{5}}{2}         | 2                             | false",
        // relations
        "x \\leq 5                     | 5 \\geq x                     | true",
        "-x > -1                       | x < 1                         | true",
        "x > 5                         | x < 5                         | false",
        "x \\geq 5                     | x \\leq 5                     | false",
        "2x+4y-3=0                     | y=-\\frac{1}{2}x+\\frac{3}{4}   | true",
        "x \\neq 3                     | x != 3                        | true",
        // labelled answers
        "k = \\frac{1}{3}              | 1/3                           | true",
        "`(p,q)=(3,2)`                 | `(3,2)`                       | true",
        "`f(x) = x^2+1`                | x^2+1                         | true",
        "x \\approx 11                 | 11                            | true",
        // sets, tuples, intervals, unions
        "`\\{1, 2, 3\\}`               | `\\{3, 1, 2\\}`               | true",
        "`\\{1, 2\\}`                  | `\\{1, 2, 3\\}`               | false",
        "`(1, 2)`                      | `(2, 1)`                      | false",
        "`(1, \\frac{9}{2})`           | `(1, 4.5)`                    | true",
        "`[0, 1)`                      | `(0, 1)`                      | false",
        "`(-\\infty, 2] \\cup [3, \\infty)` | `[3, \\infty) \\cup (-\\infty, 2]` | true",
        "`(-\\infty, 2] \\cup [3, \\infty)` | `(-\\infty, 2] \\cup (3, \\infty)` | false",
        "\\pm 2                        | `\\{-2, 2\\}`                 | true",
        "\\pm 2                        | 2                             | false",
        // matrices
        "`\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix}` | `\\begin{bmatrix}1 & 0 \\\\ 0 & 1\\end{bmatrix}` | true",
        "`\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}` | `\\begin{pmatrix}1 & 2 \\\\ 3 & 5\\end{pmatrix}` | false",
        // numbers: no unit words, relative tolerance 1e-6
        "5 million                     | 5                             | false",
        "2\\pi                         | 2                             | false",
        "6.2831853                     | 2\\pi                         | true",
        "6.2832                        | 2\\pi                         | false",
        "0.333                         | \\frac{1}{3}                  | false",
        "12:00                         | 1:00                          | false",
        "12:00                         | 12:00                         | true",
      })
  void equivalence(String answer, String reference, boolean expected) {
    assertEquals(expected, MathVerifier.equivalent(answer, reference));
    assertEquals(expected, MathVerifier.equivalent(reference, answer), "symmetry");
  }

  /**
   * answer | reference | equal: rules that follow Math-Verify's semantics, each checked by hand.
   */
  @ParameterizedTest(name = "{0} vs {1}")
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '`',
      value = {
        // a command written with a doubled backslash is the command; in a matrix \\ still ends a
        // row
        "`\\\\frac{1}{2}`                   | 0.5                           | true",
        "`\\\\left( 3, \\\\frac{\\\\pi}{2} \\\\right)` | `(3, \\frac{\\pi}{2})` | true",
        "`\\\\frac{1}{2}`                   | `\\frac{1}{3}`               | false",
        "`\\begin{pmatrix}1 \\\\ 2\\end{pmatrix}` | `\\begin{pmatrix}1 & 2\\end{pmatrix}` | false",
        "`\\begin{pmatrix}1\\\\ 2\\end{pmatrix}`  | `\\begin{pmatrix}1 \\\\ 2\\end{pmatrix}` | true",
        // thousands separated by {,}, also with spaces
        "`14 {, }916`                  | 14916                         | true",
        "`14 {, }916`                  | 14.916                        | false",
        // labels made of names: ratios, fractions and bars of names
        "`V_{1}:V_{2}=11:21`           | 11:21                         | true",
        "`V_{1}:V_{2}=11:21`           | 11:20                         | false",
        "`\\frac{NO}{BO}=\\frac{1}{\\sqrt{6}}` | `\\frac{\\sqrt{6}}{6}`  | true",
        "`|AB|=1`                      | 1                             | true",
        "`|AB|=1`                      | 2                             | false",
        // sets: repeated elements count once; tuples keep order and count
        "`\\{1, 1, 2\\}`               | `\\{2, 1\\}`                 | true",
        "`\\{1, 1, 2\\}`               | `\\{1, 2, 3\\}`              | false",
        "`\\{1, 1\\}`                  | `\\{1, 2\\}`                 | false",
        "`(1, 1, 2)`                   | `(1, 2)`                      | false",
        // semicolons separate solutions; assignments to several names are the tuple of their values
        "`(5,2),(7,2)`                 | `p=5,q=2;p=7,q=2`             | true",
        "`(5,2),(7,3)`                 | `p=5,q=2;p=7,q=2`             | false",
        "`(2,5),(7,2)`                 | `p=5,q=2;p=7,q=2`             | false",
        "`-12;-11;-10`                 | `\\{-10, -11, -12\\}`        | true",
        // matrix sums, differences and products are evaluated (entries by hand)
        "`\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} + \\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}` | `\\begin{pmatrix}6 & 8 \\\\ 10 & 12\\end{pmatrix}` | true",
        "`\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} - \\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}` | `\\begin{pmatrix}-4 & -4 \\\\ -4 & -4\\end{pmatrix}` | true",
        "`\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} + \\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}` | `\\begin{pmatrix}6 & 8 \\\\ 10 & 13\\end{pmatrix}` | false",
        "`\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} \\begin{pmatrix}0 & 1 \\\\ 1 & 0\\end{pmatrix}` | `\\begin{pmatrix}2 & 1 \\\\ 4 & 3\\end{pmatrix}` | true",
        "`\\begin{pmatrix}0 & 1 \\\\ 1 & 0\\end{pmatrix} \\cdot \\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}` | `\\begin{pmatrix}2 & 1 \\\\ 4 & 3\\end{pmatrix}` | false",
        "`\\begin{pmatrix}1 & 2\\end{pmatrix} + \\begin{pmatrix}1 \\\\ 2\\end{pmatrix}` | `\\begin{pmatrix}2 & 4\\end{pmatrix}` | false",
      })
  void mathVerifyRules(String answer, String reference, boolean expected) {
    assertEquals(expected, MathVerifier.equivalent(answer, reference));
    assertEquals(expected, MathVerifier.equivalent(reference, answer), "symmetry");
  }

  /**
   * answer | reference | equal: not symmetric, as Math-Verify's verify(gold, pred). An answer
   * equation counts by its last side against a reference that is no equation; a reference equation
   * only when its left side is a label; a reference inequality is the interval it describes when
   * the answer is an interval.
   */
  @ParameterizedTest(name = "{0} vs {1}")
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '`',
      value = {
        "`\\frac{1}{2} = \\frac{10}{9}` | `\\frac{10}{9}`              | true",
        "`\\frac{10}{9}`               | `\\frac{1}{2} = \\frac{10}{9}` | false",
        "7 = 11a+c                     | 11a+c                         | true",
        "11a+c                         | 7 = 11a+c                     | false",
        "3                             | x+1 = 3                       | false",
        "3                             | A:B = 3                       | true",
        "x = 3                         | 4                             | false",
        "`x \\in [-2,7]`               | `-2 \\le x \\le 7`           | true",
        "`[-2,7]`                      | `-2 \\le x \\le 7`           | true",
        "`(0,1)`                       | `0<f(x)<1`                    | true",
        "`(-793, 10)`                  | `10 > a > -793`               | true",
        "`[0,1)`                       | `0<x<1`                       | false",
        "`(0,2)`                       | `0<x<1`                       | false",
        "`(1,3)`                       | `1<x+y<3`                     | false",
        "`(-\\infty, 5]`               | `x \\le 5`                    | true",
        "`(-\\infty, 5)`               | `x \\le 5`                    | false",
        "`[5, \\infty)`                | `x \\geq 5`                   | true",
        "`-2 \\le x \\le 7`            | `[-2,7]`                      | false",
      })
  void answerAgainstReference(String answer, String reference, boolean expected) {
    assertEquals(expected, MathVerifier.equivalent(answer, reference));
  }

  @Test
  void anAnswerInequalityIsASetOnlyWhenAllowed() {
    MathVerifier.Policy bothWays = MathVerifier.DEFAULT.withSetRelationBothWays(true);
    assertTrue(MathVerifier.equivalent("-2 \\le x \\le 7", "x \\in [-2,7]", bothWays));
    assertFalse(MathVerifier.equivalent("-2 \\le x \\le 7", "x \\in [-2,7]"));
    assertFalse(MathVerifier.equivalent("-2 < x \\le 7", "x \\in [-2,7]", bothWays));
  }

  @Test
  void withoutStrictVariablesTheAnswersVariablesAreRenamedInOrder() {
    MathVerifier.Policy loose = MathVerifier.DEFAULT.withStrictVariables(false);
    assertFalse(MathVerifier.equivalent("f(y)", "f(x)"));
    assertTrue(MathVerifier.equivalent("f(y)", "f(x)", loose));
    assertTrue(MathVerifier.equivalent("y^2+1", "x^2+1", loose));
    assertFalse(MathVerifier.equivalent("y^2+1", "x^2+2", loose));
    assertFalse(MathVerifier.equivalent("x+y", "2z", loose)); // two variables against one
    assertTrue(MathVerifier.equivalent("a+2b", "x+2y", loose));
    assertFalse(
        MathVerifier.equivalent("2a+b", "x+2y", loose)); // renamed in name order: a to x, b to y
  }

  @Test
  void roundingComparesToTheGivenPlaces() {
    MathVerifier.Policy twoPlaces = MathVerifier.DEFAULT.withRounding(2);
    assertTrue(MathVerifier.equivalent("0.33", "\\frac{1}{3}", twoPlaces));
    assertTrue(MathVerifier.equivalent("(0.6, 2.67]", "(\\frac{3}{5}, \\frac{8}{3}]", twoPlaces));
    assertFalse(MathVerifier.equivalent("0.34", "\\frac{1}{3}", twoPlaces));
    // a row break before a space is no spacing command: two rows here
    assertTrue(
        MathVerifier.equivalent(
            "\\begin{pmatrix}0.33\\\\0.2\\end{pmatrix}",
            "(\\begin{pmatrix}\\frac{1}{3}\\\\ \\frac{1}{5}\\end{pmatrix})",
            twoPlaces));
    assertFalse(
        MathVerifier.equivalent(
            "\\begin{pmatrix}0.33 & 0.2\\end{pmatrix}",
            "(\\begin{pmatrix}\\frac{1}{3}\\\\ \\frac{1}{5}\\end{pmatrix})",
            twoPlaces));
    assertFalse(MathVerifier.equivalent("0.33", "\\frac{1}{3}"));
  }

  @Test
  void aComparisonPastItsTimeLimitIsNotEqualAndLaterOnesStillWork() {
    MathVerifier.Policy instant =
        new MathVerifier.Policy(1e-6, OptionalInt.empty(), Duration.ofNanos(1));
    // what follows a timeout must still work, not be fast: an abandoned computation may keep a
    // core busy, and on a loaded 2-core machine the default 5 s made this test flaky
    MathVerifier.Policy generous = MathVerifier.DEFAULT.withTimeout(Duration.ofSeconds(60));
    assertFalse(MathVerifier.equivalent("(x-1)(x+1)", "x^2-1", instant));
    assertTrue(MathVerifier.equivalent("(x-1)(x+1)", "x^2-1", generous));
    MathVerifier.Policy short_ =
        new MathVerifier.Policy(1e-6, OptionalInt.empty(), Duration.ofSeconds(2));
    assertFalse(MathVerifier.equivalent("10^{10^{10}}+x", "10^{10^{10}}+x+1", short_));
    assertTrue(MathVerifier.equivalent("\\sin^2 x + \\cos^2 x", "1", generous));
  }

  @Test
  void badPoliciesAreRejected() {
    assertThrows(
        IllegalArgumentException.class,
        () -> new MathVerifier.Policy(-1, OptionalInt.empty(), Duration.ofSeconds(1)));
    assertThrows(
        IllegalArgumentException.class,
        () -> new MathVerifier.Policy(1e-6, OptionalInt.of(40), Duration.ofSeconds(1)));
    assertThrows(
        IllegalArgumentException.class,
        () -> new MathVerifier.Policy(1e-6, OptionalInt.empty(), Duration.ZERO));
    assertThrows(
        IllegalArgumentException.class,
        () -> MathVerifier.DEFAULT.withTimeout(Duration.ofSeconds(-1)));
  }

  /** text | extracted answer */
  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '`',
      value = {
        "`so the answer is \\boxed{\\frac{1}{2}}.`            | \\frac{1}{2}",
        "`\\boxed{2}, \\boxed{3} and \\boxed{5}`              | `\\{2, 3, 5\\}`",
        "`first \\boxed{3}, then after a long check of it all \\boxed{5}` | 5",
        "`Answer $ 9 $ end`                                  | 9",
        "`Answer \\[ 9 \\]`                                  | 9",
        "`The final answer is 7.78. I hope it is correct.`   | 7.78",
        "`so it is 1,000.99m²`                               | 1000.99",
        "`Soucis : 2,74 $ a..`                               | 2.74",
        "`7,425,000`                                         | 7425000",
        // Math-Verify's priorities: "final answer is X. I hope" before any box
        "`so \\boxed{255}. The final answer is $10,455$. I hope it is correct.` | `10,455`",
        // math spans joined by and/or/commas are one answer, the set of their contents
        "`so $1$ and $2$ and $3$`                            | `\\{1, 2, 3\\}`",
        "`$21,16$ or $11$`                                   | `\\{21,16, 11\\}`",
        "`first $1$, then $2$`                               | 2",
        // arithmetic in prose, and a fraction outside math delimiters
        "`Alice wins the game is 2/3. <|im_start|>user`      | 2/3",
        "`so (1/2) / (3/4) is it`                            | (1/2) / (3/4)",
        "`then 12 - 3 = 9 apples`                            | 9",
        "`it is \\frac{10}{9}`                               | `\\frac{10}{9}`",
        // math delimiters and labels between boxes are no words
        "`\\( y_1 = \\boxed{a} \\) and \\( y_2 = \\boxed{b} \\)` | `\\{a, b\\}`",
      })
  void extraction(String text, String expected) {
    assertEquals(Optional.of(expected), MathVerifier.extract(text));
  }

  @Test
  void mathSpansDoNotCrossLinesAndProseNumbersAreOptional() {
    assertEquals(Optional.empty(), MathVerifier.extract("Answer $ \n 9 \n $", false));
    assertEquals(Optional.of("9"), MathVerifier.extract("Answer $ \n 9 \n $", true));
  }
}
