package io.arpo4j.rollout;

/**
 * AEPO's dynamic split of one prompt's budget (AEPO.md §1), measured on its probe trajectory.
 *
 * @param rootEntropy H_root: the window entropy of the probe's first k tokens (as {@link
 *     Trajectory#initialEntropy})
 * @param toolEntropy H_tool: the mean window entropy over the probe's segments (the first, and the
 *     one after each tool result); H_root when it called no tool
 * @param gap (H_root − H_tool)/ln|V|, what enters the sigmoid
 * @param globalSamples m, the global samples (the probe included when reused); M − m is the branch
 *     budget
 * @param discardedProbe the probe when it was thrown away ({@code aepo.reuse_probe: false}): not
 *     part of the group, but its tokens and tool calls were paid for; null when reused (it is then
 *     trajectory 0)
 */
public record BudgetSplit(
    double rootEntropy,
    double toolEntropy,
    double gap,
    int globalSamples,
    Trajectory discardedProbe) {
  public BudgetSplit {
    if (globalSamples < 1) {
      throw new IllegalArgumentException("globalSamples (m) must be >= 1, got " + globalSamples);
    }
  }
}
