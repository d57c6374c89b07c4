package io.arpo4j.rollout;

import static io.arpo4j.rollout.Fixtures.prompt;
import static io.arpo4j.rollout.Fixtures.result;
import static io.arpo4j.rollout.ScriptedPolicy.script;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.rollout.RolloutConfig.BranchRule;
import io.arpo4j.rollout.ScriptedPolicy.Piece;
import io.arpo4j.rollout.Trajectory.Origin;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Branch decisions, budget and fill-up against values computed by hand from ARPO.md §3. */
class RolloutBranchingTest {
  private static final double LN_V = Math.log(ScriptedPolicy.VOCAB);
  private static final List<Piece> ANSWER = script("<answer>C</answer>", 1.0);

  private static double deltaH(double probe, double initial) {
    return (probe - initial) / LN_V;
  }

  /**
   * Window entropy by hand: the probe tokens' entropies, summed and scaled to k = 3, or averaged.
   */
  private static double window(RolloutConfig.EntropyWindowMode mode, double... entropies) {
    double sum = 0;
    for (double e : entropies) sum += e;
    return mode == RolloutConfig.EntropyWindowMode.SUM
        ? sum * 3 / entropies.length
        : sum / entropies.length;
  }

  @Test
  void thresholdBranchesExactlyWhereTheHandComputedPExceedsTauWithTheWindowSum() {
    // sum: H_initial 2.5, probes 9.0 (P = 0.768: branch), 1.5 (P = 0.459) and 9.0 vs 6.0 (P = 0.624
    // < 0.7)
    thresholdScenario(RolloutConfig.EntropyWindowMode.SUM, 0.7);
  }

  @Test
  void thresholdBranchesExactlyWhereTheHandComputedPExceedsTauWithTheWindowMean() {
    thresholdScenario(RolloutConfig.EntropyWindowMode.MEAN, 0.55);
  }

  private void thresholdScenario(RolloutConfig.EntropyWindowMode mode, double tau) {
    RolloutConfig config =
        RolloutConfig.builder()
            .globalSize(4)
            .initialSamples(2)
            .entropyWindow(3)
            .entropyWindowMode(mode)
            .tau(tau)
            .build();
    ScriptedPolicy policy =
        new ScriptedPolicy(
            Map.of(
                "Q#0",
                    script(
                        "<p",
                        0.5,
                        "ython>1</python>",
                        1.5,
                        "abc",
                        3.0,
                        "<search>s</search>",
                        1.0,
                        "def",
                        0.5,
                        "<answer>A</answer>",
                        1.0),
                "Q#1",
                    script(
                        "<python>2</python>", 2.0, "gh", 2.5, "i", 4.0, "<answer>B</answer>", 1.0)),
            ANSWER);
    Fixtures.EchoTools tools = new Fixtures.EchoTools();
    RolloutGroup group =
        new RolloutEngine(policy, tools, config).rollout(List.of(prompt("Q"))).get(0);

    assertEquals(4, group.trajectories().size());
    Trajectory t0 = group.trajectory(0);
    Trajectory t1 = group.trajectory(1);
    Trajectory child = group.trajectory(2);
    Trajectory filler = group.trajectory(3);

    // Q#0: H_initial over "<py"; probe "abc" at 3.0 -> P > tau: branch.
    double h0 = window(mode, 0.5, 0.5, 1.5);
    assertEquals(h0, t0.initialEntropy(), 1e-12);
    String r1 = result("R:1");
    int fork = "<python>1</python>".length() + r1.length();
    double probe1 = window(mode, 3.0, 3.0, 3.0);
    double d1 = deltaH(probe1, h0);
    double p1 = 0.5 + 0.2 * d1;
    assertTrue(p1 > tau, "hand check of the scenario");
    // second call: probe "def" at 0.5 is below H_initial -> P < 0.5: no branch
    int fork2 = fork + "abc<search>s</search>".length() + result("R:s").length();
    double probe2 = window(mode, 0.5, 0.5, 0.5);
    double d2 = deltaH(probe2, h0);
    assertEquals(2, t0.branchPoints().size());
    assertBranchPoint(
        t0.branchPoints().get(0), fork, 3, probe1, d1, 0.5 + 0.2 * d1, true, List.of(2));
    assertBranchPoint(
        t0.branchPoints().get(1), fork2, 3, probe2, d2, 0.5 + 0.2 * d2, false, List.of());

    // Q#1: H_initial over "<py" at 2.0, probe "ghi" (2.5, 2.5, 4) -> P below tau.
    double probe3 = window(mode, 2.5, 2.5, 4.0);
    double d3 = deltaH(probe3, window(mode, 2.0, 2.0, 2.0));
    assertTrue(0.5 + 0.2 * d3 < tau, "hand check of the scenario");
    assertEquals(1, t1.branchPoints().size());
    assertBranchPoint(
        t1.branchPoints().get(0),
        "<python>2</python>".length() + result("R:2").length(),
        3,
        probe3,
        d3,
        0.5 + 0.2 * d3,
        false,
        List.of());

    assertEquals(
        "<python>1</python>"
            + r1
            + "abc<search>s</search>"
            + result("R:s")
            + "def<answer>A</answer>",
        t0.text());
    assertEquals(Origin.BRANCH, child.origin());
    assertEquals(0, child.parentId());
    assertEquals(fork, child.forkOffset());
    assertEquals("<python>1</python>" + r1 + "<answer>C</answer>", child.text());
    assertEquals(t0.initialEntropy(), child.initialEntropy());
    assertEquals(List.of(t0.toolCalls().get(0)), child.toolCalls());
    assertTrue(child.branchPoints().isEmpty());

    // 3 paths finished short of M = 4: one filler, an independent sample from the prompt.
    assertEquals(Origin.FILLER, filler.origin());
    assertEquals(-1, filler.parentId());
    assertEquals("<answer>C</answer>", filler.text());

    for (Trajectory t : group.trajectories()) {
      assertEquals(StopReason.EOS, t.stopReason());
      assertFalse(t.truncated());
      assertEquals(ScriptedPolicy.EOS, t.tokens()[t.length() - 1]);
    }
    assertEquals(
        List.of("1", "2", "s"),
        tools.calls.stream().map(Fixtures.EchoTools.Call::input).sorted().toList());
    assertTrue(policy.live.isEmpty(), "every sequence freed");
  }

