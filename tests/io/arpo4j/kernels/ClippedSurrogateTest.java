package io.arpo4j.kernels;

import static io.arpo4j.kernels.TestTensors.*;
import static io.arpo4j.testing.NumericAsserts.assertClose;
import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ClippedSurrogateTest {

  /**
   * The loss of ARPO.md §6 written with libtorch composite ops in float64; gradient by autograd.
   * With stop-gradient clipping (AEPO.md §3) the clip bounds are written as the formula writes
   * them, b·(β·δ + (1 − β)·sg(δ))/sg(δ): the value b, the gradient b·β (β = 1 is (1+ε_h)·δ/sg(δ)).
   * Returns {loss, clip fraction, approx KL, mean ratio, clip-grad-kept fraction}.
   */
  static double[] reference(
      Tensor lp,
      Tensor old,
      Tensor adv,
      Tensor mask,
      double epsLow,
      double epsHigh,
      double dualClip,
      double clipGradLow,
      double clipGradHigh,
      LossAggregation agg,
      double[] gradOut) {
    Tensor x = lp.to(ScalarType.Double).detach().requires_grad_(true);
    Tensor o = old.to(ScalarType.Double),
        a = adv.to(ScalarType.Double),
        m = mask.to(ScalarType.Double);
    Tensor ratio =
        x.sub(o)
            .clamp(new ScalarOptional(new Scalar(-20.0)), new ScalarOptional(new Scalar(20.0)))
            .exp();
    Tensor sgRatio = ratio.detach();
    Tensor upper = stopGradientBound(ratio, sgRatio, 1 + epsHigh, clipGradHigh);
    Tensor lower = stopGradientBound(ratio, sgRatio, 1 - epsLow, clipGradLow);
    Tensor clippedRatio =
        torch.where(
            sgRatio.gt(new Scalar(1 + epsHigh)),
            upper,
            torch.where(sgRatio.lt(new Scalar(1 - epsLow)), lower, ratio));
    Tensor l1 = a.neg().mul(ratio);
    Tensor l2 = a.neg().mul(clippedRatio);
    Tensor loss = torch.maximum(l1, l2);
    Tensor dualActive = torch.zeros_like(loss).to(ScalarType.Bool);
    if (dualClip > 1) {
      Tensor bound = a.neg().mul(new Scalar(dualClip));
      dualActive = a.lt(new Scalar(0.0)).logical_and(loss.detach().gt(bound));
      Tensor dual = torch.minimum(loss, bound);
      loss = torch.where(a.lt(new Scalar(0.0)), dual, loss);
    }
    Tensor masked = loss.mul(m);
    ScalarTypeOptional none = new ScalarTypeOptional();
    Tensor total;
    switch (agg) {
      case TOKEN_MEAN -> total = masked.sum().div(m.sum());
      default -> {
        Tensor perSeq =
            masked
                .sum(new long[] {1}, false, none)
                .div(m.sum(new long[] {1}, false, none).clamp_min(new Scalar(1e-300)));
        Tensor nonEmpty =
            m.sum(new long[] {1}, false, none).gt(new Scalar(0.0)).to(ScalarType.Double);
        total = perSeq.mul(nonEmpty).sum();
        if (agg == LossAggregation.SEQ_MEAN_TOKEN_MEAN) total = total.div(nonEmpty.sum());
      }
    }
    total.backward(torch.ones_like(total), new BoolOptional(), false, new TensorArrayRefOptional());
    System.arraycopy(doubles(x.grad()), 0, gradOut, 0, gradOut.length);
    double clipped = doubles(l2.gt(l1).to(ScalarType.Double).mul(m).sum().div(m.sum()))[0];
    double kl = doubles(o.sub(x.detach()).mul(m).sum().div(m.sum()))[0];
    double meanRatio = doubles(ratio.detach().mul(m).sum().div(m.sum()))[0];
    // kept: clipped, not dual-clipped, inside the log-ratio clamp, on a side whose beta is > 0
    Tensor logRatio = x.detach().sub(o);
    Tensor side =
        a.gt(new Scalar(0.0))
            .to(ScalarType.Double)
            .mul(new Scalar(clipGradHigh > 0 ? 1.0 : 0.0))
            .add(
                a.lt(new Scalar(0.0))
                    .to(ScalarType.Double)
                    .mul(new Scalar(clipGradLow > 0 ? 1.0 : 0.0)))
            .gt(new Scalar(0.0));
    Tensor kept =
        l2.gt(l1)
            .logical_and(dualActive.logical_not())
            .logical_and(logRatio.abs().le(new Scalar(20.0)))
            .logical_and(side);
    double keptFraction = doubles(kept.to(ScalarType.Double).mul(m).sum().div(m.sum()))[0];
    return new double[] {doubles(total.detach())[0], clipped, kl, meanRatio, keptFraction};
  }

  /** b·(β·δ + (1 − β)·sg(δ))/sg(δ): value b, gradient b·β with respect to log δ. */
  static Tensor stopGradientBound(Tensor ratio, Tensor sgRatio, double bound, double beta) {
    return ratio
        .mul(new Scalar(beta))
        .add(sgRatio.mul(new Scalar(1 - beta)))
        .div(sgRatio)
        .mul(new Scalar(bound));
  }

  @ParameterizedTest(name = "S={0} L={1} {2} dualClip={3} clipGrad=({4}, {5})")
  @CsvSource({
    "1, 1, TOKEN_MEAN, 3.0, 0, 0",
    "4, 37, TOKEN_MEAN, 3.0, 0, 0",
    "4, 37, SEQ_MEAN_TOKEN_MEAN, 3.0, 0, 0",
    "4, 37, SEQ_SUM_TOKEN_MEAN, 3.0, 0, 0",
    "16, 300, TOKEN_MEAN, 0.0, 0, 0",
    "16, 300, SEQ_MEAN_TOKEN_MEAN, 0.0, 0, 0",
    "9, 64, SEQ_SUM_TOKEN_MEAN, 1.5, 0, 0",
    // stop-gradient clipping: AEPO (0, 1), GPPO (1, 1), a CE-GPPO-style pair
    "16, 300, TOKEN_MEAN, 3.0, 0, 1",
    "16, 300, SEQ_MEAN_TOKEN_MEAN, 3.0, 1, 1",
    "9, 64, SEQ_SUM_TOKEN_MEAN, 0.0, 0.5, 1",
    "16, 300, TOKEN_MEAN, 1.5, 0.75, 0.5",
  })
  void matchesFloat64CompositeAndAutograd(
      int s, int l, LossAggregation agg, float dualClip, float clipGradLow, float clipGradHigh) {
    SplittableRandom rng = new SplittableRandom(freshSeed("clipped_surrogate"));
    float[] lp = new float[s * l],
        old = new float[s * l],
        adv = new float[s * l],
        mask = new float[s * l];
    for (int i = 0; i < s; i++) {
      float a = (float) gaussian(rng); // one advantage per sequence, as in GRPO
      int len = 1 + rng.nextInt(l); // padded tail
      boolean empty = s > 2 && i == 1; // an all-padding row must not break the means
      for (int t = 0; t < l; t++) {
        int k = i * l + t;
        old[k] = (float) (-Math.abs(gaussian(rng)) * 3 - 0.01);
        lp[k] = old[k] + (float) (gaussian(rng) * 0.4); // ratios on both sides of the clip range
        adv[k] = rng.nextInt(10) == 0 ? (float) gaussian(rng) : a;
        mask[k] = (!empty && t < len && rng.nextInt(8) != 0) ? 1f : 0f; // tool tokens masked
      }
      if (!empty) mask[i * l] = 1f;
    }
    Tensor tLp = tensor(lp, s, l),
        tOld = tensor(old, s, l),
        tAdv = tensor(adv, s, l),
        tMask = tensor(mask, s, l);
    Kernels.Surrogate out =
        Kernels.clippedSurrogate(
            tLp, tOld, tAdv, tMask, 0.2f, 0.28f, dualClip, clipGradLow, clipGradHigh, agg);
    double[] grad = new double[s * l];
    double[] ref =
        reference(
            tLp, tOld, tAdv, tMask, 0.2f, 0.28f, dualClip, clipGradLow, clipGradHigh, agg, grad);
    assertEquals(ref[0], floats(out.loss())[0], 1e-5 * Math.max(1, Math.abs(ref[0])), "loss");
    float[] got = floats(out.gradLogprob());
    double maxErr = 0;
    for (int i = 0; i < got.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i] - grad[i]));
    System.out.printf(
        "clipped_surrogate %s dual=%s clipGrad=(%s, %s): max |grad - float64 autograd| = %.2e%n",
        agg, dualClip, clipGradLow, clipGradHigh, maxErr);
    assertClose("grad", grad, got, 1e-6, 1e-5);
    assertEquals(ref[1], out.clipFraction(), 1e-6, "clip fraction");
    assertEquals(ref[2], out.approxKl(), 1e-5, "approx kl");
    assertEquals(ref[3], out.meanRatio(), 1e-5, "mean ratio");
    assertEquals(ref[4], out.clipGradKeptFraction(), 1e-6, "clip-grad kept fraction");
    if (s * l > 100) assertTrue(out.clipFraction() > 0, "inputs should exercise clipping");
    if (s * l > 100 && clipGradHigh > 0)
      assertTrue(out.clipGradKeptFraction() > 0, "inputs should exercise the stop-gradient clip");
  }

  /**
   * One token in each region of AEPO.md §3's table (and the log-ratio clamp), token-mean over 10
   * tokens, ε_l = 0.2, ε_h = 0.28, c = 3: the per-token gradient weight w in dL/dlogprob = −Ã·w/10
   * is checked by hand and against the float64 composite, under PPO and under AEPO's (0, 1), and
   * the loss and the clip fraction are the same under both.
   */
  @ParameterizedTest(name = "clipGrad=({0}, {1})")
  @CsvSource({"0, 0", "0, 1", "1, 1", "0.5, 2"})
  void everyRegionOfTheStopGradientTable(float clipGradLow, float clipGradHigh) {
    double eL = 0.2, eH = 0.28, c = 3;
    // {advantage, log-ratio, PPO weight, weight with (beta_low, beta_high) = (1, 1)}; a region
    // whose stop-gradient weight is b·beta scales its second weight by beta below
    double[][] regions = {
      {+1.5, Math.log(0.5), 0.5, 0.5}, // A > 0, below the range: unclipped, w = δ
      {+1.5, Math.log(1.1), 1.1, 1.1}, // A > 0, inside: w = δ
      {+1.5, Math.log(1.6), 0, 1 + eH}, // A > 0, above 1 + ε_h: PPO 0, stop-gradient (1 + ε_h)·β_h
      {+1.5, 25, 0, 0}, // A > 0, log-ratio beyond the ±20 clamp: no gradient in any mode
      {-0.7, Math.log(0.5), 0, 1 - eL}, // A < 0, below 1 − ε_l: PPO 0, stop-gradient (1 − ε_l)·β_l
      {-0.7, Math.log(0.95), 0.95, 0.95}, // A < 0, inside: w = δ
      {-0.7, Math.log(2.0), 2.0, 2.0}, // A < 0, above the range, below c: unclipped, w = δ
      {-0.7, Math.log(3.5), 0, 0}, // A < 0, beyond the dual clip c = 3: 0 in every mode
      {0.0, Math.log(1.6), 0, 0}, // A = 0: nothing to push
      {+1.5, Math.log(1.6), 0, 0}, // masked: no gradient, no count
    };
    int n = regions.length;
    float[] lp = new float[n], old = new float[n], adv = new float[n], mask = new float[n];
    double[] expected = new double[n];
    for (int i = 0; i < n; i++) {
      old[i] = -2f;
      lp[i] = (float) (old[i] + regions[i][1]);
      adv[i] = (float) regions[i][0];
      mask[i] = i == n - 1 ? 0f : 1f;
      double ratio = Math.exp((double) lp[i] - old[i]);
      double w = regions[i][2];
      if (regions[i][2] != regions[i][3]) { // a stop-gradient region: b·beta
        w = regions[i][0] > 0 ? (1 + eH) * clipGradHigh : (1 - eL) * clipGradLow;
      } else if (w != 0) {
        w = ratio; // the float32 inputs' exact ratio
      }
      expected[i] = mask[i] * -adv[i] * w / (n - 1);
    }
    Tensor tLp = tensor(lp, 1, n),
        tOld = tensor(old, 1, n),
        tAdv = tensor(adv, 1, n),
        tMask = tensor(mask, 1, n);
    LossAggregation agg = LossAggregation.TOKEN_MEAN;
    Kernels.Surrogate out =
        Kernels.clippedSurrogate(
            tLp,
            tOld,
            tAdv,
            tMask,
            (float) eL,
            (float) eH,
            (float) c,
            clipGradLow,
            clipGradHigh,
            agg);
    Kernels.Surrogate ppo =
        Kernels.clippedSurrogate(
            tLp, tOld, tAdv, tMask, (float) eL, (float) eH, (float) c, 0f, 0f, agg);
    double[] grad = new double[n];
    double[] ref =
        reference(tLp, tOld, tAdv, tMask, eL, eH, c, clipGradLow, clipGradHigh, agg, grad);
    assertClose("gradient by hand", expected, floats(out.gradLogprob()), 1e-7, 1e-6);
    assertClose("gradient by autograd", grad, floats(out.gradLogprob()), 1e-7, 1e-6);
    assertEquals(floats(ppo.loss())[0], floats(out.loss())[0], 0f, "the value is PPO's");
    assertEquals(ref[0], floats(out.loss())[0], 1e-6, "loss");
    assertEquals(ppo.clipFraction(), out.clipFraction(), 0f, "the clip fraction is PPO's");
    // clipped: A > 0 above, the clamped one, A < 0 below (the dual-clipped one is unclipped first)
    assertEquals(3 / 9.0, out.clipFraction(), 1e-6, "clip fraction");
    assertEquals(1 / 9.0, out.dualClipFraction(), 1e-6, "dual clip fraction");
    double kept = ((clipGradHigh > 0 ? 1 : 0) + (clipGradLow > 0 ? 1 : 0)) / 9.0;
    assertEquals(kept, out.clipGradKeptFraction(), 1e-6, "kept fraction");
    assertEquals(ref[4], out.clipGradKeptFraction(), 1e-6, "kept fraction by the composite");
  }
}
