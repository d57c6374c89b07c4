package io.arpo4j.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MathEquivalenceRewardTest {
  /** answer | reference | equivalent; values checked by hand. */
  @ParameterizedTest(name = "{0} vs {1}")
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '`',
      value = {
        "\\frac{1}{2}                 | 0.5                  | true",
        "\\dfrac{3}{4}                | .75                  | true",
        "\\tfrac{2}{4}                | \\frac{1}{2}          | true",
        "\\frac12                     | 1/2                  | true",
        "-\\frac12                    | -0.5                 | true",
        "`1,000`                     | 1000                 | true",
        "`\\$1,234.50`               | 1234.5               | true",
        "`1{,}000`                   | 1000                 | true",
        "50\\%                        | 50                   | true",
        "90^\\circ                    | 90                   | true",
        "90^{\\circ}                  | 90°                  | true",
        "5 \\text{ cm}                | 5                    | true",
        "12 apples                   | 12                   | false",
        "5 million                   | 5                    | false",
        "3 thousand                  | 3                    | false",
        "2 pi                        | 2                    | false",
        "3 n                         | 3                    | false",
        "4 i                         | 4                    | false",
        "12 squared                  | 12                   | false",
        "5\\text{ million}           | 5                    | false",
        "3\\text{ dozen}             | 3                    | false",
        "28 percent                  | 28\\%               | true",
        "\\cfrac{1}{3}               | 1/3                  | true",
        "125\\textnormal{ miles}     | 125                  | true",
        "\\frac{1}{3} \\textbf{meters} | 1/3               | true",
        "15\\mbox{ cm}^2             | 15                   | true",
        "`11,\\! 111,\\! 111,\\! 100` | 11111111100        | true",
        "x = 5                       | 5                    | true",
        "3.0                         | 3                    | true",
        "1.5e3                       | 1500                 | true",
        "10^{3}                      | 1000                 | true",
        "2^{-1}                      | 0.5                  | true",
        "\\sqrt{4}                    | 2                    | true",
        "\\sqrt[3]{27}                | 3                    | true",
        "\\sqrt{\\frac{9}{4}}          | 1.5                  | true",
        "2\\sqrt{2}                   | \\sqrt{8}             | true",
        "\\frac{\\sqrt{3}}{2}          | \\frac{1}{2}\\sqrt{3}  | true",
        "2\\pi                        | \\pi \\cdot 2          | true",
        "6.283185307179586           | 2\\pi                 | true",
        "3 \\times 4                  | 12                   | true",
        "`(1, 2)`                    | `(1,2)`              | true",
        "`\\left( 1, \\frac{1}{2} \\right)` | `(1,0.5)`       | true",
        "`[0, \\frac{1}{2})`          | `[0,0.5)`            | true",
        "\\boxed{7}                   | 7                    | true",
        "\\text{(B)}                  | B                    | true",
        "\u22125                      | -5                   | true",
        "0.333                       | \\frac{1}{3}          | false",
        "3.14                        | \\pi                  | false",
        "\\sqrt{2}                    | 1.414                | false",
        "2x                          | 2                    | false",
        "5                           | -5                   | false",
        "1/2                         | 2/1                  | false",
        "`(1,2)`                     | `[1,2)`              | false",
        "`(1,2)`                     | `(2,1)`              | false",
        "`1,2`                       | 12                   | false",
        "\\frac{1}{0}                 | 1                    | false",
        "x^2                         | x^2                  | true",
        "\\infty                      | \\infty               | true",
      })
  void equivalence(String answer, String reference, boolean expected) {
    assertEquals(expected, MathAnswer.equivalent(answer, reference));
    assertEquals(expected, MathAnswer.equivalent(reference, answer), "symmetry");
  }

  @Test
  void rewardUsesTheLastBoxAndGivesNoPartialCredit() {
    MathEquivalenceReward reward = new MathEquivalenceReward();
    String response =
        "<think>t</think><python>print(1/4)</python> <result>\n0.25\n</result>"
            + "<answer>so \\boxed{\\frac{1}{4}}</answer>";
    assertEquals(1.0, reward.evaluate(response, List.of("0.25")).score());
    assertEquals(0.0, reward.evaluate(response, List.of("0.26")).score());
    assertEquals(1.0, reward.evaluate(response, List.of("7", "1/4")).score());
    // a wrong pair: F1 gives 3 of 4 tokens partial credit, math equivalence gives none
    String wrong = F1RewardTest.response("x = 3, y = 4", false, false);
    assertEquals(0.75, new F1Reward().evaluate(wrong, List.of("x = 3, y = 5")).score(), 1e-12);
    assertEquals(0.0, reward.evaluate(wrong, List.of("x = 3, y = 5")).score());
    assertEquals(1.0, reward.evaluate(wrong, List.of("x=3, y=4")).score());
  }
}
