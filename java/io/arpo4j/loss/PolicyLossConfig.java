package io.arpo4j.loss;

import io.arpo4j.config.Defaults;
import io.arpo4j.kernels.LossAggregation;

/**
 * Knobs of the policy loss (ARPO.md §6, AEPO.md §3); {@link #defaults()} are defaults.yaml's {@code
 * loss} section, the reference's.
 *
 * @param epsLow lower clip range of the ratio
 * @param epsHigh upper clip range of the ratio (DAPO's clip-higher uses 0.28)
 * @param dualClipC dual-clip bound for negative advantages (<= 1 disables)
 * @param clipMode PPO, or stop-gradient clipping (the gradient of the clipped tokens only)
 * @param clipGradLow under {@link ClipMode#STOP_GRADIENT}: the gradient kept by tokens with a
 *     negative advantage below 1 - epsLow, as a multiple of (1 - epsLow); ignored under PPO
 * @param clipGradHigh under {@link ClipMode#STOP_GRADIENT}: the gradient kept by tokens with a
 *     positive advantage above 1 + epsHigh, as a multiple of (1 + epsHigh); ignored under PPO
 * @param aggregation how token losses become one number
 * @param klCoef weight of the k3 KL estimate to the reference policy (0: no reference model)
 * @param entropyCoef weight of the entropy bonus
 */
public record PolicyLossConfig(
    float epsLow,
    float epsHigh,
    float dualClipC,
    ClipMode clipMode,
    float clipGradLow,
    float clipGradHigh,
    LossAggregation aggregation,
    double klCoef,
    double entropyCoef) {

  public PolicyLossConfig {
    if (!(epsLow >= 0 && epsLow < 1))
      throw new IllegalArgumentException("epsLow must be in [0, 1), got " + epsLow);
    if (!(epsHigh >= 0) || !Float.isFinite(epsHigh))
      throw new IllegalArgumentException("epsHigh must be >= 0, got " + epsHigh);
    if (Float.isNaN(dualClipC)) throw new IllegalArgumentException("dualClipC must not be NaN");
    if (clipMode == null) throw new IllegalArgumentException("clipMode must not be null");
    if (!(clipGradLow >= 0) || !Float.isFinite(clipGradLow))
      throw new IllegalArgumentException("clipGradLow must be finite and >= 0, got " + clipGradLow);
    if (!(clipGradHigh >= 0) || !Float.isFinite(clipGradHigh)) {
      throw new IllegalArgumentException(
          "clipGradHigh must be finite and >= 0, got " + clipGradHigh);
    }
    if (aggregation == null) throw new IllegalArgumentException("aggregation must not be null");
    if (!(klCoef >= 0) || !Double.isFinite(klCoef))
      throw new IllegalArgumentException("klCoef must be >= 0, got " + klCoef);
    if (!Double.isFinite(entropyCoef))
      throw new IllegalArgumentException("entropyCoef must be finite, got " + entropyCoef);
  }

  /** PPO's loss with these clip ranges, aggregation and coefficients. */
  public static PolicyLossConfig ppo(
      float epsLow,
      float epsHigh,
      float dualClipC,
      LossAggregation aggregation,
      double klCoef,
      double entropyCoef) {
    return new PolicyLossConfig(
        epsLow, epsHigh, dualClipC, ClipMode.PPO, 0, 0, aggregation, klCoef, entropyCoef);
  }

  /** The kernel's low coefficient: 0 (no gradient through clipped tokens) under PPO. */
  public float kernelClipGradLow() {
    return clipMode == ClipMode.STOP_GRADIENT ? clipGradLow : 0f;
  }

  /** The kernel's high coefficient: 0 under PPO. */
  public float kernelClipGradHigh() {
    return clipMode == ClipMode.STOP_GRADIENT ? clipGradHigh : 0f;
  }

  public static PolicyLossConfig defaults() {
    return new PolicyLossConfig(
        (float) Defaults.number("loss.eps_low"),
        (float) Defaults.number("loss.eps_high"),
        (float) Defaults.number("loss.dual_clip_c"),
        ClipMode.REGISTRY.get(Defaults.text("loss.clip_mode")),
        (float) Defaults.number("loss.clip_grad_low"),
        (float) Defaults.number("loss.clip_grad_high"),
        LossAggregation.REGISTRY.get(Defaults.text("loss.aggregation")),
        Defaults.number("loss.kl_coef"),
        Defaults.number("loss.entropy_coef"));
  }
}
