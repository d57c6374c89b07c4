package io.arpo4j.trainer.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.model.TextCodec;
import io.arpo4j.rollout.Prompt;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.StopReason;
import io.arpo4j.rollout.Trajectory;
import io.arpo4j.rollout.Trajectory.Origin;
import io.arpo4j.testing.CharCodec;
import java.util.List;
import org.junit.jupiter.api.Test;

class RolloutTreesTest {
  /** One token per character, as the demo's character-level tokenizer. */
  private static final TextCodec CHARS = CharCodec.INSTANCE;

  private static Trajectory path(
      int id,
      int parent,
      int fork,
      Origin origin,
      String text,
      List<io.arpo4j.rollout.BranchPoint> points,
      Double reward) {
    int n = text.length();
    return new Trajectory(
        0,
        id,
        parent,
        fork,
        origin,
        CHARS.encode(text),
        new int[n],
        new float[n],
        new float[n],
        text,
        0.4,
        List.of(),
        points,
        StopReason.EOS,
        reward);
  }

  private static io.arpo4j.rollout.BranchPoint point(
      int offset, double deltaH, boolean wanted, List<Integer> children) {
    return new io.arpo4j.rollout.BranchPoint(
        offset, 20, 1.0, deltaH, 0.5 + 0.2 * deltaH, wanted, children, 0);
  }

  @Test
  void tokenOffsetsBecomeCharOffsetsIntoEachNodesOwnText() {
    String first =
        "<think> a </think>\n<search> q </search> <result>\nPage 1: Q\nQ is R.\n</result>";
    String second = "\n<search> r </search> <result>\nR is S.\n</result>";
    String answerR = "\n<answer> \\boxed{R} </answer>";
    String answerS = "\n<answer> \\boxed{S} </answer>";
    int a = first.length();
    int b = a + second.length();
    String t3 =
        "<think> guess </think>\n<python> print(1) </python> <result>\n1\n</result>" + answerR;
    int c = t3.indexOf(answerR);
    RolloutGroup group =
        new RolloutGroup(
            0,
            new Prompt(CHARS.encode("Q?"), "Question: Q?\nAnswer:\n", List.of("S")),
            List.of(
                path(
                    0,
                    -1,
                    -1,
                    Origin.INITIAL,
                    first + answerR,
                    List.of(point(a, 0.25, true, List.of(1))),
                    0.0),
                path(
                    1,
                    0,
                    a,
                    Origin.BRANCH,
                    first + second + answerS,
                    List.of(point(b, 0.5, true, List.of(2))),
                    1.0),
                path(2, 1, b, Origin.BRANCH, first + second + " oops" + answerS, List.of(), null),
                path(3, -1, -1, Origin.FILLER, t3, List.of(point(c, 0.1, true, List.of())), -1.0)));

    RolloutTree tree = RolloutTrees.of(group, CHARS, "step 1");
    assertEquals("Question: Q?\nAnswer:\n", tree.prompt());
    List<TreeNode> nodes = tree.nodes();
    assertEquals(List.of("t0", "t1", "t2", "t3"), nodes.stream().map(TreeNode::id).toList());

    TreeNode t0 = nodes.get(0);
    assertNull(t0.parentId());
    assertEquals(first + answerR, t0.text());
    assertEquals(List.of(new BranchPoint(a, 0.25, 0.55, true, "forked t1")), t0.branchPoints());

    TreeNode t1 = nodes.get(1);
    assertEquals("t0", t1.parentId());
    assertEquals(a, t1.forkOffset());
    assertEquals(second + answerS, t1.text());
    assertEquals(second.length(), t1.branchPoints().get(0).offset(), "offset into t1's own text");
    assertEquals(1.0, t1.reward());

    TreeNode t2 = nodes.get(2);
    assertEquals("t1", t2.parentId());
    assertEquals(second.length(), t2.forkOffset(), "fork offset into t1's own text");
    assertEquals(" oops" + answerS, t2.text());
    assertTrue(Double.isNaN(t2.reward()), "unscored");

    TreeNode t3node = nodes.get(3);
    assertEquals(new BranchPoint(c, 0.1, 0.52, false, "budget full"), t3node.branchPoints().get(0));
    assertEquals(-1.0, t3node.reward());
  }

  /** AEPO's dynamic split: the probe and the global samples are named, the split is captioned. */
  @Test
  void theProbeAndTheGlobalSamplesAreMarkedAndTheSplitCaptioned() {
    String call = "<python> 1 </python> <result>\n1\n</result>";
    RolloutGroup group =
        new RolloutGroup(
            0,
            new Prompt(CHARS.encode("Q?"), "Q?", List.of("1")),
            List.of(
                path(0, -1, -1, Origin.PROBE, call + " a", List.of(), 1.0),
                path(1, -1, -1, Origin.INITIAL, call + " b", List.of(), 0.0),
                path(2, 1, call.length(), Origin.BRANCH, call + " c", List.of(), 0.0),
                path(3, -1, -1, Origin.FILLER, "d", List.of(), 0.0)),
            new io.arpo4j.rollout.BudgetSplit(3.0, 5.0, -0.25, 2, null));
    RolloutTree tree = RolloutTrees.of(group, CHARS, "prompt 0");
    assertEquals(
        "prompt 0 \u00b7 AEPO split: m = 2 global, 2 for branches, (H_root \u2212 H_tool)/ln|V| ="
            + " -0.2500",
        tree.title());
    List<String> roles = tree.nodes().stream().map(TreeNode::role).toList();
    assertEquals(
        java.util.Arrays.asList(
            "AEPO probe, kept as global sample 1", "global sample", null, "filler"),
        roles);
    String html = TreeView.render(tree, 1);
    assertTrue(
        html.contains("<b>AEPO probe, kept as global sample 1</b>, sampled from the prompt"));
    assertTrue(html.contains("<b>global sample</b>, sampled from the prompt"));
  }
}
