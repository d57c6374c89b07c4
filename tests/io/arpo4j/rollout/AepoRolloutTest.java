package io.arpo4j.rollout;

import static io.arpo4j.rollout.Fixtures.prompt;
import static io.arpo4j.rollout.Fixtures.result;
import static io.arpo4j.rollout.ScriptedPolicy.script;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.rollout.RolloutConfig.BranchRule;
import io.arpo4j.rollout.RolloutConfig.PenaltyScope;
import io.arpo4j.rollout.ScriptedPolicy.Piece;
import io.arpo4j.rollout.Trajectory.Origin;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * AEPO's rollout pieces (AEPO.md §1–§2) against values worked out by hand: the dynamic split of the
 * budget (m from the probe's H_root and H_tool, the probe reused or thrown away, exactly M
 * trajectories) and the consecutive-branch penalty (l per path and per question, both rules).
 */
class AepoRolloutTest {
  private static final double LN_V = Math.log(ScriptedPolicy.VOCAB);
  private static final List<Piece> ANSWER = script("<answer>C</answer>", 1.0);

  private static double sigmoid(double x) {
    return 1 / (1 + Math.exp(-x));
  }

  @Test
  void globalSamplesMatchTheFormulaWorkedByHand() {
    RolloutConfig m16 = RolloutConfig.builder().globalSize(16).splitBeta(0.5).build();
    // floor(16·σ(0.5·gap)) + 1: σ(0) = 0.5 -> 9; σ(1) = 0.7311 -> 11.70 -> 12; σ(-1) = 0.2689 ->
    // 4.30 -> 5; σ(0.5·0.3) = 0.5374 -> 8.60 -> 9; σ(-0.5·0.3) = 0.4626 -> 7.40 -> 8
    assertEquals(9, m16.globalSamples(0.0));
    assertEquals(12, m16.globalSamples(2.0));
    assertEquals(5, m16.globalSamples(-2.0));
    assertEquals(9, m16.globalSamples(0.3));
    assertEquals(8, m16.globalSamples(-0.3));
    // the clamp: 17 -> 16 above, and at least 1
    assertEquals(16, m16.globalSamples(100.0));
    assertEquals(1, m16.globalSamples(-100.0));
    assertEquals(
        1, RolloutConfig.builder().globalSize(1).initialSamples(1).build().globalSamples(0.0));
    // β_m scales the gap: β_m = 2, gap 0.5 is σ(1) again
    assertEquals(12, m16.toBuilder().splitBeta(2.0).build().globalSamples(0.5));
  }

  @Test
  void penaltyFactorIsOneMinusLambdaLClampedAtZero() {
    RolloutConfig c = RolloutConfig.builder().branchPenalty(0.05).build();
    assertEquals(1.0, c.penaltyFactor(0), 0.0);
    assertEquals(0.95, c.penaltyFactor(1), 1e-15);
    assertEquals(0.85, c.penaltyFactor(3), 1e-15);
    assertEquals(0.0, c.penaltyFactor(20), 0.0);
    assertEquals(0.0, c.penaltyFactor(25), 0.0);
    assertThrows(
        IllegalArgumentException.class, () -> RolloutConfig.builder().branchPenalty(-0.1).build());
  }

  /** The probe calls one tool: H_root = 2·1.0, its probe window 2·5.0, so H_tool = 6. */
  private static ScriptedPolicy splitScenario() {
    return new ScriptedPolicy(
        Map.of(
            "Q#0",
            script("<python>1</python>", 1.0, "ab", 5.0, "<answer>x</answer>", 1.0),
            "Q#1",
            script("<python>2</python>", 1.0, "cd", 5.0, "<answer>y</answer>", 1.0),
            "Q#2",
            script("<python>3</python>", 1.0, "ef", 5.0, "<answer>z</answer>", 1.0),
            "Q#3",
            script("<python>4</python>", 1.0, "gh", 5.0, "<answer>w</answer>", 1.0)),
        ANSWER);
  }

