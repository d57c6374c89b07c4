package io.arpo4j.rollout;

import io.arpo4j.config.Defaults;
import io.arpo4j.config.Registry;
import io.arpo4j.model.SamplingParams;

/**
 * Every knob of the entropy-based adaptive rollout (ARPO.md §1–§3). Build one with {@link
 * #builder()}, {@link #defaults()} or {@link #grpo(int)}; the defaults are defaults.yaml's {@code
 * rollout} section (the spec's) and seed 0.
 *
 * @param globalSize M, trajectories per prompt (initial + branches + fillers)
 * @param initialSamples N, independent samples started from the prompt. N == M is plain GRPO: the
 *     budget is spent before any branch point, so nothing ever branches. Unused with {@code
 *     dynamicSplit}, whose m replaces it
 * @param entropyWindow k, tokens whose entropy is measured: the first k of a trajectory (H_initial)
 *     and the k after each tool result (H_t)
 * @param entropyWindowMode how a window's token entropies become H: their sum (the reference's
 *     scale) or their mean (k times smaller, so β·ΔH barely moves P)
 * @param alpha α, base branch probability
 * @param beta β, weight of the normalised entropy change ΔH
 * @param tau τ, threshold on P = α + β·ΔH under {@link BranchRule#THRESHOLD}; unused by {@link
 *     BranchRule#STOCHASTIC}
 * @param branchesPerPoint Z, children forked at a branch point
 * @param toolCallLimit tool calls a trajectory may make; a path asking for one more is stopped
 *     there (no fabricated EOS) and marked truncated
 * @param branchRule how P becomes a decision
 * @param maxResponseTokens response length limit, counting generated and tool-result tokens
 * @param sampling decoding knobs (the entropy is that of the temperature distribution, so ΔH is
 *     meaningful only at T > 0)
 * @param seed seeds the policy's sampling and the stochastic branch draws
 * @param dynamicSplit AEPO's dynamic split (AEPO.md §1): one probe trajectory per prompt first,
 *     then m global samples from its entropies instead of N
 * @param splitBeta β_m of m = clamp(⌊M·σ(β_m·(H_root − H_tool)/ln|V|)⌋ + 1, 1, M)
 * @param reuseProbe whether the probe is kept as the first of the m global samples (else it is
 *     thrown away, as the reference does, and m fresh samples start)
 * @param branchPenalty λ of AEPO's consecutive-branch penalty (AEPO.md §2): P is multiplied by
 *     max(0, 1 − λ·l); 0 turns it off
 * @param penaltyScope what l counts
 */
