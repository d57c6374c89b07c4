package io.arpo4j.rollout;

import io.arpo4j.model.Policy;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * ARPO's entropy-based adaptive rollout (ARPO.md §1–§3) over a {@link Policy}.
 *
 * <p>Per prompt: N independent samples; H_initial of each is the mean entropy of its first k
 * tokens. When a path stops at a tool tag ({@code </python>}, ...), its tool is called while the
 * other paths keep decoding; the result is appended (loss mask 0) and the path generates the next k
 * tokens. Then ΔH = (H_t − H_initial) / ln|V| over those k tokens, P = α + β·ΔH, and the rule (P >
 * τ, or a seeded draw U < P) decides whether to fork Z children from right after the result,
 * sharing the parent's prefix and its KV cache. Branches stop when the prompt holds M paths;
 * simultaneous requests are served highest ΔH first; a prompt whose paths all finished short of M
 * is filled with independent samples. Every path that can decode does so in one batched {@link
 * Policy#step} per token, across all prompts.
 *
 * <p>AEPO's pieces (AEPO.md §1–§2), when configured: with {@link RolloutConfig#dynamicSplit()} each
 * prompt first decodes one probe, which never branches; its H_root and H_tool set m, the global
 * samples that replace N ({@link RolloutGroup#budgetSplit()}). With {@link
 * RolloutConfig#branchPenalty()} > 0, P is damped by max(0, 1 − λ·l) after l consecutive
 * branchings.
 *
 * <p>Not thread-safe: one rollout at a time (the policy is single-threaded anyway).
 */
public final class RolloutEngine {
  private final Policy policy;
  private final ToolCaller tools;
  private final RolloutConfig config;
  private final StopMatcher stops;

  /** Numbered across rollouts so that every decode step draws fresh sampling noise. */
  private long nextStep;

  /** Numbered across rollouts so that the stochastic branch draws differ between rollouts. */
  private long rounds;

  public RolloutEngine(Policy policy, ToolCaller tools, RolloutConfig config) {
    if (policy == null) {
      throw new IllegalArgumentException("policy must not be null");
    }
    if (tools == null) {
      throw new IllegalArgumentException("tools must not be null");
    }
    if (config == null) {
      throw new IllegalArgumentException("config must not be null");
    }
    this.policy = policy;
    this.tools = tools;
    this.config = config;
    this.stops = new StopMatcher(policy.codec(), tools.format(), policy.vocabSize());
  }

  public RolloutConfig config() {
    return config;
  }

  /** {@link #rollout(List, Consumer)} without progress reports. */
  public List<RolloutGroup> rollout(List<Prompt> prompts) {
    return rollout(prompts, progress -> {});
  }

  /**
   * Generates one rollout tree per prompt.
   *
   * @param prompts the prompts; group {@code i} of the result belongs to prompt {@code i}
   * @param progress called on the rollout thread after every decode step
   * @return one group of exactly M trajectories per prompt, rewards unset
   */
  public List<RolloutGroup> rollout(List<Prompt> prompts, Consumer<RolloutProgress> progress) {
    if (prompts == null || prompts.stream().anyMatch(Objects::isNull)) {
      throw new IllegalArgumentException("prompts must be a list without nulls");
    }
    if (progress == null) {
      throw new IllegalArgumentException("progress must not be null");
    }
    BranchDecider decider = new BranchDecider(config, policy.vocabSize(), rounds++);
    return new RolloutRun(policy, tools, config, stops, decider, () -> nextStep++, progress)
        .execute(prompts);
  }
}
