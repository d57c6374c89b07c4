package io.arpo4j.kernels;

import static io.arpo4j.kernels.TestTensors.*;
import static io.arpo4j.testing.NumericAsserts.assertClose;

import java.util.SplittableRandom;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class LogprobBackwardTest {

  /** d/dz of sum(g_lp * logprob + g_h * entropy) by libtorch autograd of the float64 composite. */
  static double[] referenceGradient(
      Tensor logits, long[] targets, float[] gLp, float[] gH, double temperature) {
    int n = (int) logits.size(0);
    Tensor z = logits.to(ScalarType.Double).detach().requires_grad_(true);
    Tensor s = z.div(new Scalar(temperature));
    Tensor logp = torch.log_softmax(s, 1);
    Tensor lp = logp.gather(1, tensor(targets, n, 1)).squeeze(1);
    Tensor objective = lp.mul(tensor(gLp, n).to(ScalarType.Double)).sum();
    if (gH != null) {
      Tensor p = logp.exp();
      Tensor finiteLogp = logp.masked_fill(logp.isinf(), new Scalar(0.0)); // p = 0 there
      Tensor entropy = p.mul(finiteLogp).sum(new long[] {1}, false, new ScalarTypeOptional()).neg();
      objective = objective.add(entropy.mul(tensor(gH, n).to(ScalarType.Double)).sum());
    }
    objective.backward(
        torch.ones_like(objective), new BoolOptional(), false, new TensorArrayRefOptional());
    return doubles(z.grad());
  }

  static float[] randomVector(SplittableRandom rng, int n) {
    float[] g = new float[n];
    for (int i = 0; i < n; i++) g[i] = (float) gaussian(rng);
    return g;
  }

  @ParameterizedTest(name = "N={0} V={1} T={2} entropy={3} -inf={4} bf16={5}")
  @CsvSource({
    "1, 151936, 1.0, true, 0.0, false",
    "6, 1003, 0.7, true, 0.05, false",
    "5, 32000, 1.0, false, 0.0, false",
    "17, 33, 1.5, true, 0.1, false",
    "4, 4099, 0.8, true, 0.0, true",
  })
  void inPlaceGradientMatchesAutograd(
      int n, int v, float temperature, boolean withEntropy, double negInf, boolean bf16) {
    SplittableRandom rng = new SplittableRandom(freshSeed("logprob_backward"));
    Tensor logits = tensor(logits(rng, n, v, 3.0, negInf), n, v);
    if (bf16) logits = logits.to(ScalarType.BFloat16);
    long[] targets = targets(rng, floats(logits), n, v);
    float[] gLp = randomVector(rng, n), gH = withEntropy ? randomVector(rng, n) : null;
    double[] expected = referenceGradient(logits, targets, gLp, gH, temperature);

    Tensor t = tensor(targets, n);
    Kernels.TokenStats stats = Kernels.tokenStats(logits, t, temperature);
    Kernels.logprobBackwardInPlace(
        logits, t, stats, tensor(gLp, n), gH == null ? null : tensor(gH, n), temperature);
    // bf16 gradients are rounded to 8 bits of mantissa when written back; fp32 sums over V terms
    // round to a few 1e-7 (a fresh-seed run once measured 2.4e-7 on a 3.6e-3 gradient)
    double rtol = bf16 ? 8e-3 : 2e-5, atol = bf16 ? 1e-6 : 5e-7;
    assertClose("grad", expected, floats(logits), atol, rtol);
  }

  @ParameterizedTest(name = "through autograd, T={0}")
  @CsvSource({"1.0", "0.6"})
  void fusedLogprobBackpropagatesIntoTheGraph(float temperature) {
    SplittableRandom rng = new SplittableRandom(freshSeed("fused logprob autograd"));
    int n = 9, d = 16, v = 777;
    Tensor hidden = tensor(logits(rng, n, d, 1.0, 0.0), n, d).requires_grad_(true);
    Tensor weight = tensor(logits(rng, v, d, 0.5, 0.0), v, d);
    Tensor logits =
        hidden.matmul(weight.t()); // a linear head: its backward needs hidden and weight only
    long[] targets = targets(rng, floats(logits), n, v);
    float[] gLp = randomVector(rng, n), gH = randomVector(rng, n);

    FusedLogprob f = FusedLogprob.forward(logits, tensor(targets, n), temperature);
    f.backward(tensor(gLp, n), tensor(gH, n));

    Tensor h64 = hidden.detach().to(ScalarType.Double).requires_grad_(true);
    Tensor logits64 = h64.matmul(weight.to(ScalarType.Double).t());
    Tensor s = logits64.div(new Scalar(temperature));
    Tensor logp = torch.log_softmax(s, 1);
    Tensor lp = logp.gather(1, tensor(targets, n, 1)).squeeze(1);
    Tensor entropy =
        logp.exp().mul(logp).sum(new long[] {1}, false, new ScalarTypeOptional()).neg();
    Tensor objective =
        lp.mul(tensor(gLp, n).to(ScalarType.Double))
            .sum()
            .add(entropy.mul(tensor(gH, n).to(ScalarType.Double)).sum());
    objective.backward(
        torch.ones_like(objective), new BoolOptional(), false, new TensorArrayRefOptional());
    assertClose("hidden.grad", doubles(h64.grad()), floats(hidden.grad()), 1e-5, 1e-4);
  }
}