  private static void assertBranchPoint(
      BranchPoint bp,
      int offset,
      int probeTokens,
      double probeEntropy,
      double deltaH,
      double p,
      boolean wanted,
      List<Integer> children) {
    assertEquals(offset, bp.offset(), "offset");
    assertEquals(probeTokens, bp.probeTokens(), "probeTokens");
    assertEquals(probeEntropy, bp.probeEntropy(), 1e-12, "probeEntropy");
    assertEquals(deltaH, bp.deltaH(), 1e-12, "deltaH");
    assertEquals(p, bp.probability(), 1e-12, "probability");
    assertEquals(wanted, bp.wanted(), "wanted");
    assertEquals(children, bp.childIds(), "childIds");
  }

  /** Three simultaneous requests; all want to branch (ΔH > 0, P > 0.5); probe entropies vary. */
  private static ScriptedPolicy threeRequests(float e0, float e1, float e2) {
    float[] probe = {e0, e1, e2};
    return new ScriptedPolicy(
        name -> {
          int i = name.startsWith("Q#") && name.length() == 3 ? name.charAt(2) - '0' : -1;
          return i >= 0
              ? script("<python>" + i + "</python>", 1.0, "pq", probe[i], "<answer>a</answer>", 1.0)
              : ANSWER;
        });
  }

  @Test
  void shortBudgetGoesToTheHighestDeltaHFirstNotToTheLowestIndex() {
    RolloutConfig config =
        RolloutConfig.builder().globalSize(4).initialSamples(3).entropyWindow(2).build();
    ScriptedPolicy policy = threeRequests(2.0f, 4.0f, 3.0f);
    RolloutGroup group =
        new RolloutEngine(policy, new Fixtures.EchoTools(), config)
            .rollout(List.of(prompt("Q")))
            .get(0);

    assertEquals(4, group.trajectories().size());
    for (int i = 0; i < 3; i++) {
      assertTrue(group.trajectory(i).branchPoints().get(0).wanted());
    }
    assertEquals(List.of(), group.trajectory(0).branchPoints().get(0).childIds());
    assertEquals(List.of(3), group.trajectory(1).branchPoints().get(0).childIds());
    assertEquals(List.of(), group.trajectory(2).branchPoints().get(0).childIds());
    assertEquals(1, group.trajectory(3).parentId());
    assertEquals(Origin.BRANCH, group.trajectory(3).origin());
    // only the granted child was forked: the requests left without budget fork nothing
    assertEquals(1, policy.forkCalls);
    assertEquals(1, policy.sequence("Q#1").forks);
  }

