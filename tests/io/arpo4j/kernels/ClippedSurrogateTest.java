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
   */
  static double[] reference(
      Tensor lp,
      Tensor old,
      Tensor adv,
      Tensor mask,
      double epsLow,
      double epsHigh,
      double dualClip,
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
    Tensor l1 = a.neg().mul(ratio);
    Tensor l2 =
        a.neg()
            .mul(
                ratio.clamp(
                    new ScalarOptional(new Scalar(1 - epsLow)),
                    new ScalarOptional(new Scalar(1 + epsHigh))));
    Tensor loss = torch.maximum(l1, l2);
    if (dualClip > 1) {
      Tensor dual = torch.minimum(loss, a.neg().mul(new Scalar(dualClip)));
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
    return new double[] {doubles(total.detach())[0], clipped, kl, meanRatio};
  }

  @ParameterizedTest(name = "S={0} L={1} {2} dualClip={3}")
  @CsvSource({
    "1, 1, TOKEN_MEAN, 3.0",
    "4, 37, TOKEN_MEAN, 3.0",
    "4, 37, SEQ_MEAN_TOKEN_MEAN, 3.0",
    "4, 37, SEQ_SUM_TOKEN_MEAN, 3.0",
    "16, 300, TOKEN_MEAN, 0.0",
    "16, 300, SEQ_MEAN_TOKEN_MEAN, 0.0",
    "9, 64, SEQ_SUM_TOKEN_MEAN, 1.5",
  })
  void matchesFloat64CompositeAndAutograd(int s, int l, LossAggregation agg, float dualClip) {
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
        Kernels.clippedSurrogate(tLp, tOld, tAdv, tMask, 0.2f, 0.28f, dualClip, agg);
    double[] grad = new double[s * l];
    double[] ref = reference(tLp, tOld, tAdv, tMask, 0.2f, 0.28f, dualClip, agg, grad);
    assertEquals(ref[0], floats(out.loss())[0], 1e-5 * Math.max(1, Math.abs(ref[0])), "loss");
    assertClose("grad", grad, floats(out.gradLogprob()), 1e-6, 1e-5);
    assertEquals(ref[1], out.clipFraction(), 1e-6, "clip fraction");
    assertEquals(ref[2], out.approxKl(), 1e-5, "approx kl");
    assertEquals(ref[3], out.meanRatio(), 1e-5, "mean ratio");
    if (s * l > 100) assertTrue(out.clipFraction() > 0, "inputs should exercise clipping");
  }
}
