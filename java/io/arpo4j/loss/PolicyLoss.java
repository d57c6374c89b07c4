package io.arpo4j.loss;

import io.arpo4j.kernels.Kernels;
import io.arpo4j.kernels.LossAggregation;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;

/**
 * The full policy loss of one mini-batch and its gradients with respect to the per-token
 * log-probabilities and entropies (which {@link io.arpo4j.kernels.FusedLogprob#backward} then
 * carries to the logits):
 *
 * <pre>
 *   loss = agg(clipped surrogate) + klCoef * agg(k3(ref, logprob)) - entropyCoef * agg(entropy)
 *   (the surrogate's gradient through clipped tokens as {@link PolicyLossConfig#clipMode} says)
 *   k3   = exp(d) - d - 1,  d = clamp(ref - logprob, -20, 20),  then k3 clamped to <= 10
 * </pre>
 *
 * k3 is Schulman's low-variance KL estimate; the clamps are verl's (ARPO.md §6), so an outlier
 * token can neither overflow float32's {@code exp} nor dominate the loss.
 *
 * <p>All inputs are fp32 [S, L] (padded rows of response tokens); mask is 1 where a token trains.
 */
public final class PolicyLoss {
  /** verl's clamp of ref - logprob before the exp of k3. */
  public static final double K3_DIFF_LIMIT = 20;

  /** verl's clamp of k3 itself (k3 >= 0, so only the upper bound can bind). */
  public static final double K3_LIMIT = 10;

  private PolicyLoss() {}

  public record Result(
      double loss,
      double policyLoss,
      double klLoss,
      double entropyLoss,
      Tensor gradLogprob,
      Tensor gradEntropy,
      float clipFraction,
      float approxKl,
      float meanRatio,
      float clipGradKeptFraction) {}

  /**
   * @param refLogprob log-probs under the reference policy, or null when {@code klCoef == 0}
   * @param entropy per-token entropies, or null when {@code entropyCoef == 0}
   */
  public static Result compute(
      Tensor logprob,
      Tensor oldLogprob,
      Tensor refLogprob,
      Tensor entropy,
      Tensor advantage,
      Tensor mask,
      PolicyLossConfig config) {
    if (config.klCoef() > 0 && refLogprob == null) {
      throw new IllegalArgumentException("refLogprob is required when klCoef > 0");
    }
    if (config.entropyCoef() != 0 && entropy == null) {
      throw new IllegalArgumentException("entropy is required when entropyCoef != 0");
    }
    Kernels.Surrogate pg =
        Kernels.clippedSurrogate(
            logprob,
            oldLogprob,
            advantage,
            mask,
            config.epsLow(),
            config.epsHigh(),
            config.dualClipC(),
            config.kernelClipGradLow(),
            config.kernelClipGradHigh(),
            config.aggregation());
    double policyLoss = pg.loss().item_float();
    Tensor gradLogprob = pg.gradLogprob();
    Tensor weights = null;
    double klLoss = 0, entropyLoss = 0;
    if (config.klCoef() > 0) {
      weights = aggregationWeights(mask, config.aggregation());
      requireSameShape("refLogprob", refLogprob, logprob);
      Tensor rawDiff = refLogprob.sub(logprob);
      Tensor diff =
          rawDiff.clamp(
              new ScalarOptional(new Scalar(-K3_DIFF_LIMIT)),
              new ScalarOptional(new Scalar(K3_DIFF_LIMIT)));
      Tensor expDiff = diff.exp();
      Tensor rawK3 = expDiff.sub(diff).sub(new Scalar(1.0));
      Tensor k3 = rawK3.clamp_max(new Scalar(K3_LIMIT));
      klLoss = k3.mul(weights).sum().item_double();
      // d k3 / d logprob = 1 - exp(ref - logprob) where neither clamp binds (torch.clamp's
      // inclusive
      // bounds), else 0, as autograd through verl's clamps gives
      Tensor inside =
          rawDiff.abs().le(new Scalar(K3_DIFF_LIMIT)).logical_and(rawK3.le(new Scalar(K3_LIMIT)));
      gradLogprob =
          gradLogprob.add(
              expDiff
                  .neg()
                  .add(new Scalar(1.0))
                  .mul(inside)
                  .mul(weights)
                  .mul(new Scalar(config.klCoef())));
    }
    Tensor gradEntropy = null;
    if (config.entropyCoef() != 0) {
      if (weights == null) weights = aggregationWeights(mask, config.aggregation());
      requireSameShape("entropy", entropy, logprob);
      entropyLoss = entropy.mul(weights).sum().item_double();
      gradEntropy = weights.mul(new Scalar(-config.entropyCoef()));
    }
    double loss = policyLoss + config.klCoef() * klLoss - config.entropyCoef() * entropyLoss;
    return new Result(
        loss,
        policyLoss,
        klLoss,
        entropyLoss,
        gradLogprob,
        gradEntropy,
        pg.clipFraction(),
        pg.approxKl(),
        pg.meanRatio(),
        pg.clipGradKeptFraction());
  }

  /** d agg / d token-loss for each token: the weights the surrogate kernel applies internally. */
  public static Tensor aggregationWeights(Tensor mask, LossAggregation aggregation) {
    Tensor m = mask.dim() == 1 ? mask.unsqueeze(0) : mask;
    ScalarTypeOptional none = new ScalarTypeOptional();
    Tensor perSeq = m.sum(new long[] {1}, true, none);
    Tensor w;
    switch (aggregation) {
      case TOKEN_MEAN -> w = m.div(m.sum().clamp_min(new Scalar(1e-30)));
      case SEQ_SUM_TOKEN_MEAN -> w = m.div(perSeq.clamp_min(new Scalar(1e-30)));
      case SEQ_MEAN_TOKEN_MEAN -> {
        double nonEmpty = perSeq.gt(new Scalar(0.0)).sum().item_double();
        w = m.div(perSeq.clamp_min(new Scalar(1e-30))).div(new Scalar(Math.max(nonEmpty, 1.0)));
      }
      default -> throw new IllegalArgumentException("unknown aggregation " + aggregation);
    }
    return mask.dim() == 1 ? w.squeeze(0) : w;
  }

  private static void requireSameShape(String name, Tensor t, Tensor ref) {
    if (!java.util.Arrays.equals(t.sizes().vec().get(), ref.sizes().vec().get())) {
      throw new IllegalArgumentException(name + " must have the shape of logprob");
    }
  }
}