  private static RolloutConfig.Builder splitConfig() {
    return RolloutConfig.builder()
        .globalSize(6)
        .initialSamples(5) // replaced by m
        .entropyWindow(2)
        .dynamicSplit(true)
        .splitBeta(0.5);
  }

  @Test
  void theProbeSetsMAndIsKeptAsTheFirstGlobalSample() {
    ScriptedPolicy policy = splitScenario();
    RolloutGroup group =
        new RolloutEngine(policy, new Fixtures.EchoTools(), splitConfig().build())
            .rollout(List.of(prompt("Q")))
            .get(0);

    // H_root = 2 tokens of 1.0 = 2; H_tool = mean(2, 10) = 6; gap = -4/ln 128;
    // m = floor(6·σ(0.5·gap)) + 1 = floor(6·0.3984) + 1 = 3
    double gap = (2.0 - 6.0) / LN_V;
    assertEquals(2, (int) Math.floor(6 * sigmoid(0.5 * gap)), "hand check of the scenario");
    BudgetSplit split = group.budgetSplit();
    assertNotNull(split);
    assertEquals(2.0, split.rootEntropy(), 1e-12);
    assertEquals(6.0, split.toolEntropy(), 1e-12);
    assertEquals(gap, split.gap(), 1e-12);
    assertEquals(3, split.globalSamples());
    assertNull(split.discardedProbe());

    // probe + 2 global samples; each of those branches once (P = 0.5 + 0.2·8/ln 128 > 0.5);
    // 5 paths finished short of M = 6: one filler
    List<Origin> origins = group.trajectories().stream().map(Trajectory::origin).toList();
    assertEquals(
        List.of(
            Origin.PROBE,
            Origin.INITIAL,
            Origin.INITIAL,
            Origin.BRANCH,
            Origin.BRANCH,
            Origin.FILLER),
        origins);
    Trajectory probe = group.trajectory(0);
    assertEquals("<python>1</python>" + result("R:1") + "ab<answer>x</answer>", probe.text());
    assertTrue(probe.branchPoints().isEmpty(), "the probe never branches");
    assertEquals(List.of(3), group.trajectory(1).branchPoints().get(0).childIds());
    assertEquals(List.of(4), group.trajectory(2).branchPoints().get(0).childIds());
    // the global samples started only once the probe had finished; no fork was taken for it
    long probeEnd = policy.sequence("Q#0").lastStep;
    assertTrue(policy.sequence("Q#1").createdAtStep > probeEnd);
    assertTrue(policy.sequence("Q#2").createdAtStep > probeEnd);
    assertEquals(2, policy.forkCalls, "one fork per branching global sample, none for the probe");
    assertTrue(policy.live.isEmpty());
  }

  @Test
  void aDiscardedProbeIsKeptOutOfTheGroupWhichStillHoldsExactlyM() {
    ScriptedPolicy policy = splitScenario();
    RolloutGroup group =
        new RolloutEngine(policy, new Fixtures.EchoTools(), splitConfig().reuseProbe(false).build())
            .rollout(List.of(prompt("Q")))
            .get(0);

    BudgetSplit split = group.budgetSplit();
    assertEquals(3, split.globalSamples());
    Trajectory discarded = split.discardedProbe();
    assertNotNull(discarded);
    assertEquals(Origin.PROBE, discarded.origin());
    assertEquals("<python>1</python>" + result("R:1") + "ab<answer>x</answer>", discarded.text());
    // m = 3 fresh samples (Q#1..Q#3), each branching once: 6 = M, no filler
    assertEquals(
        List.of(
            Origin.INITIAL,
            Origin.INITIAL,
            Origin.INITIAL,
            Origin.BRANCH,
            Origin.BRANCH,
            Origin.BRANCH),
        group.trajectories().stream().map(Trajectory::origin).toList());
    assertTrue(group.trajectory(0).text().startsWith("<python>2</python>"));
    assertTrue(policy.live.isEmpty());
  }

