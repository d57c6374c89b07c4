package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.*;

import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.TransformerModel;
import io.arpo4j.reward.Reward;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.Trajectory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The RL loop end to end on the embedded model, with rewards a policy can learn in a few steps. */
class RlTrainerTest {
  /** Fraction of the response that is decimal digits: about 4% for the random initial policy. */
  static final Reward DIGITS =
      in -> {
        String response = in.response();
        if (response.isEmpty()) return 0.0;
        long digits = response.chars().filter(Character::isDigit).count();
        return digits / (double) response.length();
      };

  static List<Question> questions(int n) {
    List<Question> qs = new ArrayList<>();
    for (int i = 0; i < n; i++) qs.add(new Question("q" + i, "say some digits " + i, List.of("0")));
    return qs;
  }

  static TrainerConfig config(Path runs, String name, int steps, String... extra) throws Exception {
    List<String> o =
        new ArrayList<>(
            List.of(
                "runs_dir=" + runs,
                "run_name=" + name,
                "steps=" + steps,
                "algo=grpo",
                "prompts_per_step=4",
                "ppo_mini_batch_prompts=2",
                "rollout.global_size=6",
                "rollout.max_response_tokens=12",
                "optimizer.lr=3e-3",
                "tools.python=false",
                "seed=7"));
    o.addAll(List.of(extra));
    return TrainerConfig.load(null, o);
  }

  @Test
  void aFewStepsRaiseALearnableReward(@TempDir Path runs) throws Exception {
    TrainerConfig config = config(runs, "learn", 8);
    try (Trainer trainer = Trainer.builder(config).reward(DIGITS).correctness(DIGITS).build()) {
      trainer.train(questions(16));
    }
    List<Map<String, Object>> steps = MetricsLog.read(runs.resolve("learn/metrics.jsonl"));
    assertEquals(8, steps.size());
    double first = reward(steps.get(0)), last = (reward(steps.get(6)) + reward(steps.get(7))) / 2;
    assertTrue(last > first + 0.1, "mean reward should rise: " + first + " -> " + last);
  }

  /**
   * algo: aepo end to end on a tiny model without tools: every probe has H_tool = H_root, so m =
   * ⌊6·σ(0)⌋ + 1 = 4 for every prompt; evaluation still draws independent samples.
   */
  @Test
  void aepoSplitsEveryPromptAndEvaluatesWithIndependentSamples(@TempDir Path runs)
      throws Exception {
    TrainerConfig config =
        config(
            runs,
            "aepo",
            1,
            "algo=aepo",
            "rollout.initial_samples=3",
            "eval.samples=2",
            "eval.temperature=1.0");
    Evaluator.Result eval;
    try (Trainer trainer = Trainer.builder(config).reward(DIGITS).correctness(DIGITS).build()) {
      trainer.train(questions(4));
      eval = trainer.evaluate(questions(2));
    }
    List<Map<String, Object>> steps = MetricsLog.read(runs.resolve("aepo/metrics.jsonl"));
    assertEquals(1, steps.size());
    for (Map<String, Object> step : steps) {
      assertEquals("aepo", step.get(MetricsLog.ALGO));
      assertEquals(4.0, ((Number) step.get(MetricsLog.SPLIT_M + "_mean")).doubleValue(), 0.0);
      assertEquals(0.0, ((Number) step.get(MetricsLog.SPLIT_GAP + "_p50")).doubleValue(), 0.0);
    }
    for (RolloutGroup g : eval.groups()) {
      assertEquals(2, g.trajectories().size());
      assertNull(g.budgetSplit());
      for (Trajectory t : g.trajectories()) assertEquals(Trajectory.Origin.INITIAL, t.origin());
    }
  }

  static double reward(Map<String, Object> step) {
    return ((Number) step.get(MetricsLog.REWARD_MEAN)).doubleValue();
  }

  @Test
  void resumingWithAnotherWorldSizeSaysSo(@TempDir Path runs) throws Exception {
    TrainerConfig one = config(runs, "world", 1);
    try (Trainer trainer = Trainer.builder(one).reward(DIGITS).build()) {
      trainer.train(questions(4));
    }
    Path state = runs.resolve("world/checkpoints/step-000001").resolve(Checkpoints.STATE_FILE);
    assertEquals(1, Checkpoints.readState(state.getParent()).worldSize());
    // as if two ranks had written it
    Files.writeString(
        state, Files.readString(state).replaceAll("\"worldSize\"\\s*:\\s*1", "\"worldSize\":2"));
    try (Trainer trainer = Trainer.builder(config(runs, "world", 2)).reward(DIGITS).build()) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> trainer.train(questions(4)));
      assertTrue(
          e.getMessage().contains("written by 2 data-parallel ranks, this run has 1"),
          e.getMessage());
    }
  }

  @Test
  void killAndResumeEqualsAnUninterruptedRun(@TempDir Path runs) throws Exception {
    // ARPO with branching and the hard attribution, so resuming covers the whole update path
    String[] arpo = {
      "algo=arpo",
      "rollout.initial_samples=3",
      "rollout.entropy_window=2",
      "rollout.tau=0.0",
      "advantage.attribution=hard",
      "tools.python=false",
      "optimizer.lr=1e-3"
    };
    TrainerConfig straight = config(runs, "straight", 4, arpo);
    try (Trainer trainer = Trainer.builder(straight).reward(DIGITS).build()) {
      trainer.train(questions(10));
    }
    TrainerConfig firstHalf = config(runs, "resumed", 2, arpo);
    try (Trainer trainer = Trainer.builder(firstHalf).reward(DIGITS).build()) {
      trainer.train(questions(10)); // the process "dies" after the checkpoint of step 2
    }
    TrainerConfig secondHalf = config(runs, "resumed", 4, arpo);
    try (Trainer trainer = Trainer.builder(secondHalf).reward(DIGITS).build()) {
      RlTrainer rl = trainer.train(questions(10));
      assertEquals(4, rl.completedSteps());
      try (PolicyModel reference =
          PolicyModel.load(
              runs.resolve("straight/checkpoints/step-000004/model"),
              trainer.model().model().runtime())) {
        assertSameParameters(reference.model(), trainer.model().model());
      }
    }
    assertEquals(
        MetricsLog.read(runs.resolve("straight/metrics.jsonl")).size(),
        MetricsLog.read(runs.resolve("resumed/metrics.jsonl")).size());
    assertTrue(
        Files.readString(runs.resolve("resumed/checkpoints/latest")).startsWith("step-000004"));
  }

  static void assertSameParameters(TransformerModel expected, TransformerModel actual) {
    for (Map.Entry<String, Tensor> e : expected.parameters().entrySet()) {
      Tensor a = actual.parameters().get(e.getKey());
      double diff = e.getValue().sub(a).abs().max().item_double();
      assertEquals(0.0, diff, 0.0, e.getKey() + " differs after resume");
    }
  }
}
