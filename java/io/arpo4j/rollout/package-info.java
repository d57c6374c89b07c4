/**
 * ARPO's entropy-based adaptive rollout (ARPO.md §1–§3): rollout trees, their trajectories and
 * their JSONL records.
 *
 * <p>Use: {@code new RolloutEngine(policy, toolCaller, RolloutConfig.defaults())}, then {@link
 * io.arpo4j.rollout.RolloutEngine#rollout(java.util.List, java.util.function.Consumer)
 * rollout(prompts, progress)} returns one {@link io.arpo4j.rollout.RolloutGroup} of exactly M
 * {@link io.arpo4j.rollout.Trajectory trajectories} per prompt; score them with {@link
 * io.arpo4j.rollout.RolloutGroup#withRewards}, record them with {@link
 * io.arpo4j.rollout.RolloutRecorder}. {@link io.arpo4j.rollout.RolloutConfig#grpo(int)} gives plain
 * GRPO with the same engine.
 *
 * <p>Where this differs from the reference implementation (and why):
 *
 * <ul>
 *   <li>The branch decision at a tool result uses the k tokens generated <em>after</em> that result
 *       (the reference uses the segment before it: one tool call late), and H_initial is per
 *       trajectory, fixed once, inherited by branches.
 *   <li>Children fork right after the tool result, before the parent's k probe tokens: the probe
 *       tokens are the parent's only, children resample from the fork point.
 *   <li>When budget is short, simultaneous requests are served highest ΔH first (not by index).
 *   <li>At the tool-call limit the path stops at the tag, marked {@link
 *       io.arpo4j.rollout.StopReason#TOOL_LIMIT}; no EOS is fabricated.
 *   <li>The stochastic rule's draws hash (seed, rollout, prompt, trajectory, call) rather than
 *       consuming one generator, so they do not depend on the order tool calls finish in.
 * </ul>
 *
 * <p>KV sharing: children are forked only once the decision grants them, after the probe tokens
 * were decoded, with {@link io.arpo4j.model.Policy#fork(io.arpo4j.model.Sequence, int)} at the
 * parent's length right after the tool result. By then the parent's batched steps have cached the
 * result, so a child shares every position before the fork point but the last, which its first
 * (batched) step computes again to sample what follows the result; a decision that grants nothing
 * forks nothing. Fillers and initial samples each prefill the prompt (no prefill-only step in the
 * API).
 *
 * <p>Record format (one JSON object per line, one line per prompt): {@code promptIndex}, {@code
 * prompt {tokens, text, references}}, {@code trajectories [...]}, each with {@code id, parentId,
 * forkOffset, origin, tokens, lossMask, logprobs, entropies, text, initialEntropy, toolCalls [{tag,
 * input, output, ok, latencyMs, offset, resultTokens}], branchPoints [{offset, probeTokens,
 * probeEntropy, deltaH, probability, wanted, childIds}], stopReason, reward}.
 */
package io.arpo4j.rollout;