public record RolloutConfig(
    int globalSize,
    int initialSamples,
    int entropyWindow,
    EntropyWindowMode entropyWindowMode,
    double alpha,
    double beta,
    double tau,
    int branchesPerPoint,
    int toolCallLimit,
    BranchRule branchRule,
    int maxResponseTokens,
    SamplingParams sampling,
    long seed,
    boolean dynamicSplit,
    double splitBeta,
    boolean reuseProbe,
    double branchPenalty,
    PenaltyScope penaltyScope) {

  /** What l of the consecutive-branch penalty counts (AEPO.md §2). */
  public enum PenaltyScope {
    /**
     * Along a path's ancestry, its most recent tool calls in a row at which a branch was made (a
     * child inherits its parent's count, which the branch raised by one).
     */
    PATH,
    /**
     * The reference's bookkeeping, per question: the rounds of tool calls (a path's i-th call is in
     * round i) just before the current one, in a row, in which the question gained a path.
     */
    QUESTION;

    /** The scopes {@code aepo.penalty_scope} may name: each one's name in lower case. */
    public static final Registry<PenaltyScope> REGISTRY = new Registry<>("aepo.penalty_scope");

    static {
      for (PenaltyScope scope : values()) REGISTRY.register(scope.name(), scope);
    }
  }

  /** How the branch probability P = α + β·ΔH becomes a decision at a branch point. */
  public enum BranchRule {
    /** Branch iff P > τ: deterministic, this project's default. */
    THRESHOLD,
    /** Branch iff U < clamp(P, 0, 1) with U uniform from a seeded generator (the reference). */
    STOCHASTIC;

    /** The rules {@code rollout.branch_rule} may name: each one's name in lower case. */
    public static final Registry<BranchRule> REGISTRY = new Registry<>("rollout.branch_rule");

    static {
      for (BranchRule rule : values()) REGISTRY.register(rule.name(), rule);
    }
  }

  /** How the entropies of a window's tokens become its entropy H (ARPO.md §2). */
  public enum EntropyWindowMode {
    /** The sum over the k tokens; a window cut short at n tokens is scaled by k/n. */
    SUM,
    /** The mean over the window's tokens. */
    MEAN;

    /** The modes {@code rollout.entropy_window_mode} may name: each one's name in lower case. */
    public static final Registry<EntropyWindowMode> REGISTRY =
        new Registry<>("rollout.entropy_window_mode");

    static {
      for (EntropyWindowMode mode : values()) REGISTRY.register(mode.name(), mode);
    }
  }

  /**
   * The window entropy H of {@code tokens} tokens whose entropies add up to {@code entropySum}:
   * their sum scaled to k tokens (so that short windows compare), or their mean.
   */
  public double windowEntropy(double entropySum, int tokens) {
    if (tokens < 1)
      throw new IllegalArgumentException("a window needs at least one token, got " + tokens);
    double mean = entropySum / tokens;
    return entropyWindowMode == EntropyWindowMode.SUM ? mean * entropyWindow : mean;
  }

  public RolloutConfig {
    if (globalSize < 1) {
      throw new IllegalArgumentException("globalSize (M) must be >= 1, got " + globalSize);
    }
    if (initialSamples < 1 || initialSamples > globalSize) {
      throw new IllegalArgumentException(
          "initialSamples (N) must be in [1, globalSize="
              + globalSize
              + "], got "
              + initialSamples);
    }
    if (entropyWindow < 1) {
      throw new IllegalArgumentException("entropyWindow (k) must be >= 1, got " + entropyWindow);
    }
    if (entropyWindowMode == null) {
      throw new IllegalArgumentException("entropyWindowMode must not be null");
    }
    requireFinite("alpha", alpha);
    requireFinite("beta", beta);
    requireFinite("tau", tau);
    if (branchesPerPoint < 1) {
      throw new IllegalArgumentException(
          "branchesPerPoint (Z) must be >= 1, got " + branchesPerPoint);
    }
    if (toolCallLimit < 0) {
      throw new IllegalArgumentException("toolCallLimit must be >= 0, got " + toolCallLimit);
    }
    if (branchRule == null) {
      throw new IllegalArgumentException("branchRule must not be null");
    }
    if (maxResponseTokens < 1) {
      throw new IllegalArgumentException(
          "maxResponseTokens must be >= 1, got " + maxResponseTokens);
    }
    if (sampling == null) {
      throw new IllegalArgumentException("sampling must not be null");
    }
    requireFinite("splitBeta", splitBeta);
    if (!(branchPenalty >= 0) || !Double.isFinite(branchPenalty)) {
      throw new IllegalArgumentException(
          "branchPenalty (lambda) must be finite and >= 0, got " + branchPenalty);
    }
    if (penaltyScope == null) {
      throw new IllegalArgumentException("penaltyScope must not be null");
    }
  }

  /**
   * AEPO's m, the global samples of a prompt: clamp(⌊M·σ(β_m·gap)⌋ + 1, 1, M), with gap = (H_root −
   * H_tool)/ln|V|. A probe whose tool calls raised its entropy (gap < 0) leaves more of M to
   * branches.
   */
  public int globalSamples(double gap) {
    double sigmoid = 1 / (1 + Math.exp(-splitBeta * gap));
    long m = (long) Math.floor(globalSize * sigmoid) + 1;
    return (int) Math.max(1, Math.min(globalSize, m));
  }

  /** max(0, 1 − λ·l): the consecutive-branch penalty's factor on P after l branchings. */
  public double penaltyFactor(int consecutiveBranches) {
    return Math.max(0.0, 1.0 - branchPenalty * consecutiveBranches);
  }

  private static void requireFinite(String name, double value) {
    if (!Double.isFinite(value)) {
      throw new IllegalArgumentException(name + " must be finite, got " + value);
    }
  }

  /** The spec's defaults: ARPO with M = 16, N = 8. */
  public static RolloutConfig defaults() {
    return builder().build();
  }

  /** Plain GRPO with {@code globalSize} independent samples per prompt (N = M), else defaults. */
  public static RolloutConfig grpo(int globalSize) {
    return builder().globalSize(globalSize).initialSamples(globalSize).build();
  }

  /** True when N == M without a dynamic split: no budget is left for branches. */
  public boolean isGrpo() {
    return initialSamples == globalSize && !dynamicSplit;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder()
        .globalSize(globalSize)
        .initialSamples(initialSamples)
        .entropyWindow(entropyWindow)
        .entropyWindowMode(entropyWindowMode)
        .alpha(alpha)
        .beta(beta)
        .tau(tau)
        .branchesPerPoint(branchesPerPoint)
        .toolCallLimit(toolCallLimit)
        .branchRule(branchRule)
        .maxResponseTokens(maxResponseTokens)
        .sampling(sampling)
        .seed(seed)
        .dynamicSplit(dynamicSplit)
        .splitBeta(splitBeta)
        .reuseProbe(reuseProbe)
        .branchPenalty(branchPenalty)
        .penaltyScope(penaltyScope);
  }

  /** Starts from the spec's defaults; {@link #build()} validates. */
  public static final class Builder {
    private int globalSize = Defaults.integer("rollout.global_size");
    private int initialSamples = Defaults.integer("rollout.initial_samples");
    private int entropyWindow = Defaults.integer("rollout.entropy_window");
    private EntropyWindowMode entropyWindowMode =
        EntropyWindowMode.REGISTRY.get(Defaults.text("rollout.entropy_window_mode"));
    private double alpha = Defaults.number("rollout.alpha");
    private double beta = Defaults.number("rollout.beta");
    private double tau = Defaults.number("rollout.tau");
    private int branchesPerPoint = Defaults.integer("rollout.branches_per_point");
    private int toolCallLimit = Defaults.integer("rollout.tool_call_limit");
    private BranchRule branchRule = BranchRule.REGISTRY.get(Defaults.text("rollout.branch_rule"));
    private int maxResponseTokens = Defaults.integer("rollout.max_response_tokens");
    private SamplingParams sampling =
        new SamplingParams(
            (float) Defaults.number("rollout.temperature"),
            (float) Defaults.number("rollout.top_p"),
            Defaults.integer("rollout.top_k"));
    // not the trainer's seed: library users get reproducible rollouts without choosing one
    private long seed = 0;
    private boolean dynamicSplit = Defaults.bool("aepo.dynamic_split");
    private double splitBeta = Defaults.number("aepo.split_beta");
    private boolean reuseProbe = Defaults.bool("aepo.reuse_probe");
    private double branchPenalty = Defaults.number("aepo.branch_penalty");
    private PenaltyScope penaltyScope =
        PenaltyScope.REGISTRY.get(Defaults.text("aepo.penalty_scope"));

    private Builder() {}

    public Builder dynamicSplit(boolean on) {
      this.dynamicSplit = on;
      return this;
    }

    public Builder splitBeta(double betaM) {
      this.splitBeta = betaM;
      return this;
    }

    public Builder reuseProbe(boolean reuse) {
      this.reuseProbe = reuse;
      return this;
    }

    public Builder branchPenalty(double lambda) {
      this.branchPenalty = lambda;
      return this;
    }

    public Builder penaltyScope(PenaltyScope scope) {
      this.penaltyScope = scope;
      return this;
    }

    public Builder globalSize(int m) {
      this.globalSize = m;
      return this;
    }

    public Builder initialSamples(int n) {
      this.initialSamples = n;
      return this;
    }

    public Builder entropyWindow(int k) {
      this.entropyWindow = k;
      return this;
    }

    public Builder entropyWindowMode(EntropyWindowMode mode) {
      this.entropyWindowMode = mode;
      return this;
    }

    public Builder alpha(double alpha) {
      this.alpha = alpha;
      return this;
    }

    public Builder beta(double beta) {
      this.beta = beta;
      return this;
    }

    public Builder tau(double tau) {
      this.tau = tau;
      return this;
    }

    public Builder branchesPerPoint(int z) {
      this.branchesPerPoint = z;
      return this;
    }

    public Builder toolCallLimit(int limit) {
      this.toolCallLimit = limit;
      return this;
    }

    public Builder branchRule(BranchRule rule) {
      this.branchRule = rule;
      return this;
    }

    public Builder maxResponseTokens(int tokens) {
      this.maxResponseTokens = tokens;
      return this;
    }

    public Builder sampling(SamplingParams sampling) {
      this.sampling = sampling;
      return this;
    }

    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    public RolloutConfig build() {
      return new RolloutConfig(
          globalSize,
          initialSamples,
          entropyWindow,
          entropyWindowMode,
          alpha,
          beta,
          tau,
          branchesPerPoint,
          toolCallLimit,
          branchRule,
          maxResponseTokens,
          sampling,
          seed,
          dynamicSplit,
          splitBeta,
          reuseProbe,
          branchPenalty,
          penaltyScope);
    }
  }
}
