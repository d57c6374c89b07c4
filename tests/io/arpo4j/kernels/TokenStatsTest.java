package io.arpo4j.kernels;

import static io.arpo4j.kernels.TestTensors.*;
import static io.arpo4j.testing.NumericAsserts.assertClose;

import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TokenStatsTest {

  @ParameterizedTest(name = "N={0} V={1} scale={2} T={3} -inf={4} bf16={5}")
  @CsvSource({
    "1, 151936, 3.0, 1.0, 0.0, false",
    "5, 151936, 5.0, 0.7, 0.001, false",
    "7, 1003, 1.0, 1.0, 0.0, false",
    "33, 17, 2.0, 1.3, 0.2, false",
    "4, 32000, 10000.0, 0.6, 0.01, false",
    "6, 4099, 50.0, 2.0, 0.05, false",
    "5, 151936, 5.0, 0.7, 0.001, true",
    "9, 1003, 4.0, 1.0, 0.1, true",
    "4, 32000, 10000.0, 0.8, 0.0, true",
  })
  void matchesFloat64Composite(
      int n, int v, double scale, float temperature, double negInf, boolean bf16) {
    SplittableRandom rng = new SplittableRandom(freshSeed("token_stats"));
    float[] data = logits(rng, n, v, scale, negInf);
    Tensor logits = tensor(data, n, v);
    if (bf16) logits = logits.to(ScalarType.BFloat16);
    float[] rounded =
        floats(logits); // bf16 inputs: the reference sees exactly what the kernel sees
    long[] targets = targets(rng, rounded, n, v);
    Kernels.TokenStats stats = Kernels.tokenStats(logits, tensor(targets, n), temperature);
    double[][] ref = referenceTokenStats(logits, targets, temperature);
    // The kernel scales in fp32: errors are relative to the largest |z / T| of the inputs.
    double atol = 1e-5 + 4e-7 * scale * 6 / temperature;
    assertClose("logprob", ref[0], floats(stats.logprob()), atol, 1e-5);
    assertClose("entropy", ref[1], floats(stats.entropy()), atol, 1e-5);
    assertClose("logsumexp", ref[2], floats(stats.logsumexp()), atol, 1e-6);
  }

  @ParameterizedTest(name = "strided slice bf16={0}")
  @CsvSource({"false", "true"})
  void readsRowsOfAStridedSlice(boolean bf16) {
    SplittableRandom rng = new SplittableRandom(freshSeed("token_stats strided"));
    int n = 6, wide = 5000, v = 3001;
    Tensor full = tensor(logits(rng, n, wide, 4.0, 0.0), n, wide);
    if (bf16) full = full.to(ScalarType.BFloat16);
    Tensor slice = full.narrow(1, 1000, v); // row stride 5000, V 3001
    long[] targets = targets(rng, floats(slice), n, v);
    Kernels.TokenStats stats = Kernels.tokenStats(slice, tensor(targets, n), 1.0f);
    double[][] ref = referenceTokenStats(slice.contiguous(), targets, 1.0);
    assertClose("logprob", ref[0], floats(stats.logprob()), 1e-5, 1e-5);
    assertClose("entropy", ref[1], floats(stats.entropy()), 1e-5, 1e-5);
  }

  @org.junit.jupiter.api.Test
  void withoutTargetsComputesEntropyOnly() {
    SplittableRandom rng = new SplittableRandom(freshSeed("token_stats no targets"));
    int n = 3, v = 2000;
    Tensor logits = tensor(logits(rng, n, v, 2.0, 0.0), n, v);
    Kernels.TokenStats stats = Kernels.tokenStats(logits, null, 1.0f);
    org.junit.jupiter.api.Assertions.assertNull(stats.logprob());
    double[][] ref = referenceTokenStats(logits, new long[n], 1.0);
    assertClose("entropy", ref[1], floats(stats.entropy()), 1e-5, 1e-5);
  }
}
