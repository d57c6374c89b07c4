package io.arpo4j.kernels;

import io.arpo4j.config.Registry;

/** How masked per-token losses of a padded [S, L] batch become one scalar (ARPO.md §6). */
public enum LossAggregation {
  /**
   * Sum over all unmasked tokens divided by their count (the default; every token weighs the same).
   */
  TOKEN_MEAN,
  /**
   * Per-sequence token mean, then the mean over non-empty sequences (every sequence weighs the
   * same).
   */
  SEQ_MEAN_TOKEN_MEAN,
  /** Per-sequence token mean, summed over non-empty sequences. */
  SEQ_SUM_TOKEN_MEAN;

  /**
   * The aggregations {@code loss.aggregation} may name: each one's {@link #configName}, and
   * Dr.GRPO's {@code seq-mean-token-sum-norm}, which the kernel computes as token-mean and the
   * trainer rescales by a constant (TrainerConfig.lengthNormalizer).
   */
  public static final Registry<LossAggregation> REGISTRY = new Registry<>("loss.aggregation");

  static {
    for (LossAggregation a : values()) REGISTRY.register(a.configName(), a);
    REGISTRY.register("seq-mean-token-sum-norm", TOKEN_MEAN);
  }

  /** The name used in configs and on the command line, e.g. {@code token-mean}. */
  public String configName() {
    return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }
}