  @Test
  void budgetIsSplitZAtATimeInDeltaHOrderAndEndsAtExactlyM() {
    RolloutConfig config =
        RolloutConfig.builder()
            .globalSize(6)
            .initialSamples(3)
            .entropyWindow(2)
            .branchesPerPoint(2)
            .build();
    ScriptedPolicy policy = threeRequests(2.0f, 4.0f, 3.0f);
    RolloutGroup group =
        new RolloutEngine(policy, new Fixtures.EchoTools(), config)
            .rollout(List.of(prompt("Q")))
            .get(0);

    assertEquals(6, group.trajectories().size());
    assertEquals(List.of(), group.trajectory(0).branchPoints().get(0).childIds());
    assertEquals(List.of(3, 4), group.trajectory(1).branchPoints().get(0).childIds());
    assertEquals(List.of(5), group.trajectory(2).branchPoints().get(0).childIds());
    for (int c = 3; c < 6; c++) {
      assertEquals(Origin.BRANCH, group.trajectory(c).origin());
    }
    // both children of path 1 were forked from it at the end of its tool result, sharing its KV
    // cells of every position before that but the last, which each of them computed again
    int fork = "<python>1</python>".length() + result("R:1").length();
    assertEquals(fork, group.trajectory(3).forkOffset());
    assertEquals(fork, group.trajectory(4).forkOffset());
    ScriptedPolicy.FakeSequence parent = policy.sequence("Q#1");
    ScriptedPolicy.FakeSequence first = policy.sequence("Q#1.1");
    ScriptedPolicy.FakeSequence second = policy.sequence("Q#1.2");
    assertEquals(2, parent.forks, "one fork per child, none besides");
    int forkLength = parent.promptLength + fork;
    for (int pos = 0; pos < forkLength - 1; pos++) {
      assertSame(parent.kv.get(pos), first.kv.get(pos), "parent's cell " + pos);
      assertSame(parent.kv.get(pos), second.kv.get(pos), "parent's cell " + pos);
    }
    for (ScriptedPolicy.FakeSequence child : List.of(first, second)) {
      assertEquals(
          new ScriptedPolicy.Cell(child.name, forkLength - 1), child.kv.get(forkLength - 1));
    }
    assertTrue(policy.live.isEmpty());
  }

  @Test
  void fillersStartOnlyAfterEveryPathOfThePromptFinished() {
    RolloutConfig config =
        RolloutConfig.builder()
            .globalSize(5)
            .initialSamples(2)
            .entropyWindow(2)
            .alpha(0)
            .build(); // P = 0.2 ΔH < τ
    ScriptedPolicy policy =
        new ScriptedPolicy(
            Map.of(
                "Q#0", script("<python>1</python>", 1.0, "abcdef", 4.0, "<answer>x</answer>", 1.0),
                "Q#1", script("<answer>y</answer>", 1.0)),
            ANSWER);
    RolloutGroup group =
        new RolloutEngine(policy, new Fixtures.EchoTools(), config)
            .rollout(List.of(prompt("Q")))
            .get(0);

    assertEquals(5, group.trajectories().size());
    assertFalse(group.trajectory(0).branchPoints().get(0).wanted());
    long lastInitialStep =
        Math.max(policy.sequence("Q#0").lastStep, policy.sequence("Q#1").lastStep);
    for (int id = 2; id < 5; id++) {
      Trajectory t = group.trajectory(id);
      assertEquals(Origin.FILLER, t.origin());
      assertEquals(-1, t.parentId());
      assertEquals(-1, t.forkOffset());
      assertEquals("<answer>C</answer>", t.text());
      assertTrue(policy.sequence("Q#" + id).createdAtStep > lastInitialStep);
    }
    // a decision that grants no child forks nothing, though budget was free at the tool result
    assertEquals(0, policy.forkCalls);
    assertEquals(0, policy.sequence("Q#0").forks);
    assertTrue(policy.live.isEmpty());
  }

  @Test
  void grpoNeverForksEvenWhenEveryProbeWantsToBranch() {
    RolloutConfig config = RolloutConfig.grpo(4).toBuilder().entropyWindow(2).build();
    assertTrue(config.isGrpo());
    ScriptedPolicy policy =
        new ScriptedPolicy(
            name ->
                script(
                    "<python>1</python>",
                    0.5,
                    "zz",
                    4.5,
                    "<search>q</search>",
                    0.5,
                    "yy",
                    4.5,
                    "<answer>1</answer>",
                    0.5));
    List<RolloutGroup> groups =
        new RolloutEngine(policy, new Fixtures.EchoTools(), config)
            .rollout(List.of(prompt("Q"), prompt("P")));

    for (RolloutGroup group : groups) {
      assertEquals(4, group.trajectories().size());
      for (Trajectory t : group.trajectories()) {
        assertEquals(Origin.INITIAL, t.origin());
        assertEquals(2, t.branchPoints().size());
        for (BranchPoint bp : t.branchPoints()) {
          assertTrue(bp.wanted());
          assertFalse(bp.branched());
        }
      }
    }
    assertEquals(0, policy.forkCalls);
  }