  @Test
  void aProbeWithoutToolCallsHasHToolEqualToHRoot() {
    ScriptedPolicy policy =
        new ScriptedPolicy(Map.of("Q#0", script("<answer>x</answer>", 2.0)), ANSWER);
    RolloutGroup group =
        new RolloutEngine(policy, new Fixtures.EchoTools(), splitConfig().build())
            .rollout(List.of(prompt("Q")))
            .get(0);
    BudgetSplit split = group.budgetSplit();
    assertEquals(4.0, split.rootEntropy(), 1e-12);
    assertEquals(4.0, split.toolEntropy(), 1e-12);
    assertEquals(4, split.globalSamples()); // floor(6·0.5) + 1
    assertEquals(6, group.trajectories().size());
    assertEquals(
        3, group.trajectories().stream().filter(t -> t.origin() == Origin.INITIAL).count());
  }

  @Test
  void everyPromptGetsExactlyMTrajectoriesWithMOfThemGlobal() {
    for (boolean reuse : new boolean[] {true, false}) {
      for (int m : new int[] {1, 2, 5, 9}) {
        for (long seed = 0; seed < 3; seed++) {
          long s = seed;
          RolloutConfig config =
              RolloutConfig.builder()
                  .globalSize(m)
                  .initialSamples(1)
                  .entropyWindow(3)
                  .dynamicSplit(true)
                  .reuseProbe(reuse)
                  .branchPenalty(0.05)
                  .seed(seed)
                  .build();
          ScriptedPolicy policy = new ScriptedPolicy(name -> Fixtures.randomScript(name, s));
          List<Prompt> prompts = List.of(prompt("A"), prompt("B"), prompt("C"));
          List<RolloutGroup> groups =
              new RolloutEngine(policy, new Fixtures.EchoTools(), config).rollout(prompts);
          for (RolloutGroup g : groups) {
            String where = "M=" + m + " reuse=" + reuse + " seed=" + seed + " " + g.promptIndex();
            assertEquals(m, g.trajectories().size(), where);
            BudgetSplit split = g.budgetSplit();
            Trajectory probe = reuse ? g.trajectory(0) : split.discardedProbe();
            assertEquals(Origin.PROBE, probe.origin(), where);
            assertTrue(probe.branchPoints().isEmpty(), where);
            assertEquals(reuse, split.discardedProbe() == null, where);
            assertEquals(probe.initialEntropy(), split.rootEntropy(), 0.0, where);
            assertEquals(
                config.globalSamples((split.rootEntropy() - split.toolEntropy()) / LN_V),
                split.globalSamples(),
                where);
            long global =
                g.trajectories().stream()
                    .filter(t -> t.origin() == Origin.INITIAL || t.origin() == Origin.PROBE)
                    .count();
            assertEquals(split.globalSamples(), global, where);
          }
          assertTrue(policy.live.isEmpty());
        }
      }
    }
  }

  /** A path's decisions as (l, branched) pairs, in order. */
  private static List<String> decisions(Trajectory t) {
    List<String> out = new ArrayList<>();
    for (BranchPoint b : t.branchPoints())
      out.add(b.consecutiveBranches() + (b.branched() ? "+" : "-"));
    return out;
  }

  /**
   * Four calls, each followed by a probe at entropy 5 against H_initial 2: P_0 = 0.5 + 0.2·8/ln 128
   * = 0.8298 before the penalty.
   */
  private static List<Piece> fourCalls() {
    return script(
        "<python>1</python>",
        1.0,
        "ab",
        5.0,
        "<python>2</python>",
        1.0,
        "cd",
        5.0,
        "<python>3</python>",
        1.0,
        "ef",
        5.0,
        "<python>4</python>",
        1.0,
        "gh",
        5.0,
        "<answer>x</answer>",
        1.0);
  }

