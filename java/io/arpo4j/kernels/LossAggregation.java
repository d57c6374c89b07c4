package io.arpo4j.kernels;

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

  /** The name used in configs and on the command line, e.g. {@code token-mean}. */
  public String configName() {
    return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }

  public static LossAggregation fromConfigName(String name) {
    for (LossAggregation a : values()) {
      if (a.configName().equals(name)) return a;
    }
    throw new IllegalArgumentException(
        "unknown loss aggregation '"
            + name
            + "' (expected token-mean, seq-mean-token-mean or seq-sum-token-mean)");
  }
}
