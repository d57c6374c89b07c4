package io.arpo4j.rollout;

import static io.arpo4j.rollout.Fixtures.markerAt;
import static io.arpo4j.rollout.Fixtures.prompt;
import static io.arpo4j.rollout.Fixtures.text;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.rollout.ScriptedPolicy.FakeSequence;
import io.arpo4j.rollout.Trajectory.Origin;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Tree invariants on random scenarios (seeded scripts and entropies): children share their parent's
 * prefix tokens and KV cells, fork right after a tool result, and never see the parent's probe
 * tokens; every decision matches the formulas; the budget ends at exactly M.
 */
class RolloutTreeInvariantsTest {

  @Test
  void randomTreesKeepTheirInvariants() {
    int branches = 0;
    for (long seed = 1; seed <= 8; seed++) {
      RolloutConfig config =
          RolloutConfig.builder()
              .globalSize(12)
              .initialSamples(4)
              .entropyWindow(4)
              .branchesPerPoint(1 + (int) (seed % 2))
              .beta(1.0)
              .seed(seed)
              .build();
      long scriptSeed = seed;
      ScriptedPolicy policy = new ScriptedPolicy(name -> Fixtures.randomScript(name, scriptSeed));
      List<RolloutGroup> groups =
          new RolloutEngine(policy, new Fixtures.EchoTools(), config)
              .rollout(List.of(prompt("A"), prompt("B")));
      for (RolloutGroup group : groups) {
        branches += check(config, policy, group);
      }
      assertTrue(policy.live.isEmpty(), "every sequence freed");
    }
    assertTrue(branches > 10, "the scenarios branch (" + branches + " branches)");
  }

  /** Checks one tree; returns how many branches it holds. */
  private static int check(RolloutConfig config, ScriptedPolicy policy, RolloutGroup group) {
    assertEquals(config.globalSize(), group.trajectories().size(), "budget M exactly");
    double lnV = Math.log(ScriptedPolicy.VOCAB);
    int branches = 0;
    for (Trajectory t : group.trajectories()) {
      FakeSequence own = policy.sequence(sequenceName(t));
      // the response is exactly what the fake sequence holds after the prompt
      int[] held = own.tokens();
      assertArrayEquals(Arrays.copyOfRange(held, own.promptLength, held.length), t.tokens());

      for (ToolCall call : t.toolCalls()) {
        assertEquals(
            Fixtures.result(call.output()),
            text(t.tokens(), call.offset(), call.offset() + call.resultTokens()));
        for (int i = call.offset(); i < call.offset() + call.resultTokens(); i++) {
          assertEquals(0, t.lossMask()[i]);
          assertEquals(0f, t.logprobs()[i]);
        }
      }
      for (int i = 0; i < t.length(); i++) {
        if (t.lossMask()[i] == 1) {
          assertEquals(ScriptedPolicy.logprobOf(t.entropies()[i]), t.logprobs()[i]);
        }
      }

      for (BranchPoint bp : t.branchPoints()) {
        // the probe: the parent's own tokens right after a tool result
        assertTrue(text(t.tokens(), 0, bp.offset()).endsWith("\n</result>"));
        assertTrue(bp.offset() > t.forkOffset());
        assertTrue(
            bp.probeTokens() == config.entropyWindow()
                || bp.offset() + bp.probeTokens() == t.length()
                || text(t.tokens(), 0, bp.offset() + bp.probeTokens()).endsWith("</python>")
                || text(t.tokens(), 0, bp.offset() + bp.probeTokens()).endsWith("</search>"));
        // the window sum, scaled to k when the probe was cut short
        assertEquals(
            Fixtures.mean(t.entropies(), bp.offset(), bp.probeTokens()) * config.entropyWindow(),
            bp.probeEntropy(),
            1e-9);
        double deltaH = (bp.probeEntropy() - t.initialEntropy()) / lnV;
        assertEquals(deltaH, bp.deltaH(), 1e-12);
        assertEquals(config.alpha() + config.beta() * deltaH, bp.probability(), 1e-12);
        assertEquals(bp.probability() > config.tau(), bp.wanted());
        assertTrue(bp.wanted() || bp.childIds().isEmpty());
        assertTrue(bp.childIds().size() <= config.branchesPerPoint());
        for (int childId : bp.childIds()) {
          Trajectory child = group.trajectory(childId);
          assertEquals(t.id(), child.parentId());
          assertEquals(bp.offset(), child.forkOffset());
        }
      }

      if (t.origin() != Origin.BRANCH) {
        assertEquals(
            t.initialEntropy(),
            config.entropyWindow()
                * Fixtures.mean(
                    t.entropies(), 0, Math.min(config.entropyWindow(), firstSegmentLength(t))),
            1e-9);
        continue;
      }
      branches++;
      Trajectory parent = group.trajectory(t.parentId());
      int fork = t.forkOffset();
      assertTrue(
          parent.branchPoints().stream()
              .anyMatch(bp -> bp.offset() == fork && bp.childIds().contains(t.id())));
      // the shared prefix: same tokens, mask, logprobs and entropies as the parent
      assertArrayEquals(Arrays.copyOf(parent.tokens(), fork), Arrays.copyOf(t.tokens(), fork));
      assertArrayEquals(Arrays.copyOf(parent.lossMask(), fork), Arrays.copyOf(t.lossMask(), fork));
      assertArrayEquals(Arrays.copyOf(parent.logprobs(), fork), Arrays.copyOf(t.logprobs(), fork));
      assertArrayEquals(
          Arrays.copyOf(parent.entropies(), fork), Arrays.copyOf(t.entropies(), fork));
      assertEquals(parent.initialEntropy(), t.initialEntropy());
      assertEquals(fork, group.sharedPrefixLength(t.id(), parent.id()));
      // after the fork the child plays its own script (its marker), never the parent's probe
      String childName = markerAt(t.text(), text(t.tokens(), 0, fork).length());
      assertNotNull(childName, "child starts with its own first token");
      assertNull(markerAt(parent.text(), text(parent.tokens(), 0, fork).length()));

      // KV: the child is forked once the parent's probe steps have computed the tool result, so
      // it holds the parent's cells (same objects) for every position before the fork point but
      // the last, which its first step computes again to sample what follows the result. From
      // there on it computes each position once, up to its last token (sampled, never computed).
      FakeSequence parentSeq = policy.sequence(sequenceName(parent));
      FakeSequence childSeq = policy.sequence(childName);
      int forkLength = childSeq.promptLength + fork;
      for (int pos = 0; pos < forkLength - 1; pos++) {
        assertSame(parentSeq.kv.get(pos), childSeq.kv.get(pos));
      }
      assertEquals(
          new ScriptedPolicy.Cell(parentSeq.name, forkLength - 1),
          parentSeq.kv.get(forkLength - 1));
      assertEquals(
          new ScriptedPolicy.Cell(childSeq.name, forkLength - 1), childSeq.kv.get(forkLength - 1));
      assertEquals(childSeq.promptLength + t.length() - 1, childSeq.kv.size());
      assertEquals(t.length() - fork, childSeq.prefilled);
    }
    return branches;
  }

  /** The fake sequence that wrote a trajectory: the marker its own tokens start with. */
  private static String sequenceName(Trajectory t) {
    int from = t.forkOffset() < 0 ? 0 : text(t.tokens(), 0, t.forkOffset()).length();
    return markerAt(t.text(), from);
  }

  private static int firstSegmentLength(Trajectory t) {
    return t.toolCalls().isEmpty() ? t.length() : t.toolCalls().get(0).offset();
  }
}
