package io.arpo4j.trainer.report;

import io.arpo4j.model.TextCodec;
import io.arpo4j.rollout.BudgetSplit;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.Trajectory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Turns a recorded rollout ({@link RolloutGroup}, token offsets over whole responses) into the
 * report's {@link RolloutTree} (char offsets, each trajectory holding only what it added after its
 * fork).
 */
public final class RolloutTrees {
  private RolloutTrees() {}

  /**
   * The tree of {@code group}; {@code codec} decodes token prefixes to find char offsets.
   *
   * @param title the tree's caption in the report
   */
  public static RolloutTree of(RolloutGroup group, TextCodec codec, String title) {
    Objects.requireNonNull(group, "group");
    Objects.requireNonNull(codec, "codec");
    List<Trajectory> paths = group.trajectories();
    // char offset in each full response where the trajectory's own text starts
    int[] ownStart = new int[paths.size()];
    List<TreeNode> nodes = new ArrayList<>();
    for (Trajectory t : paths) {
      int start = t.parentId() < 0 ? 0 : charsBefore(t, t.forkOffset(), codec);
      ownStart[t.id()] = start;
      String text = t.text().substring(start);
      List<BranchPoint> points = new ArrayList<>();
      for (io.arpo4j.rollout.BranchPoint p : t.branchPoints()) {
        int at = Math.min(text.length(), Math.max(0, charsBefore(t, p.offset(), codec) - start));
        points.add(new BranchPoint(at, p.deltaH(), p.probability(), p.branched(), note(p)));
      }
      String parent = t.parentId() < 0 ? null : id(t.parentId());
      int fork = t.parentId() < 0 ? 0 : Math.max(0, start - ownStart[t.parentId()]);
      nodes.add(
          new TreeNode(
              id(t.id()),
              parent,
              fork,
              text,
              points,
              t.reward() == null ? Double.NaN : t.reward(),
              role(t, group.budgetSplit())));
    }
    BudgetSplit split = group.budgetSplit();
    String caption =
        split == null
            ? title
            : String.format(
                Locale.ROOT,
                "%s \u00b7 AEPO split: m = %d global, %d for branches, (H_root \u2212"
                    + " H_tool)/ln|V| = %.4f%s",
                title,
                split.globalSamples(),
                group.trajectories().size() - split.globalSamples(),
                split.gap(),
                split.discardedProbe() == null ? "" : ", probe discarded");
    return new RolloutTree(caption, group.prompt().text(), nodes);
  }

  /** How a sample from the prompt came to be; null for a branch (its fork says it). */
  private static String role(Trajectory t, BudgetSplit split) {
    return switch (t.origin()) {
      case PROBE -> "AEPO probe, kept as global sample 1";
      case INITIAL -> split == null ? "initial sample" : "global sample";
      case FILLER -> "filler";
      case BRANCH -> null;
    };
  }

  private static String id(int trajectory) {
    return "t" + trajectory;
  }

  private static String note(io.arpo4j.rollout.BranchPoint p) {
    if (p.branched()) {
      StringBuilder s = new StringBuilder("forked");
      p.childIds().forEach(child -> s.append(' ').append(id(child)));
      return s.toString();
    }
    return p.wanted() ? "budget full" : "";
  }

  /** Length in chars of the decoded first {@code tokens} tokens, within the response text. */
  private static int charsBefore(Trajectory t, int tokens, TextCodec codec) {
    int decoded = codec.decode(Arrays.copyOf(t.tokens(), tokens)).length();
    return Math.min(decoded, t.text().length());
  }
}
