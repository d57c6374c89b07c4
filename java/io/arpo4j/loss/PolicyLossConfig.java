package io.arpo4j.loss;

import io.arpo4j.config.Defaults;
import io.arpo4j.kernels.LossAggregation;

/**
 * Knobs of the policy loss (ARPO.md §6); {@link #defaults()} are defaults.yaml's {@code loss}
 * section, the reference's.
 *
 * @param epsLow lower clip range of the ratio
 * @param epsHigh upper clip range of the ratio (DAPO's clip-higher uses 0.28)
 * @param dualClipC dual-clip bound for negative advantages (<= 1 disables)
 * @param aggregation how token losses become one number
 * @param klCoef weight of the k3 KL estimate to the reference policy (0: no reference model)
 * @param entropyCoef weight of the entropy bonus
 */
public record PolicyLossConfig(
    float epsLow,
    float epsHigh,
    float dualClipC,
    LossAggregation aggregation,
    double klCoef,
    double entropyCoef) {

  public PolicyLossConfig {
    if (!(epsLow >= 0 && epsLow < 1))
      throw new IllegalArgumentException("epsLow must be in [0, 1), got " + epsLow);
    if (!(epsHigh >= 0) || !Float.isFinite(epsHigh))
      throw new IllegalArgumentException("epsHigh must be >= 0, got " + epsHigh);
    if (Float.isNaN(dualClipC)) throw new IllegalArgumentException("dualClipC must not be NaN");
    if (aggregation == null) throw new IllegalArgumentException("aggregation must not be null");
    if (!(klCoef >= 0) || !Double.isFinite(klCoef))
      throw new IllegalArgumentException("klCoef must be >= 0, got " + klCoef);
    if (!Double.isFinite(entropyCoef))
      throw new IllegalArgumentException("entropyCoef must be finite, got " + entropyCoef);
  }

  public static PolicyLossConfig defaults() {
    return new PolicyLossConfig(
        (float) Defaults.number("loss.eps_low"),
        (float) Defaults.number("loss.eps_high"),
        (float) Defaults.number("loss.dual_clip_c"),
        LossAggregation.REGISTRY.get(Defaults.text("loss.aggregation")),
        Defaults.number("loss.kl_coef"),
        Defaults.number("loss.entropy_coef"));
  }
}
