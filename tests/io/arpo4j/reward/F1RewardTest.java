package io.arpo4j.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class F1RewardTest {
  /** prediction | reference | F1, computed by hand from the normalised tokens. */
  @ParameterizedTest(name = "{0} vs {1}")
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '`',
      value = {
        "Barack Obama                | barack obama      | 1",
        "The Eiffel Tower            | Eiffel Tower      | 1",
        "Paris, France               | Paris             | 0.6666666666666666",
        "a b c d                     | b c e             | 0.6666666666666666",
        "the the cat cat             | cat               | 0.6666666666666666",
        "cat                         | cat cat dog       | 0.5",
        "1,000                       | 1000              | 1",
        "U.S.A.                      | usa               | 1",
        "yes                         | Yes.              | 1",
        "yes                         | no                | 0",
        "no                          | no answer         | 0",
        "yes it is                   | yes               | 0",
        "``                          | anything          | 0",
        "an apple                    | the apple         | 1",
        "theater                     | the ater          | 0",
        "Quenby Ulm Zorblat          | Zorblat           | 0.5",
      })
  void tokenF1(String prediction, String reference, double expected) {
    assertEquals(expected, F1Reward.f1(prediction, reference), 1e-12);
  }

  static String response(String answer, boolean python, boolean search) {
    return "<think>t</think>"
        + (python ? "<python>print(1)</python> <result>\n1\n</result>" : "")
        + (search ? "<search>q</search> <result>\nPage 1: x\n</result>" : "")
        + "<answer>so \\boxed{"
        + answer
        + "}</answer>";
  }

  final F1Reward reward = new F1Reward();

  @Test
  void scoresTheLastBoxAgainstTheBestReference() {
    String twoBoxes = "<think>t</think><answer>\\boxed{London} no, \\boxed{Paris, France}</answer>";
    assertEquals(2.0 / 3, reward.evaluate(twoBoxes, List.of("Lyon", "Paris")).score(), 1e-12);
    assertEquals(1.0, reward.evaluate(twoBoxes, List.of("paris france", "Paris")).score(), 1e-12);
  }

  @Test
  void bonusOnlyWithBothToolsAndAPositiveScore() {
    assertEquals(
        2.0 / 3 + 0.1,
        reward.evaluate(response("Paris, France", true, true), List.of("Paris")).score(),
        1e-12);
    assertEquals(
        2.0 / 3,
        reward.evaluate(response("Paris, France", true, false), List.of("Paris")).score(),
        1e-12);
    assertEquals(
        2.0 / 3,
        reward.evaluate(response("Paris, France", false, true), List.of("Paris")).score(),
        1e-12);
    assertEquals(0.0, reward.evaluate(response("Rome", true, true), List.of("Paris")).score());
    assertEquals(
        1.0,
        new F1Reward(new FormatCheck(), 0.0)
            .evaluate(response("Paris", true, true), List.of("Paris"))
            .score());
  }

  @Test
  void badFormatIsMinusOne() {
    assertEquals(
        -1.0, reward.evaluate("<answer>\\boxed{Paris}</answer>", List.of("Paris")).score());
    AnswerReward.Evaluation evaluation =
        reward.evaluate("<think>t</think><answer>Paris</answer>", List.of("Paris"));
    assertEquals(
        new AnswerReward.Evaluation(
            -1.0, 0, null, "bad format: answer is missing \\boxed{} format"),
        evaluation);
  }

  @Test
  void needsReferences() {
    assertThrows(
        IllegalArgumentException.class,
        () -> reward.evaluate(response("x", false, false), List.of()).score());
    assertThrows(IllegalArgumentException.class, () -> new F1Reward(new FormatCheck(), -0.1));
  }
}
