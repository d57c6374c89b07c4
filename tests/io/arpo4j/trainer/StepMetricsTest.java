package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.arpo4j.reward.Reward;
import io.arpo4j.rollout.BranchPoint;
import io.arpo4j.rollout.BudgetSplit;
import io.arpo4j.rollout.Prompt;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.StopReason;
import io.arpo4j.rollout.ToolCall;
import io.arpo4j.rollout.Trajectory;
import io.arpo4j.rollout.Trajectory.Origin;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each step metric against values worked out by hand on one small rollout tree. */
class StepMetricsTest {
  /** The evaluator's rule in miniature: correct when the boxed answer is a reference. */
  private static final Reward CORRECT =
      in ->
          in.references().stream().anyMatch(r -> in.response().contains("\\boxed{" + r + "}"))
              ? 1.0
              : 0.0;

  private static int[] mask(int length, int... zeroFromTo) {
    int[] m = new int[length];
    java.util.Arrays.fill(m, 1);
    for (int i = 0; i < zeroFromTo.length; i += 2) {
      for (int j = zeroFromTo[i]; j < zeroFromTo[i + 1]; j++) m[j] = 0;
    }
    return m;
  }

  private static Trajectory trajectory(
      int id,
      int parent,
      int fork,
      Origin origin,
      int[] mask,
      String text,
      List<ToolCall> calls,
      List<BranchPoint> points,
      double reward) {
    int n = mask.length;
    return new Trajectory(
        0,
        id,
        parent,
        fork,
        origin,
        new int[n],
        mask,
        new float[n],
        new float[n],
        text,
        0.0,
        calls,
        points,
        StopReason.EOS,
        reward);
  }

  private static ToolCall call(int offset, int resultTokens) {
    return new ToolCall("search", "q", "r", true, 1.0, offset, resultTokens);
  }

  /**
   * t0 (initial, correct, reward 1.1 = F1 + bonus): 20 tokens, results at 3..7 and 10..14, two
   * entropy checks (ΔH 0.3 forks t2; ΔH -0.1 does not). t1 (initial, wrong): 5 tokens. t2 (branch
   * of t0 at 7): inherits t0's first call, runs its own at 12..14. t3 (filler, correct): 4 tokens.
   */
  static RolloutGroup tree() {
    Trajectory t0 =
        trajectory(
            0,
            -1,
            -1,
            Origin.INITIAL,
            mask(20, 3, 7, 10, 14),
            "<answer> \\boxed{42} </answer>",
            List.of(call(3, 4), call(10, 4)),
            List.of(
                new BranchPoint(7, 4, 9.0, 0.3, 0.56, true, List.of(2), 0),
                new BranchPoint(14, 4, 5.0, -0.1, 0.48, false, List.of(), 1)),
            1.1);
    Trajectory t1 =
        trajectory(1, -1, -1, Origin.INITIAL, mask(5), "\\boxed{41}", List.of(), List.of(), 0.0);
    Trajectory t2 =
        trajectory(
            2,
            0,
            7,
            Origin.BRANCH,
            mask(16, 3, 7, 12, 14),
            "\\boxed{42}",
            List.of(call(3, 4), call(12, 2)),
            List.of(),
            1.0);
    Trajectory t3 =
        trajectory(3, -1, -1, Origin.FILLER, mask(4), "\\boxed{42}", List.of(), List.of(), 1.0);
    return new RolloutGroup(
        0, new Prompt(new int[] {1, 2}, "Q", List.of("42")), List.of(t0, t1, t2, t3));
  }

