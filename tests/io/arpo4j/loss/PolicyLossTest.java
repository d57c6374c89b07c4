package io.arpo4j.loss;

import static org.junit.jupiter.api.Assertions.*;

import io.arpo4j.kernels.Kernels;
import io.arpo4j.kernels.LossAggregation;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class PolicyLossTest {
  static float[] doubles2floats(Tensor t) {
    Tensor c = t.to(ScalarType.Float).contiguous();
    float[] out = new float[(int) c.numel()];
    c.data_ptr_float().get(out);
    return out;
  }

  @Test
  void aggregationWeightsMatchHandComputedValues() {
    // two sequences: 3 tokens then 1 token of 4 slots
    Tensor mask = Tensor.create(new float[] {1, 1, 1, 0, 0, 1, 0, 0}, 2, 4);
    assertArrayEquals(
        new float[] {0.25f, 0.25f, 0.25f, 0, 0, 0.25f, 0, 0},
        doubles2floats(PolicyLoss.aggregationWeights(mask, LossAggregation.TOKEN_MEAN)),
        1e-7f);
    assertArrayEquals(
        new float[] {1 / 6f, 1 / 6f, 1 / 6f, 0, 0, 0.5f, 0, 0},
        doubles2floats(PolicyLoss.aggregationWeights(mask, LossAggregation.SEQ_MEAN_TOKEN_MEAN)),
        1e-7f);
    assertArrayEquals(
        new float[] {1 / 3f, 1 / 3f, 1 / 3f, 0, 0, 1, 0, 0},
        doubles2floats(PolicyLoss.aggregationWeights(mask, LossAggregation.SEQ_SUM_TOKEN_MEAN)),
        1e-7f);
  }

  /**
   * The KL and entropy terms against a float64 autograd composite, on top of the surrogate kernel.
   */
  @ParameterizedTest
  @EnumSource(LossAggregation.class)
  void klAndEntropyTermsMatchAutograd(LossAggregation agg) {
    long seed = Long.getLong("arpo4j.test.seed", 20251201L);
    SplittableRandom rng = new SplittableRandom(seed);
    int s = 5, l = 23;
    float[] lp = new float[s * l],
        old = new float[s * l],
        ref = new float[s * l],
        ent = new float[s * l],
        adv = new float[s * l],
        mask = new float[s * l];
    for (int i = 0; i < s * l; i++) {
      old[i] = (float) -(rng.nextDouble() * 4 + 0.01);
      lp[i] = old[i] + (float) (rng.nextDouble() - 0.5) * 0.5f;
      ref[i] = old[i] + (float) (rng.nextDouble() - 0.5);
      ent[i] = (float) (rng.nextDouble() * 3);
      adv[i] = (float) (rng.nextDouble() * 2 - 1);
      mask[i] = rng.nextInt(5) == 0 ? 0 : 1;
    }
    mask[0] = 1;
    PolicyLossConfig config = PolicyLossConfig.ppo(0.2f, 0.28f, 3f, agg, 0.05, 0.01);
    Tensor tLp = Tensor.create(lp, s, l),
        tOld = Tensor.create(old, s, l),
        tRef = Tensor.create(ref, s, l),
        tEnt = Tensor.create(ent, s, l),
        tAdv = Tensor.create(adv, s, l),
        tMask = Tensor.create(mask, s, l);
    PolicyLoss.Result r = PolicyLoss.compute(tLp, tOld, tRef, tEnt, tAdv, tMask, config);
    Kernels.Surrogate pg =
        Kernels.clippedSurrogate(tLp, tOld, tAdv, tMask, 0.2f, 0.28f, 3f, 0f, 0f, agg);

    Tensor x = tLp.to(ScalarType.Double).detach().requires_grad_(true);
    Tensor h = tEnt.to(ScalarType.Double).detach().requires_grad_(true);
    Tensor w = PolicyLoss.aggregationWeights(tMask, agg).to(ScalarType.Double);
    Tensor diff = tRef.to(ScalarType.Double).sub(x);
    Tensor k3 = diff.exp().sub(diff).sub(new Scalar(1.0));
    Tensor extra = k3.mul(w).sum().mul(new Scalar(0.05)).sub(h.mul(w).sum().mul(new Scalar(0.01)));
    extra.backward(torch.ones_like(extra), new BoolOptional(), false, new TensorArrayRefOptional());

    double expectedLoss = pg.loss().item_double() + extra.item_double();
    assertEquals(expectedLoss, r.loss(), 1e-5);
    float[] expectedGradLp = doubles2floats(x.grad().add(pg.gradLogprob().to(ScalarType.Double)));
    assertArrayEquals(expectedGradLp, doubles2floats(r.gradLogprob()), 1e-6f);
    assertArrayEquals(doubles2floats(h.grad()), doubles2floats(r.gradEntropy()), 1e-7f);
  }

  /** loss.clip_mode reaches the kernel: stop_gradient passes its coefficients, ppo passes zeros. */
  @Test
  void clipModeReachesTheKernel() {
    // ratios 1.6 (A > 0: clipped above) and 0.5 (A < 0: clipped below), then an unclipped one
    Tensor old = Tensor.create(new float[] {-2, -2, -2}, 1, 3);
    Tensor lp =
        Tensor.create(
            new float[] {(float) (-2 + Math.log(1.6)), (float) (-2 + Math.log(0.5)), -2f}, 1, 3);
    Tensor adv = Tensor.create(new float[] {1, -1, 1}, 1, 3);
    Tensor mask = Tensor.create(new float[] {1, 1, 1}, 1, 3);
    PolicyLossConfig aepo =
        new PolicyLossConfig(
            0.2f, 0.2f, 3f, ClipMode.STOP_GRADIENT, 0.5f, 1f, LossAggregation.TOKEN_MEAN, 0, 0);
    PolicyLossConfig ppo = PolicyLossConfig.ppo(0.2f, 0.2f, 3f, LossAggregation.TOKEN_MEAN, 0, 0);
    PolicyLoss.Result sg = PolicyLoss.compute(lp, old, null, null, adv, mask, aepo);
    PolicyLoss.Result pg = PolicyLoss.compute(lp, old, null, null, adv, mask, ppo);
    // by hand, token mean over 3: -A * w / 3 with w = 1.2 * 1, 0.8 * 0.5, ratio 1
    assertArrayEquals(
        new float[] {-1.2f / 3, 0.4f / 3, -1f / 3}, doubles2floats(sg.gradLogprob()), 1e-6f);
    assertArrayEquals(new float[] {0, 0, -1f / 3}, doubles2floats(pg.gradLogprob()), 1e-6f);
    assertEquals(pg.loss(), sg.loss(), 0, "the value is PPO's");
    assertEquals(2 / 3f, sg.clipGradKeptFraction(), 1e-6f);
    assertEquals(0f, pg.clipGradKeptFraction());
  }

  /** verl's clamps: ref - lp to ±20 before the exp, k3 to <= 10; clamped tokens get no gradient. */
  @Test
  void k3IsClampedAsVerlClampsIt() {
    float[] ref = {100, -100, 2.5f, 3, 0.5f};
    Tensor lp = Tensor.create(new float[5], 1, 5), tRef = Tensor.create(ref, 1, 5);
    Tensor zero = Tensor.create(new float[5], 1, 5),
        mask = Tensor.create(new float[] {1, 1, 1, 1, 1}, 1, 5);
    PolicyLoss.Result r =
        PolicyLoss.compute(
            lp,
            lp,
            tRef,
            null,
            zero,
            mask,
            PolicyLossConfig.ppo(0.2f, 0.2f, 3f, LossAggregation.TOKEN_MEAN, 1.0, 0));
    // by hand: k3(20) and k3(-20) exceed 10, k3(2.5) = e^2.5 - 3.5, k3(3) = e^3 - 4 > 10, k3(0.5) =
    // e^0.5 - 1.5
    double expected = (10 + 10 + (Math.exp(2.5) - 3.5) + 10 + (Math.exp(0.5) - 1.5)) / 5;
    assertEquals(expected, r.klLoss(), 1e-6);
    assertArrayEquals(
        new float[] {0, 0, (float) ((1 - Math.exp(2.5)) / 5), 0, (float) ((1 - Math.exp(0.5)) / 5)},
        doubles2floats(r.gradLogprob()),
        1e-6f);
  }

  @Test
  void missingInputsAreNamed() {
    Tensor t = Tensor.create(new float[] {-1, -2}, 1, 2),
        m = Tensor.create(new float[] {1, 1}, 1, 2);
    PolicyLossConfig kl = PolicyLossConfig.ppo(0.2f, 0.2f, 3f, LossAggregation.TOKEN_MEAN, 0.1, 0);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> PolicyLoss.compute(t, t, null, null, t, m, kl));
    assertTrue(e.getMessage().contains("refLogprob"));
    assertThrows(
        IllegalArgumentException.class,
        () -> PolicyLossConfig.ppo(1.2f, 0.2f, 3f, LossAggregation.TOKEN_MEAN, 0, 0));
  }
}
