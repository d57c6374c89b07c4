package io.arpo4j.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ExactMatchRewardTest {
  final ExactMatchReward reward = new ExactMatchReward();

  /** answer | references (;-separated) | score without tools. */
  @ParameterizedTest(name = "{0} vs {1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "The Eiffel Tower   | eiffel tower         | 1",
        "Eiffel Tower!      | Tower; Eiffel Tower  | 1",
        "Paris, France      | Paris                | 0",
        "3379               | 3,379                | 1",
        "3380               | 3379                 | 0",
      })
  void matchesAfterNormalisation(String answer, String references, double expected) {
    assertEquals(
        expected,
        reward
            .evaluate(F1RewardTest.response(answer, false, false), List.of(references.split(";")))
            .score());
  }

  @ParameterizedTest(name = "tools {0} {1}")
  @CsvSource({"true, true, 1.1", "true, false, 1.0", "false, false, 1.0"})
  void toolBonusAndFormatPenalty(boolean python, boolean search, double expected) {
    assertEquals(
        expected,
        reward.evaluate(F1RewardTest.response("42", python, search), List.of("42")).score(),
        1e-12);
    assertEquals(-1.0, reward.evaluate("<think>t</think>\\boxed{42}", List.of("42")).score());
  }
}
