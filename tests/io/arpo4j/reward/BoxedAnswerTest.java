package io.arpo4j.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class BoxedAnswerTest {
  /**
   * text | content of the last box ("-" for none); cases marked ref are the reference's edge cases.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '`',
      nullValues = "-",
      value = {
        "\\boxed{5}                              | 5",
        "first \\boxed{1} then \\boxed{2}          | 2",
        "\\boxed{\\frac{1}{2}}                     | \\frac{1}{2}",
        "\\boxed{\\dfrac{\\sqrt{3}}{2}} units       | \\dfrac{\\sqrt{3}}{2}",
        "\\boxed{\\{1, 2\\}}                       | \\{1, 2\\}",
        "\\boxed{a}{b}                            | a",
        "` \\boxed{ spaced } `                   | ` spaced `",
        "\\boxed {7}                              | 7",
        "\\boxed{\\boxed{3}}                       | 3",
        "\\fbox{7}                                | 7",
        "$\\boxed 42$ apples                      | 42",
        "\\boxed 5                                | 5",
        "\\boxed{5                                | -",
        "\\boxed{1} and \\boxed{2                  | -",
        "\\boxedtext{3}                           | -",
        "no box here                             | -",
        "`\\boxed{}`                              | ``",
      })
  void lastBox(String text, String expected) {
    assertEquals(Optional.ofNullable(expected), BoxedAnswer.last(text.strip()));
  }

  @Test
  void allBoxesInOrder() {
    assertEquals(
        List.of("1", "x^2", "\\frac{a}{b}"),
        BoxedAnswer.all("\\boxed{1}, \\fbox{x^2} and \\boxed{\\frac{a}{b}} but not \\boxed{open"));
  }
}
