package io.arpo4j.trainer.report;

/**
 * Where the adaptive rollout measured the entropy change after a tool result and decided whether to
 * branch (ARPO.md §3).
 *
 * @param offset char offset in the node's {@link TreeNode#text()} (just after the tool result)
 * @param deltaEntropy ΔH: normalised entropy change of the k probe tokens, in [-1, 1]
 * @param probability P = α + β·ΔH
 * @param branched whether paths were forked here
 * @param note why, in a few words ("P > τ", "budget full", "U = 0.31 < P"); may be empty
 */
public record BranchPoint(
    int offset, double deltaEntropy, double probability, boolean branched, String note) {
  public BranchPoint {
    if (offset < 0) {
      throw new IllegalArgumentException("offset must be >= 0, got " + offset);
    }
    note = note == null ? "" : note;
  }
}
