package io.arpo4j.advantage;

import java.util.List;

/**
 * Per-trajectory advantages from the rewards of groups (one group = all trajectories of one prompt:
 * initial samples, branches and fillers alike).
 */
public final class GroupAdvantages {
  /** Added to the standard deviation so groups of equal rewards give 0, not NaN (verl's 1e-6). */
  public static final double EPS = 1e-6;

  /** Added to the variance by REINFORCE++'s token whitening (verl's masked_whiten). */
  static final double WHITEN_EPS = 1e-8;

  private GroupAdvantages() {}

  /**
   * Advantages for each group, in the same order and shape as {@code groupRewards}.
   *
   * @param validTokens for each trajectory, how many tokens it trains (its loss-mask tokens), in
   *     the shape of {@code groupRewards}: REINFORCE++ whitens over the batch's tokens, so a
   *     trajectory weighs as many times as it has tokens; GRPO ignores them
   * @throws IllegalArgumentException on shapes that do not match or a non-finite reward, before the
   *     estimator sees them
   */
  public static double[][] compute(
      List<double[]> groupRewards, List<double[]> validTokens, AdvantageEstimator estimator) {
    if (groupRewards == null) throw new IllegalArgumentException("groupRewards must not be null");
    if (validTokens == null || validTokens.size() != groupRewards.size()) {
      throw new IllegalArgumentException("validTokens must have one entry per group");
    }
    for (int g = 0; g < groupRewards.size(); g++) {
      double[] r = groupRewards.get(g);
      if (r == null || r.length == 0)
        throw new IllegalArgumentException("group " + g + " has no rewards");
      if (validTokens.get(g) == null || validTokens.get(g).length != r.length) {
        throw new IllegalArgumentException(
            "group " + g + ": validTokens must have one count per trajectory");
      }
      for (double x : r) {
        if (!Double.isFinite(x))
          throw new IllegalArgumentException("group " + g + " has a non-finite reward " + x);
      }
    }
    double[][] out = estimator.advantages(groupRewards, validTokens);
    if (out == null || out.length != groupRewards.size()) {
      throw new IllegalArgumentException("the advantage estimator must return one row per group");
    }
    for (int g = 0; g < out.length; g++) {
      if (out[g] == null || out[g].length != groupRewards.get(g).length) {
        throw new IllegalArgumentException(
            "the advantage estimator must return one advantage per trajectory (group " + g + ")");
      }
    }
    return out;
  }

  /**
   * Each reward minus its group's mean, divided by the group's unbiased std (+ {@link #EPS}) when
   * {@code scaled}.
   */
  static double[][] centered(List<double[]> groupRewards, boolean scaled) {
    double[][] out = new double[groupRewards.size()][];
    for (int g = 0; g < out.length; g++) {
      double[] r = groupRewards.get(g);
      out[g] = new double[r.length];
      double mean = r.length == 1 ? 0.0 : mean(r); // a lone sample has no baseline (as verl)
      for (int i = 0; i < r.length; i++) out[g][i] = r[i] - mean;
      if (scaled) {
        double std = r.length == 1 ? 1.0 : unbiasedStd(r);
        for (int i = 0; i < r.length; i++) out[g][i] /= std + EPS;
      }
    }
    return out;
  }

  /**
   * verl's {@code masked_whiten} of the per-token advantages: mean and unbiased variance over all
   * valid tokens of the batch (a trajectory's value repeated over its tokens), then {@code (a -
   * mean) / sqrt(var + 1e-8)}.
   */
  static double[][] whitenOverTokens(double[][] advantages, List<double[]> validTokens) {
    double n = 0, sum = 0;
    for (int g = 0; g < advantages.length; g++) {
      for (int i = 0; i < advantages[g].length; i++) {
        n += validTokens.get(g)[i];
        sum += validTokens.get(g)[i] * advantages[g][i];
      }
    }
    if (n == 0) return advantages;
    double mean = sum / n, sq = 0;
    for (int g = 0; g < advantages.length; g++) {
      for (int i = 0; i < advantages[g].length; i++) {
        sq += validTokens.get(g)[i] * (advantages[g][i] - mean) * (advantages[g][i] - mean);
      }
    }
    double var = n > 1 ? sq / (n - 1) : sq / n;
    double scale = 1 / Math.sqrt(var + WHITEN_EPS);
    for (double[] a : advantages) for (int i = 0; i < a.length; i++) a[i] = (a[i] - mean) * scale;
    return advantages;
  }

  /**
   * True when every reward of the group is the same: its advantages are all 0 (DAPO drops such
   * groups).
   */
  public static boolean isDegenerate(double[] rewards) {
    for (double r : rewards) if (r != rewards[0]) return false;
    return true;
  }

  static double mean(double[] x) {
    double s = 0;
    for (double v : x) s += v;
    return s / x.length;
  }

  static double unbiasedStd(double[] x) {
    double m = mean(x), s = 0;
    for (double v : x) s += (v - m) * (v - m);
    return Math.sqrt(s / (x.length - 1));
  }
}
