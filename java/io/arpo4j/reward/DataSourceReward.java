package io.arpo4j.reward;

import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * {@code reward.kind: auto}: picks the reward by the question's {@code data_source}, as the ARPO
 * reference routes its datasets: math sources (a name containing math, gsm8k, aime, amc, olympiad
 * or minerva: {@code gsm8k}, {@code aime24}, {@code math500}, ...) get {@code math}; every other
 * source, QA such as {@code hotpotqa}, {@code 2wiki}, {@code musique}, {@code bamboogle}, and
 * questions without a source, gets {@code qa}.
 */
public final class DataSourceReward implements Reward {
  private static final List<String> MATH_MARKERS =
      List.of("math", "gsm8k", "aime", "amc", "olympiad", "minerva");

  private final Reward math;
  private final Reward qa;

  public DataSourceReward(Reward math, Reward qa) {
    this.math = Objects.requireNonNull(math, "math");
    this.qa = Objects.requireNonNull(qa, "qa");
  }

  /** Whether {@code dataSource} names a math dataset. */
  public static boolean isMath(String dataSource) {
    if (dataSource == null) {
      return false;
    }
    String name = dataSource.toLowerCase(Locale.ROOT);
    return MATH_MARKERS.stream().anyMatch(name::contains);
  }

  /** The math reward for a math data source; the QA reward otherwise, a missing source included. */
  @Override
  public double score(ScoringInput input) {
    return (isMath(input.dataSource()) ? math : qa).score(input);
  }
}