  @Test
  void pathPenaltyUnderTheThresholdFollowsTheHandComputedRunOfBranchings() {
    // λ = 0.3: P(l=0) = 0.8298, P(1) = 0.5808 > τ, P(2) = 0.3319 < τ. Children call one tool each.
    RolloutConfig config =
        RolloutConfig.builder()
            .globalSize(6)
            .initialSamples(1)
            .entropyWindow(2)
            .toolCallLimit(10)
            .branchPenalty(0.3)
            .build();
    double p0 = 0.5 + 0.2 * (10.0 - 2.0) / LN_V;
    assertTrue(p0 * 0.7 > 0.5 && p0 * 0.4 < 0.5, "hand check of the scenario");
    ScriptedPolicy policy =
        new ScriptedPolicy(
            Map.of("Q#0", fourCalls()),
            script("<python>9</python>", 1.0, "zz", 5.0, "<answer>c</answer>", 1.0));
    RolloutGroup g =
        new RolloutEngine(policy, new Fixtures.EchoTools(), config)
            .rollout(List.of(prompt("Q")))
            .get(0);

    Trajectory t0 = g.trajectory(0);
    // l: 0 (branch) -> 1 (branch) -> 2 (no branch: reset) -> 0 (branch)
    assertEquals(List.of("0+", "1+", "2-", "0+"), decisions(t0));
    double[] factor = {1.0, 0.7, 0.4, 1.0};
    for (int i = 0; i < 4; i++) {
      assertEquals(p0 * factor[i], t0.branchPoints().get(i).probability(), 1e-12, "call " + i);
    }
    // children inherit the count the branch raised: the child of call 1 decides at l = 1 (and
    // branches: its own child then stands at l = 2, and does not); the child of call 2 at l = 2;
    // the child of call 4 at l = 1
    List<Integer> forks = new ArrayList<>();
    for (BranchPoint b : t0.branchPoints()) if (b.branched()) forks.add(b.childIds().get(0));
    assertEquals(List.of("1+"), decisions(g.trajectory(forks.get(0))));
    assertEquals(List.of("2-"), decisions(g.trajectory(forks.get(1))));
    assertEquals(List.of("1+"), decisions(g.trajectory(forks.get(2))));
    int grandchild = g.trajectory(forks.get(0)).branchPoints().get(0).childIds().get(0);
    assertEquals(List.of("2-"), decisions(g.trajectory(grandchild)));
    // t0, its 3 children and 2 grandchildren: the 5 branches fill M = 6, no filler
    assertEquals(5, g.trajectories().stream().filter(t -> t.origin() == Origin.BRANCH).count());
  }

  @Test
  void stochasticRuleWithThePenaltyBranchesIffTheDampedPBeatsTheDraw() {
    // P before the penalty = 0.5 + 0.2·(40 − 2)/ln 128 = 2.07 >= 1; λ = 0.5: l = 1 still >= 1
    // (always branches: U < 1), l = 2 gives P = 0 (never: U < 0 is impossible)
    RolloutConfig config =
        RolloutConfig.builder()
            .globalSize(20)
            .initialSamples(1)
            .entropyWindow(2)
            .toolCallLimit(10)
            .branchRule(BranchRule.STOCHASTIC)
            .branchPenalty(0.5)
            .build();
    List<Piece> script = new ArrayList<>();
    for (int i = 1; i <= 4; i++) {
      script.add(new Piece("<python>" + i + "</python>", 1.0f));
      script.add(new Piece("pq", 20.0f));
    }
    script.add(new Piece("<answer>x</answer>", 1.0f));
    double p0 = 0.5 + 0.2 * (40.0 - 2.0) / LN_V;
    assertTrue(p0 * 0.5 >= 1, "hand check of the scenario");
    for (long seed = 0; seed < 5; seed++) {
      for (PenaltyScope scope : PenaltyScope.values()) {
        ScriptedPolicy policy = new ScriptedPolicy(Map.of("Q#0", script), ANSWER);
        RolloutGroup g =
            new RolloutEngine(
                    policy,
                    new Fixtures.EchoTools(),
                    config.toBuilder().seed(seed).penaltyScope(scope).build())
                .rollout(List.of(prompt("Q")))
                .get(0);
        // one path: both scopes count the same run
        assertEquals(List.of("0+", "1+", "2-", "0+"), decisions(g.trajectory(0)), scope + "");
        assertEquals(0.0, g.trajectory(0).branchPoints().get(2).probability(), 0.0);
      }
    }
  }

