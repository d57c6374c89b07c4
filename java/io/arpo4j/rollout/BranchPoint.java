package io.arpo4j.rollout;

import java.util.List;

/**
 * A branch decision, taken once the k tokens after a tool result (the probe) were generated. It is
 * recorded on the trajectory that generated the probe; children fork at {@link #offset}.
 *
 * @param offset response token index right after the tool result: where children fork
 * @param probeTokens tokens the decision measured (k, or fewer when the path stopped sooner)
 * @param probeEntropy H_t, the window entropy of the probe tokens ({@link
 *     RolloutConfig#windowEntropy})
 * @param deltaH ΔH = (H_t − H_initial) / ln|V|
 * @param probability P = (α + β·ΔH)·max(0, 1 − λ·l), the consecutive-branch penalty's factor being
 *     1 when λ = 0
 * @param wanted whether the branch rule said to branch (budget aside)
 * @param childIds ids of the children forked here; empty when none (rule said no, or no budget)
 * @param consecutiveBranches l, the consecutive branchings before this decision in the rollout's
 *     penalty scope (counted whether or not the penalty is on)
 */
public record BranchPoint(
    int offset,
    int probeTokens,
    double probeEntropy,
    double deltaH,
    double probability,
    boolean wanted,
    List<Integer> childIds,
    int consecutiveBranches) {
  public BranchPoint {
    childIds = List.copyOf(childIds);
  }

  public boolean branched() {
    return !childIds.isEmpty();
  }
}
