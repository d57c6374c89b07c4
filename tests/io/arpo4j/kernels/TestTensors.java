package io.arpo4j.kernels;

import java.util.SplittableRandom;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Random inputs and the float64 libtorch references the kernel tests compare against. */
final class TestTensors {
  private TestTensors() {}

  /**
   * The test's seed: fixed by default (from the test's name), or {@code -Darpo4j.test.seed=S} to
   * explore others; printed so a failure can be replayed.
   */
  static long freshSeed(String test) {
    long seed = Long.getLong("arpo4j.test.seed", test.hashCode());
    System.out.println(test + " seed=" + seed);
    return seed;
  }

  /**
   * Gaussian logits times {@code scale}, with about {@code negInfFraction} of entries -inf (never a
   * whole row).
   */
  static float[] logits(SplittableRandom rng, int n, int v, double scale, double negInfFraction) {
    float[] x = new float[n * v];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < v; j++) {
        x[i * v + j] = (float) (gaussian(rng) * scale);
        if (j != i % v && rng.nextDouble() < negInfFraction) x[i * v + j] = Float.NEGATIVE_INFINITY;
      }
    }
    return x;
  }

  static double gaussian(SplittableRandom rng) {
    double u = 1.0 - rng.nextDouble(), w = rng.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w);
  }

  /** Targets in [0, v), avoiding -inf logits so their log-prob is finite. */
  static long[] targets(SplittableRandom rng, float[] logits, int n, int v) {
    long[] t = new long[n];
    for (int i = 0; i < n; i++) {
      int j;
      do {
        j = rng.nextInt(v);
      } while (logits[i * v + j] == Float.NEGATIVE_INFINITY);
      t[i] = j;
    }
    return t;
  }

  static Tensor tensor(float[] data, long... shape) {
    return Tensor.create(data, shape);
  }

  static Tensor tensor(long[] data, long... shape) {
    return Tensor.create(data, shape);
  }

  static float[] floats(Tensor t) {
    Tensor c = t.to(ScalarType.Float).contiguous();
    float[] out = new float[(int) c.numel()];
    c.data_ptr_float().get(out);
    return out;
  }

  static double[] doubles(Tensor t) {
    Tensor c = t.to(ScalarType.Double).contiguous();
    double[] out = new double[(int) c.numel()];
    c.data_ptr_double().get(out);
    return out;
  }

  static long[] longs(Tensor t) {
    Tensor c = t.contiguous();
    long[] out = new long[(int) c.numel()];
    c.data_ptr_long().get(out);
    return out;
  }

  /** float64 reference of token_stats from libtorch composite ops: {logprob, entropy, lse} rows. */
  static double[][] referenceTokenStats(Tensor logits, long[] targets, double temperature) {
    Tensor s = logits.to(ScalarType.Double).div(new Scalar(temperature));
    Tensor logp = torch.log_softmax(s, 1);
    Tensor lse = torch.logsumexp(s, new long[] {1}, false);
    Tensor p = logp.exp();
    // p * s with p = 0 where s = -inf contributes nothing (0 * -inf would be NaN)
    Tensor sFinite = s.masked_fill(s.isinf(), new Scalar(0.0));
    Tensor entropy =
        lse.sub(
            p.mul(sFinite)
                .sum(new long[] {1}, false, new org.bytedeco.pytorch.ScalarTypeOptional()));
    double[] lp = new double[targets.length];
    double[] logpArr = doubles(logp);
    int v = (int) logits.size(1);
    for (int i = 0; i < targets.length; i++) lp[i] = logpArr[(int) (i * v + targets[i])];
    return new double[][] {lp, doubles(entropy), doubles(lse)};
  }

  static {
    torch.set_num_threads(2);
  }
}