  @Test
  void everyMetricMatchesItsHandComputedValue() {
    Map<String, Object> m =
        StepMetrics.of(
            List.of(tree()), List.of(new Question("q0", "Q", List.of("42"))), CORRECT, 2.0);
    assertEquals(1, m.get(MetricsLog.PROMPTS));
    assertEquals((1.1 + 0 + 1 + 1) / 4, (double) m.get(MetricsLog.REWARD_MEAN), 1e-12);
    // the evaluator's rule over the initial samples only: t0 right, t1 wrong (t2, t3 not counted)
    assertEquals(0.5, (double) m.get(MetricsLog.ACCURACY), 0.0);
    // executed calls: t0's two, t2's own one (its inherited call is t0's): 3 for 1 prompt
    assertEquals(3.0, (double) m.get(MetricsLog.TOOL_CALLS_PER_PROMPT), 0.0);
    // generated once: t0 20 - 8 = 12, t1 5, t2 tokens 7..15 minus 12..14 = 7, t3 4
    assertEquals(28L, m.get(MetricsLog.GENERATED_TOKENS));
    assertEquals(14.0, (double) m.get(MetricsLog.GENERATED_TOKENS_PER_S), 1e-12);
    assertEquals(1, m.get(MetricsLog.BRANCHES));
    assertEquals(0.5, (double) m.get(MetricsLog.BRANCH_RATE), 0.0);
    // nearest-rank quantiles of {-0.1, 0.3}
    assertEquals(-0.1, (double) m.get(MetricsLog.DELTA_H + "_p10"), 0.0);
    assertEquals(-0.1, (double) m.get(MetricsLog.DELTA_H + "_p50"), 0.0);
    assertEquals(0.3, (double) m.get(MetricsLog.DELTA_H + "_p90"), 0.0);
    assertEquals(0.56, (double) m.get(MetricsLog.BRANCH_P + "_p90"), 0.0);
    assertEquals(7.0, (double) m.get(MetricsLog.ENTROPY_AFTER_TOOL_MEAN), 1e-12); // (9 + 5) / 2
  }

  /**
   * AEPO's metrics over three groups: {@link #tree()} (split m = 2, its two decisions at l = 0
   * forked and l = 1 did not), one whose probe was thrown away (its call and 4 generated tokens
   * still count as cost) and one whose kept probe is wrong (a global sample: in the accuracy).
   */
  @Test
  void aepoSplitAndBranchRateByLMatchTheirHandComputedValues() {
    RolloutGroup g1 = tree();
    g1 = new RolloutGroup(0, g1.prompt(), g1.trajectories(), new BudgetSplit(3, 5, -0.4, 2, null));
    Trajectory discarded =
        trajectory(0, -1, -1, Origin.PROBE, mask(6, 2, 4), "x", List.of(call(2, 2)), List.of(), 0);
    Trajectory kept =
        trajectory(0, -1, -1, Origin.INITIAL, mask(3), "\\boxed{42}", List.of(), List.of(), 1.0);
    Prompt prompt = new Prompt(new int[] {1}, "Q", List.of("42"));
    RolloutGroup g2 =
        new RolloutGroup(0, prompt, List.of(kept), new BudgetSplit(2, 2, 0.0, 1, discarded));
    Trajectory probe =
        trajectory(0, -1, -1, Origin.PROBE, mask(2), "\\boxed{7}", List.of(), List.of(), 0.0);
    RolloutGroup g3 =
        new RolloutGroup(0, prompt, List.of(probe), new BudgetSplit(1, 4, -0.6, 1, null));
    Question q = new Question("q", "Q", List.of("42"));
    Map<String, Object> m = StepMetrics.of(List.of(g1, g2, g3), List.of(q, q, q), CORRECT, 1.0);

    // global samples: tree's t0 right, t1 wrong; g2's kept right; g3's probe wrong
    assertEquals(0.5, (double) m.get(MetricsLog.ACCURACY), 0.0);
    // calls: the tree's 3 and the discarded probe's 1, over 3 prompts
    assertEquals(4.0 / 3, (double) m.get(MetricsLog.TOOL_CALLS_PER_PROMPT), 1e-12);
    // tokens: the tree's 28, g2's 3 + the discarded probe's 6 - 2 result tokens, g3's 2
    assertEquals(37L, m.get(MetricsLog.GENERATED_TOKENS));
    // m = {2, 1, 1}: nearest-rank p10 = 1, p50 = 1, p90 = 2
    assertEquals(4.0 / 3, (double) m.get(MetricsLog.SPLIT_M + "_mean"), 1e-12);
    assertEquals(1.0, (double) m.get(MetricsLog.SPLIT_M + "_p10"), 0.0);
    assertEquals(1.0, (double) m.get(MetricsLog.SPLIT_M + "_p50"), 0.0);
    assertEquals(2.0, (double) m.get(MetricsLog.SPLIT_M + "_p90"), 0.0);
    assertEquals(-0.4, (double) m.get(MetricsLog.SPLIT_GAP + "_p50"), 0.0);
    assertEquals(2.0, (double) m.get(MetricsLog.SPLIT_H_ROOT_MEAN), 1e-12);
    assertEquals(11.0 / 3, (double) m.get(MetricsLog.SPLIT_H_TOOL_MEAN), 1e-12);
    assertEquals(1, m.get(MetricsLog.BRANCH_CHECKS_L + "0"));
    assertEquals(1, m.get(MetricsLog.BRANCH_CHECKS_L + "1"));
    assertEquals(0, m.get(MetricsLog.BRANCH_CHECKS_L + "2"));
    assertEquals(0, m.get(MetricsLog.BRANCH_CHECKS_L + "3plus"));
    assertEquals(1.0, (double) m.get(MetricsLog.BRANCH_RATE_L + "0"), 0.0);
    assertEquals(0.0, (double) m.get(MetricsLog.BRANCH_RATE_L + "1"), 0.0);
    assertEquals(Double.NaN, (double) m.get(MetricsLog.BRANCH_RATE_L + "2"));

    // without a split, no split metrics at all (the report then draws none)
    Map<String, Object> plain = StepMetrics.of(List.of(tree()), List.of(q), CORRECT, 1.0);
    assertNull(plain.get(MetricsLog.SPLIT_M + "_mean"));
    assertNull(plain.get(MetricsLog.SPLIT_GAP + "_p50"));
  }