  @Test
  void everyPathOfEveryPromptDecodesInOneStepCall() {
    RolloutConfig config = RolloutConfig.builder().globalSize(3).initialSamples(3).build();
    ScriptedPolicy policy =
        new ScriptedPolicy(name -> script("<answer>" + name + "</answer>", 1.0));
    RolloutEngine engine = new RolloutEngine(policy, new Fixtures.EchoTools(), config);
    List<RolloutProgress> reports = new ArrayList<>();
    engine.rollout(List.of(prompt("A"), prompt("B")), reports::add);
    int length = "<answer>A#0</answer>".length() + 1; // + EOS
    assertEquals(java.util.Collections.nCopies(length, 6), policy.batchSizes);
    assertEquals(length, reports.size(), "one progress report per step");
    assertEquals(
        new RolloutProgress(length, 6, 0, 6, 6, 6L * length, 0, 0), reports.get(length - 1));
    assertEquals(0, reports.get(length - 2).finishedTrajectories());

    // a second rollout continues the step numbering, so its sampling noise is fresh
    engine.rollout(List.of(prompt("C")));
    for (int i = 1; i < policy.stepNumbers.size(); i++) {
      assertEquals(policy.stepNumbers.get(i - 1) + 1, policy.stepNumbers.get(i));
    }
  }

  /** Branching outcome of a random scenario: who forked from whom where, and the tokens. */
  private static List<String> shape(List<RolloutGroup> groups) {
    List<String> shape = new ArrayList<>();
    for (RolloutGroup group : groups) {
      for (Trajectory t : group.trajectories()) {
        shape.add(
            t.name()
                + "<"
                + t.parentId()
                + "@"
                + t.forkOffset()
                + ":"
                + t.text()
                + t.branchPoints());
      }
    }
    return shape;
  }

  private static List<RolloutGroup> stochasticRun(long seed) {
    RolloutConfig config =
        RolloutConfig.builder()
            .globalSize(10)
            .initialSamples(3)
            .entropyWindow(3)
            .branchRule(BranchRule.STOCHASTIC)
            .beta(2.0)
            .seed(seed)
            .build();
    ScriptedPolicy policy = new ScriptedPolicy(name -> Fixtures.randomScript(name, 7));
    return new RolloutEngine(policy, new Fixtures.EchoTools(), config)
        .rollout(List.of(prompt("A"), prompt("B"), prompt("C")));
  }

  @Test
  void stochasticRuleReproducesWithItsSeedAndDependsOnIt() {
    assertEquals(shape(stochasticRun(11)), shape(stochasticRun(11)));
    Set<List<String>> outcomes = new HashSet<>();
    for (long seed = 0; seed < 6; seed++) {
      outcomes.add(shape(stochasticRun(seed)));
    }
    assertTrue(outcomes.size() > 1, "the seed changes the draws");
  }

  @Test
  void stochasticRuleClampsP() {
    // α = 2: P > 1 everywhere, so every draw branches; α = -1: P < 0, so none does.
    for (double alpha : new double[] {2.0, -1.0}) {
      RolloutConfig config =
          RolloutConfig.builder()
              .globalSize(40)
              .initialSamples(3)
              .entropyWindow(3)
              .branchRule(BranchRule.STOCHASTIC)
              .alpha(alpha)
              .build();
      ScriptedPolicy policy = new ScriptedPolicy(name -> Fixtures.randomScript(name, 3));
      RolloutGroup group =
          new RolloutEngine(policy, new Fixtures.EchoTools(), config)
              .rollout(List.of(prompt("A")))
              .get(0);
      int points = 0;
      for (Trajectory t : group.trajectories()) {
        for (BranchPoint bp : t.branchPoints()) {
          points++;
          assertEquals(alpha > 0, bp.wanted(), "P = " + bp.probability());
        }
      }
      assertTrue(points > 0, "scenario has branch points");
    }
  }

  @Test
  void initialEntropyOfAShortFirstSegmentIsItsSumScaledToK() {
    RolloutConfig config =
        RolloutConfig.builder().globalSize(1).initialSamples(1).build(); // k = 20
    ScriptedPolicy policy =
        new ScriptedPolicy(
            name ->
                script("<python>", 1.0, "12</python>", 2.0, "xy", 3.0, "<answer>1</answer>", 1.0));
    Trajectory t =
        new RolloutEngine(policy, new Fixtures.EchoTools(), config)
            .rollout(List.of(prompt("Q")))
            .get(0)
            .trajectory(0);
    assertEquals((8 * 1.0 + 11 * 2.0) * 20 / 19, t.initialEntropy(), 1e-12);
    // and the probe after the result covers k = 20 tokens of the parent
    BranchPoint bp = t.branchPoints().get(0);
    assertEquals(20, bp.probeTokens());
    assertEquals(Fixtures.mean(t.entropies(), bp.offset(), 20) * 20, bp.probeEntropy(), 1e-9);
    assertArrayEquals(
        ScriptedPolicy.CODEC.encode("xy<answer>1</answer>"),
        java.util.Arrays.copyOfRange(t.tokens(), bp.offset(), bp.offset() + 20));
    assertNotEquals(0, t.toolCalls().size());
  }
}
