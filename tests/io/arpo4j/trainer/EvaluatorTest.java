package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.Trajectory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** pass@k by the unbiased estimator, the sampling temperature of an evaluation, eval.json. */
class EvaluatorTest {
  /**
   * 1 - C(n-c, k) / C(n, k), with the binomials worked out by hand: C(3,2)/C(5,2) = 3/10, C(6,4) /
   * C(8,4) = 15/70, C(7,3)/C(10,3) = 35/120, C(15,5)/C(16,5) = 3003/4368.
   */
  @Test
  void passAtKIsTheUnbiasedEstimator() {
    assertEquals(1 - 3.0 / 10, Evaluator.passAtK(5, 2, 2), 1e-15);
    assertEquals(1 - 15.0 / 70, Evaluator.passAtK(8, 2, 4), 1e-15);
    assertEquals(1 - 35.0 / 120, Evaluator.passAtK(10, 3, 3), 1e-15);
    assertEquals(1 - 3003.0 / 4368, Evaluator.passAtK(16, 1, 5), 1e-15);
    assertEquals(0.3, Evaluator.passAtK(10, 3, 1), 1e-15, "pass@1 is c / n");
    assertEquals(0.0, Evaluator.passAtK(4, 0, 4));
    assertEquals(1.0, Evaluator.passAtK(4, 1, 4), "n - c < k: some correct sample is always drawn");
    assertEquals(1.0, Evaluator.passAtK(8, 5, 4));
    assertThrows(IllegalArgumentException.class, () -> Evaluator.passAtK(4, 1, 5));
    assertEquals(List.of(1), Evaluator.ks(1));
    assertEquals(List.of(1, 2, 4, 8), Evaluator.ks(8));
    assertEquals(List.of(1, 2, 4, 6), Evaluator.ks(6));
  }

  @Test
  void severalSamplesAreDrawnAtTheTrainingTemperatureUnlessEvalTemperatureIsSet() throws Exception {
    assertEquals(0.0, Evaluator.temperature(TrainerConfig.load(null, List.of())), "one: greedy");
    assertEquals(
        0.7,
        Evaluator.temperature(
            TrainerConfig.load(null, List.of("eval.samples=4", "rollout.temperature=0.7"))));
    assertEquals(
        0.3,
        Evaluator.temperature(
            TrainerConfig.load(null, List.of("eval.samples=4", "eval.temperature=0.3"))));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> TrainerConfig.load(null, List.of("eval.samples=4", "eval.temperature=0")));
    assertTrue(e.getMessage().contains("4 identical greedy samples"), e.getMessage());
  }

  @Test
  void fourSamplesDifferAndEvalJsonHoldsEachQuestionsOutcome(@TempDir Path runs) throws Exception {
    TrainerConfig config =
        TrainerConfig.load(
            null,
            List.of(
                "runs_dir=" + runs,
                "run_name=ev",
                "tools.python=false",
                "prompts_per_step=2",
                "rollout.max_response_tokens=10",
                "eval.samples=4"));
    List<Question> questions =
        List.of(
            new Question("alpha", "say a digit", List.of("1")),
            new Question("beta", "say a letter", List.of("a")));
    // a sample is correct when its response holds a digit: some are, some are not
    Evaluator.Result r;
    try (Trainer trainer =
        Trainer.builder(config)
            .correctness(in -> in.response().chars().anyMatch(Character::isDigit) ? 1.0 : 0.0)
            .build()) {
      r = trainer.evaluate(questions);
    }
    assertEquals(1.0, r.temperature());
    for (RolloutGroup g : r.groups()) {
      Set<String> texts = new HashSet<>();
      for (Trajectory t : g.trajectories()) texts.add(t.text());
      assertTrue(texts.size() > 1, "4 samples at temperature 1 must not be one greedy text");
    }
    Path file = runs.resolve("ev").resolve(Evaluator.FILE_NAME);
    r.save(file, Map.of("model", "default"));
    JsonNode saved = new ObjectMapper().readTree(file.toFile());
    assertEquals("default", saved.get("model").asText());
    assertEquals(4, saved.get("samples").asInt());
    List<String> ids = new ArrayList<>();
    double[] mean = new double[3];
    for (JsonNode q : saved.get("per_question")) {
      ids.add(q.get("id").asText());
      int c = 0;
      for (JsonNode reward : q.get("rewards")) c += reward.asDouble() >= 1 ? 1 : 0;
      assertEquals(c, q.get("correct").asInt());
      assertEquals(4, q.get("responses").size());
      // recomputed by hand from the counts: c/4, 1 - C(4-c,2)/C(4,2), c > 0
      double[] hand = {c / 4.0, 1 - binomial(4 - c, 2) / 6.0, c > 0 ? 1 : 0};
      assertEquals(hand[0], q.get("pass_at_1").asDouble(), 1e-12);
      assertEquals(hand[1], q.get("pass_at_2").asDouble(), 1e-12);
      assertEquals(hand[2], q.get("pass_at_4").asDouble(), 1e-12);
      for (int i = 0; i < 3; i++) mean[i] += hand[i] / 2;
    }
    assertEquals(List.of("alpha", "beta"), ids);
    assertEquals(mean[0], saved.get("pass_at_1").asDouble(), 1e-12);
    assertEquals(mean[1], saved.get("pass_at_2").asDouble(), 1e-12);
    assertEquals(mean[2], saved.get("pass_at_4").asDouble(), 1e-12);
  }

  private static double binomial(int n, int k) {
    if (k > n) return 0;
    double b = 1;
    for (int i = 0; i < k; i++) b = b * (n - i) / (i + 1);
    return b;
  }
}