  @Test
  void aStepWithoutEntropyChecksLogsNullNotNaN(@TempDir Path dir) throws IOException {
    Trajectory t =
        trajectory(0, -1, -1, Origin.INITIAL, mask(3), "\\boxed{1}", List.of(), List.of(), 1.0);
    RolloutGroup g = new RolloutGroup(0, new Prompt(new int[] {1}, "Q", List.of("1")), List.of(t));
    Map<String, Object> m =
        StepMetrics.of(List.of(g), List.of(new Question("q0", "Q", List.of("1"))), CORRECT, 1.0);
    assertEquals(Double.NaN, (double) m.get(MetricsLog.BRANCH_RATE));
    Path file = dir.resolve("metrics.jsonl");
    try (MetricsLog log = MetricsLog.open(file)) {
      log.append(m);
    }
    Map<String, Object> read = MetricsLog.read(file).get(0);
    assertNull(read.get(MetricsLog.BRANCH_RATE));
    assertNull(read.get(MetricsLog.DELTA_H + "_p50"));
    assertEquals(1.0, ((Number) read.get(MetricsLog.ACCURACY)).doubleValue(), 0.0);
  }

  /**
   * Under {@code reward.kind: auto} accuracy is judged by each question's own rule: "0.5" against
   * "1/2" is right for a math source (math equivalence), wrong for a QA source (no common token).
   */
  @Test
  void accuracyJudgesEachQuestionByItsDataSource() throws Exception {
    Reward correctness =
        Trainer.configuredReward(
            TrainerConfig.load(null, List.of("reward.kind=auto")),
            io.arpo4j.tools.TrajectoryFormat.BUILT_IN,
            true);
    Trajectory t =
        trajectory(
            0,
            -1,
            -1,
            Origin.INITIAL,
            mask(3),
            "<think>x</think><answer>\\boxed{0.5}</answer>",
            List.of(),
            List.of(),
            0.0);
    RolloutGroup g =
        new RolloutGroup(0, new Prompt(new int[] {1}, "Q", List.of("1/2")), List.of(t));
    Question math = new Question("m", "Half?", List.of("1/2"), "gsm8k", Map.of());
    Question qa = new Question("h", "Half?", List.of("1/2"), "hotpotqa", Map.of());
    assertEquals(
        1.0,
        (double)
            StepMetrics.of(List.of(g), List.of(math), correctness, 1.0).get(MetricsLog.ACCURACY));
    assertEquals(
        0.0,
        (double)
            StepMetrics.of(List.of(g), List.of(qa), correctness, 1.0).get(MetricsLog.ACCURACY));
  }
}
