package io.arpo4j.rollout;

/**
 * A snapshot after each decode step, for progress bars and logs.
 *
 * @param step decode steps taken in this rollout
 * @param batchSize paths decoded by the step just taken
 * @param pendingToolCalls tool calls in flight
 * @param finishedTrajectories trajectories finished so far
 * @param totalTrajectories prompts × M, the number there will be
 * @param generatedTokens tokens sampled so far
 * @param resultTokens tool-result tokens appended to paths so far (each runs through the model
 *     once, in the decode step after its result arrived)
 * @param toolWaitNanos time the rollout sat idle so far because every live path was waiting for a
 *     tool result (tool time overlapped by decoding is not counted); a wait after the last decode
 *     step, for a result that ends its path at the length limit, is in no report
 */
public record RolloutProgress(
    long step,
    int batchSize,
    int pendingToolCalls,
    int finishedTrajectories,
    int totalTrajectories,
    long generatedTokens,
    long resultTokens,
    long toolWaitNanos) {}
