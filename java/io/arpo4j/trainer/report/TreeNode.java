package io.arpo4j.trainer.report;

import java.util.List;
import java.util.Objects;

/**
 * One trajectory of a rollout tree, as the report shows it.
 *
 * @param id unique within its tree ("t0", "t3")
 * @param parentId the trajectory this one forked from, or null for a sample from the prompt
 * @param forkOffset where it forked: a char offset in the parent's {@link #text()} (0 for roots)
 * @param text what this trajectory added after the fork (for a root: its whole response), tool
 *     results included
 * @param branchPoints the entropy checks along {@link #text()}, by increasing offset
 * @param reward the trajectory's reward (NaN if unknown)
 * @param role how a sample from the prompt came to be ("AEPO probe", "global sample", "filler"), or
 *     null when not recorded
 */
public record TreeNode(
    String id,
    String parentId,
    int forkOffset,
    String text,
    List<BranchPoint> branchPoints,
    double reward,
    String role) {

  /** A node whose role is not recorded. */
  public TreeNode(
      String id,
      String parentId,
      int forkOffset,
      String text,
      List<BranchPoint> branchPoints,
      double reward) {
    this(id, parentId, forkOffset, text, branchPoints, reward, null);
  }

  public TreeNode {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(text, "text");
    branchPoints = List.copyOf(branchPoints);
    if (forkOffset < 0) {
      throw new IllegalArgumentException(
          "forkOffset of " + id + " must be >= 0, got " + forkOffset);
    }
    for (BranchPoint point : branchPoints) {
      if (point.offset() > text.length()) {
        throw new IllegalArgumentException(
            "branchPoints of "
                + id
                + ": offset "
                + point.offset()
                + " is past the end of its text ("
                + text.length()
                + " chars)");
      }
    }
  }
}
