package io.arpo4j.rollout;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One finished path of a rollout tree, as the trainer consumes it.
 *
 * <p>Every trajectory is a full row: a child's arrays start with a copy of its parent's first
 * {@link #forkOffset} tokens, mask, log-probabilities and entropies (they are the same tokens,
 * sampled once by the parent), so the "soft" advantage can treat each row on its own. The tool
 * calls made inside that shared prefix are copied too (the response text contains them); branch
 * points are not: each decision is recorded once, on the trajectory that took it.
 *
 * <p>The arrays are handed out as they are, not copied (they are large and the trainer reads them
 * once): treat them as read-only.
 *
 * @param promptIndex index of the prompt in the rollout's input
 * @param id index of this trajectory in its group, in creation order (a child's id exceeds its
 *     parent's)
 * @param parentId the trajectory it branched off, or -1
 * @param forkOffset response token index where it branched off (right after a tool result), or -1;
 *     tokens before it are shared with the parent
 * @param origin initial sample, probe, branch or filler
 * @param tokens response token ids (the prompt excluded), tool results included
 * @param lossMask 1 for tokens the policy generated, 0 for tool-result tokens
 * @param logprobs log-probability of each generated token under the sampling policy; 0 where the
 *     mask is 0
 * @param entropies full-vocabulary entropy at each generated token; 0 where the mask is 0
 * @param text the decoded response
 * @param initialEntropy H_initial: window entropy of the first k tokens of the first segment
 *     (inherited by branches)
 * @param toolCalls the calls in this response, in order
 * @param branchPoints the branch decisions this trajectory took, in order
 * @param stopReason why it ended
 * @param reward its reward, or null until the trainer scores it
 */
public record Trajectory(
    int promptIndex,
    int id,
    int parentId,
    int forkOffset,
    Origin origin,
    int[] tokens,
    int[] lossMask,
    float[] logprobs,
    float[] entropies,
    String text,
    double initialEntropy,
    List<ToolCall> toolCalls,
    List<BranchPoint> branchPoints,
    StopReason stopReason,
    Double reward) {

  /** How a trajectory came to be. */
  public enum Origin {
    /** One of the N independent samples started from the prompt. */
    INITIAL,
    /**
     * AEPO's pre-monitoring sample (dynamic split): an independent sample from the prompt, taken
     * before the others to measure H_root and H_tool; kept as the first global sample, or thrown
     * away ({@link BudgetSplit#discardedProbe}). It never branches.
     */
    PROBE,
    /** Forked from a parent at a branch point. */
    BRANCH,
    /** An independent sample started to fill the group up to M. */
    FILLER
  }

  public Trajectory {
    int n = tokens.length;
    if (lossMask.length != n || logprobs.length != n || entropies.length != n) {
      throw new IllegalArgumentException(
          "tokens, lossMask, logprobs and entropies must have one entry per token (" + n + ")");
    }
    if ((parentId < 0) != (forkOffset < 0) || forkOffset > n) {
      throw new IllegalArgumentException(
          "parentId " + parentId + " and forkOffset " + forkOffset + " disagree");
    }
    if ((origin == Origin.BRANCH) != (parentId >= 0)) {
      throw new IllegalArgumentException("origin " + origin + " but parentId " + parentId);
    }
    toolCalls = List.copyOf(toolCalls);
    branchPoints = List.copyOf(branchPoints);
  }

  /** Response length in tokens, tool results included. */
  public int length() {
    return tokens.length;
  }

  /** True when a limit ended it (tool calls or length) rather than EOS. */
  public boolean truncated() {
    return stopReason != StopReason.EOS;
  }

  /** The name tools see in {@link io.arpo4j.tools.ToolContext}: {@code p<prompt>-t<id>}. */
  public String name() {
    return name(promptIndex, id);
  }

  static String name(int promptIndex, int id) {
    return "p" + promptIndex + "-t" + id;
  }

  public Trajectory withReward(double value) {
    return new Trajectory(
        promptIndex,
        id,
        parentId,
        forkOffset,
        origin,
        tokens,
        lossMask,
        logprobs,
        entropies,
        text,
        initialEntropy,
        toolCalls,
        branchPoints,
        stopReason,
        value);
  }

  /** Value equality (a record compares arrays by reference). */
  @Override
  public boolean equals(Object o) {
    return o instanceof Trajectory t
        && promptIndex == t.promptIndex
        && id == t.id
        && parentId == t.parentId
        && forkOffset == t.forkOffset
        && origin == t.origin
        && Arrays.equals(tokens, t.tokens)
        && Arrays.equals(lossMask, t.lossMask)
        && Arrays.equals(logprobs, t.logprobs)
        && Arrays.equals(entropies, t.entropies)
        && text.equals(t.text)
        && Double.compare(initialEntropy, t.initialEntropy) == 0
        && toolCalls.equals(t.toolCalls)
        && branchPoints.equals(t.branchPoints)
        && stopReason == t.stopReason
        && Objects.equals(reward, t.reward);
  }

  @Override
  public int hashCode() {
    return Objects.hash(promptIndex, id, Arrays.hashCode(tokens), text, reward);
  }

  @Override
  public String toString() {
    return "Trajectory["
        + name()
        + " parent="
        + parentId
        + "@"
        + forkOffset
        + " "
        + origin
        + ", "
        + tokens.length
        + " tokens, "
        + toolCalls.size()
        + " tool calls, "
        + branchPoints.size()
        + " branch points, "
        + stopReason
        + ", reward="
        + reward
        + "]";
  }
}
