package io.arpo4j.loss;

import static org.junit.jupiter.api.Assertions.*;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/** AEPO.md §4 on values worked out by hand. */
class EntropyAwareAdvantageTest {
  static float[] values(Tensor t) {
    Tensor c = t.to(ScalarType.Float).contiguous();
    float[] out = new float[(int) c.numel()];
    c.data_ptr_float().get(out);
    return out;
  }

  // training tokens H = 1, 2, 3, 4 and a tool-result token (mask 0) of entropy 9
  static final float[] H = {1, 2, 3, 4, 9};
  static final float[] MASK = {1, 1, 1, 1, 0};
  static final float[] ADV = {1, -1, 2, 0.5f, 7};

  @Test
  void momentsAreOverTheTrainingTokensOnly() {
    double[] sums = EntropyAwareAdvantage.sums(H, MASK);
    assertArrayEquals(new double[] {4, 10, 30}, sums, 0);
    EntropyAwareAdvantage.Moments m = EntropyAwareAdvantage.Moments.of(sums);
    assertEquals(2.5, m.mean(), 1e-12); // the masked 9 is not in it
    assertEquals(Math.sqrt(1.25), m.std(), 1e-12); // population std: (2.25+.25+.25+2.25)/4
    assertEquals(
        new EntropyAwareAdvantage.Moments(0, 0),
        EntropyAwareAdvantage.Moments.of(new double[] {0, 0, 0}));
  }

  @Test
  void shapesTheAdvantageAndClampsAtZero() {
    EntropyAwareAdvantage.Moments m =
        EntropyAwareAdvantage.Moments.of(EntropyAwareAdvantage.sums(H, MASK));
    EntropyAwareAdvantage.Result r =
        EntropyAwareAdvantage.apply(
            Tensor.create(ADV, 1, 5), Tensor.create(H, 1, 5), Tensor.create(MASK, 1, 5), m, 1.0);
    // z = (H - 2.5)/sqrt(1.25) = -1.3416, -0.4472, 0.4472, 1.3416; a = 1:
    // max(0, 1 + z) = 0 (clamped), 0.5528, 1.4472, 2.3416
    double s = Math.sqrt(1.25);
    double[] factor = {0, 1 - 0.5 / s, 1 + 0.5 / s, 1 + 1.5 / s};
    float[] got = values(r.advantage());
    for (int i = 0; i < 4; i++) assertEquals(ADV[i] * factor[i], got[i], 1e-6, "token " + i);
    assertEquals(4.0 / s / 4, r.meanAbsZ(), 1e-12); // (1.5 + .5 + .5 + 1.5)/sqrt(1.25)/4
    assertEquals(0.25, r.clampedFraction(), 0);
    assertEquals(4, r.tokens(), 0);

    // a = 0.2: nothing clamps, Ã = Â (1 + 0.2 z)
    EntropyAwareAdvantage.Result small =
        EntropyAwareAdvantage.apply(
            Tensor.create(ADV, 1, 5), Tensor.create(H, 1, 5), Tensor.create(MASK, 1, 5), m, 0.2);
    float[] g = values(small.advantage());
    for (int i = 0; i < 4; i++)
      assertEquals(ADV[i] * (1 + 0.2 * (H[i] - 2.5) / s), g[i], 1e-6, "token " + i);
    assertEquals(0, small.clampedFraction(), 0);
  }

  @Test
  void constantEntropiesLeaveTheAdvantageAlone() {
    float[] flat = {2, 2, 2, 2, 2};
    EntropyAwareAdvantage.Moments m =
        EntropyAwareAdvantage.Moments.of(EntropyAwareAdvantage.sums(flat, MASK));
    assertEquals(0, m.std(), 1e-12);
    EntropyAwareAdvantage.Result r =
        EntropyAwareAdvantage.apply(
            Tensor.create(ADV, 1, 5), Tensor.create(flat, 1, 5), Tensor.create(MASK, 1, 5), m, 0.2);
    assertArrayEquals(ADV, values(r.advantage()), 0f);
    assertEquals(0, r.meanAbsZ(), 0);
  }

  @Test
  void badArgumentsAreNamed() {
    Tensor t = Tensor.create(ADV, 1, 5);
    EntropyAwareAdvantage.Moments m = new EntropyAwareAdvantage.Moments(1, 1);
    assertTrue(
        assertThrows(
                IllegalArgumentException.class, () -> EntropyAwareAdvantage.apply(t, t, t, m, 0))
            .getMessage()
            .contains("coef"));
    assertTrue(
        assertThrows(
                IllegalArgumentException.class,
                () -> EntropyAwareAdvantage.apply(t, Tensor.create(H, 5), t, m, 0.2))
            .getMessage()
            .contains("shape"));
    assertTrue(
        assertThrows(
                IllegalArgumentException.class,
                () -> EntropyAwareAdvantage.Scope.REGISTRY.get("microbatch"))
            .getMessage()
            .contains("aepo.entropy_norm_scope"));
  }
}