  @Test
  void questionScopeCountsRoundsInWhichAnyPathBranchedPathScopeOnlyTheAncestry() {
    // X branches at its first call (round 0); Y does not (ΔH = 0, P = 0.5, not > τ). At Y's second
    // call P before the penalty is 0.5 + 0.2·(6 − 2)/ln 128 = 0.6649: path scope (l = 0) branches,
    // question scope (round 0 gained a path: l = 1, P = 0.4654 with λ = 0.3) does not.
    double p = 0.5 + 0.2 * (6.0 - 2.0) / LN_V;
    assertTrue(p > 0.5 && p * 0.7 < 0.5, "hand check of the scenario");
    Map<String, List<Piece>> scripts =
        Map.of(
            "Q#0",
            script("<python>1</python>", 1.0, "ab", 5.0, "<answer>x</answer>", 1.0),
            "Q#1",
            script(
                "<python>1</python>",
                1.0,
                "cd",
                1.0,
                "<python>2</python>",
                1.0,
                "ef",
                3.0,
                "<answer>y</answer>",
                1.0));
    RolloutConfig config =
        RolloutConfig.builder()
            .globalSize(10)
            .initialSamples(2)
            .entropyWindow(2)
            .branchPenalty(0.3)
            .build();
    RolloutGroup byPath =
        new RolloutEngine(
                new ScriptedPolicy(scripts, ANSWER),
                new Fixtures.EchoTools(),
                config.toBuilder().penaltyScope(PenaltyScope.PATH).build())
            .rollout(List.of(prompt("Q")))
            .get(0);
    assertEquals(List.of("0+"), decisions(byPath.trajectory(0)));
    assertEquals(List.of("0-", "0+"), decisions(byPath.trajectory(1)));
    assertEquals(p, byPath.trajectory(1).branchPoints().get(1).probability(), 1e-12);

    RolloutGroup byQuestion =
        new RolloutEngine(
                new ScriptedPolicy(scripts, ANSWER),
                new Fixtures.EchoTools(),
                config.toBuilder().penaltyScope(PenaltyScope.QUESTION).build())
            .rollout(List.of(prompt("Q")))
            .get(0);
    assertEquals(List.of("0+"), decisions(byQuestion.trajectory(0)));
    assertEquals(List.of("0-", "1-"), decisions(byQuestion.trajectory(1)));
    assertEquals(p * 0.7, byQuestion.trajectory(1).branchPoints().get(1).probability(), 1e-12);
  }

  @Test
  void withoutAPenaltyLIsStillCountedButPIsUndamped() {
    RolloutConfig config =
        RolloutConfig.builder()
            .globalSize(20)
            .initialSamples(1)
            .entropyWindow(2)
            .toolCallLimit(10)
            .build();
    ScriptedPolicy policy = new ScriptedPolicy(Map.of("Q#0", fourCalls()), ANSWER);
    Trajectory t0 =
        new RolloutEngine(policy, new Fixtures.EchoTools(), config)
            .rollout(List.of(prompt("Q")))
            .get(0)
            .trajectory(0);
    assertEquals(List.of("0+", "1+", "2+", "3+"), decisions(t0));
    double p0 = 0.5 + 0.2 * (10.0 - 2.0) / LN_V;
    for (BranchPoint b : t0.branchPoints()) assertEquals(p0, b.probability(), 1e-12);
  }
}
