package io.arpo4j.trainer;

import io.arpo4j.reward.Reward;
import io.arpo4j.rollout.BranchPoint;
import io.arpo4j.rollout.BudgetSplit;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.ToolCall;
import io.arpo4j.rollout.Trajectory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Rollout statistics of one step, under the metric names of {@link MetricsLog}. Work a branch
 * inherits from its parent (the shared prefix's tokens and tool calls) is counted once, on the
 * parent: these are the costs the rollout actually paid.
 */
final class StepMetrics {
  private StepMetrics() {}

  /**
   * @param correctness the evaluator's rule (a response is correct when it scores >= 1); accuracy
   *     is taken over the initial samples only (AEPO's reused probe included), whose mean is an
   *     unbiased estimate of the policy's pass@1 (branches and fillers are not independent samples
   *     of the prompt)
   * @param questions the question of each group, in the groups' order
   */
  static Map<String, Object> of(
      List<RolloutGroup> groups,
      List<Question> questions,
      Reward correctness,
      double rolloutSeconds) {
    if (questions.size() != groups.size()) {
      throw new IllegalArgumentException(
          groups.size() + " groups but " + questions.size() + " questions");
    }
    RunningMean reward = new RunningMean(), correct = new RunningMean();
    RunningMean entropy = new RunningMean(), afterTool = new RunningMean();
    List<Double> deltaH = new ArrayList<>(), probability = new ArrayList<>();
    int branches = 0, branchPoints = 0, branched = 0;
    int[] checksByL = new int[L_BUCKETS], branchedByL = new int[L_BUCKETS];
    List<Double> splitM = new ArrayList<>(), splitGap = new ArrayList<>();
    RunningMean hRoot = new RunningMean(), hTool = new RunningMean();
    long generated = 0, calls = 0;
    for (int i = 0; i < groups.size(); i++) {
      RolloutGroup g = groups.get(i);
      BudgetSplit split = g.budgetSplit();
      if (split != null) {
        splitM.add((double) split.globalSamples());
        splitGap.add(split.gap());
        hRoot.add(split.rootEntropy());
        hTool.add(split.toolEntropy());
        if (split.discardedProbe() != null) { // paid for, though not trained on
          calls += ownToolCalls(split.discardedProbe());
          generated += ownGeneratedTokens(split.discardedProbe());
        }
      }
      for (Trajectory t : g.trajectories()) {
        reward.add(t.reward());
        if (t.origin() == Trajectory.Origin.INITIAL || t.origin() == Trajectory.Origin.PROBE) {
          correct.add(Rollouts.score(correctness, questions.get(i), g.prompt(), t) >= 1.0 ? 1 : 0);
        }
        calls += ownToolCalls(t);
        generated += ownGeneratedTokens(t);
        for (BranchPoint b : t.branchPoints()) {
          branchPoints++;
          branches += b.childIds().size();
          branched += b.branched() ? 1 : 0;
          int bucket = Math.min(b.consecutiveBranches(), L_BUCKETS - 1);
          checksByL[bucket]++;
          branchedByL[bucket] += b.branched() ? 1 : 0;
          deltaH.add(b.deltaH());
          probability.add(b.probability());
        }
        addEntropies(t, entropy, afterTool);
      }
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put(MetricsLog.PROMPTS, groups.size());
    m.put(MetricsLog.REWARD_MEAN, reward.mean());
    m.put(MetricsLog.ACCURACY, correct.mean());
    m.put(
        MetricsLog.TOOL_CALLS_PER_PROMPT,
        groups.isEmpty() ? Double.NaN : calls / (double) groups.size());
    m.put(MetricsLog.GENERATED_TOKENS, generated);
    m.put(MetricsLog.GENERATED_TOKENS_PER_S, generated / Math.max(rolloutSeconds, 1e-9));
    m.put(MetricsLog.BRANCHES, branches);
    m.put(
        MetricsLog.BRANCH_RATE, branchPoints == 0 ? Double.NaN : branched / (double) branchPoints);
    putQuantiles(m, MetricsLog.DELTA_H, deltaH);
    putQuantiles(m, MetricsLog.BRANCH_P, probability);
    for (int l = 0; l < L_BUCKETS; l++) {
      String suffix = l == L_BUCKETS - 1 ? l + "plus" : String.valueOf(l);
      m.put(MetricsLog.BRANCH_CHECKS_L + suffix, checksByL[l]);
      m.put(
          MetricsLog.BRANCH_RATE_L + suffix,
          checksByL[l] == 0 ? Double.NaN : branchedByL[l] / (double) checksByL[l]);
    }
    m.put(MetricsLog.ENTROPY_MEAN, entropy.mean());
    m.put(MetricsLog.ENTROPY_AFTER_TOOL_MEAN, afterTool.mean());
    if (!splitM.isEmpty()) {
      m.put(MetricsLog.SPLIT_M + "_mean", splitM.stream().mapToDouble(x -> x).average().orElse(0));
      putQuantiles(m, MetricsLog.SPLIT_M, splitM);
      putQuantiles(m, MetricsLog.SPLIT_GAP, splitGap);
      m.put(MetricsLog.SPLIT_H_ROOT_MEAN, hRoot.mean());
      m.put(MetricsLog.SPLIT_H_TOOL_MEAN, hTool.mean());
    }
    return m;
  }

  /** Branch rate by l, the consecutive branchings before a decision: 0, 1, 2 and 3 or more. */
  static final int L_BUCKETS = 4;

  /**
   * Tool calls this trajectory ran itself: a branch's calls before its fork belong to its parent.
   */
  static int ownToolCalls(Trajectory t) {
    int start = Math.max(t.forkOffset(), 0);
    int n = 0;
    for (ToolCall c : t.toolCalls()) n += c.offset() >= start ? 1 : 0;
    return n;
  }

  /** Tokens this trajectory generated itself (loss-mask tokens after its fork). */
  static int ownGeneratedTokens(Trajectory t) {
    int n = 0;
    for (int i = Math.max(t.forkOffset(), 0); i < t.length(); i++) n += t.lossMask()[i];
    return n;
  }

  /**
   * {@code key_p10}, {@code key_p50}, {@code key_p90} (nearest rank); NaN when there are no values.
   */
  static void putQuantiles(Map<String, Object> m, String key, List<Double> values) {
    double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    for (int q : new int[] {10, 50, 90}) {
      m.put(
          key + "_p" + q,
          v.length == 0 ? Double.NaN : v[Math.max(0, (int) Math.ceil(q / 100.0 * v.length) - 1)]);
    }
  }

  /**
   * Entropy of every generated token, and the probe entropy H_t measured after each tool result.
   */
  static void addEntropies(Trajectory t, RunningMean all, RunningMean afterTool) {
    int start = Math.max(t.forkOffset(), 0); // a branch's prefix belongs to its parent
    for (int i = start; i < t.length(); i++) {
      if (t.lossMask()[i] == 1) all.add(t.entropies()[i]);
    }
    for (BranchPoint b : t.branchPoints()) afterTool.add(b.probeEntropy());
  }
}
