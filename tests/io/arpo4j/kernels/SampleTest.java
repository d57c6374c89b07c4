package io.arpo4j.kernels;

import static io.arpo4j.kernels.TestTensors.*;
import static io.arpo4j.testing.NumericAsserts.assertClose;
import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SampleTest {

  /** softmax(row / T) in float64, restricted to `keep` and renormalised. */
  static double[] distribution(float[] row, double temperature, boolean[] keep) {
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < row.length; j++) if (keep[j]) max = Math.max(max, row[j] / temperature);
    double[] p = new double[row.length];
    double sum = 0;
    for (int j = 0; j < row.length; j++) {
      p[j] = keep[j] ? Math.exp(row[j] / temperature - max) : 0;
      sum += p[j];
    }
    for (int j = 0; j < row.length; j++) p[j] /= sum;
    return p;
  }

  /** The kept set of top-k then top-p over softmax(row / T), computed by sorting in float64. */
  static boolean[] keptSet(float[] row, double temperature, int topK, double topP) {
    int v = row.length;
    Integer[] order = new Integer[v];
    for (int j = 0; j < v; j++) order[j] = j;
    Arrays.sort(order, (a, b) -> Float.compare(row[b], row[a]));
    int k = topK > 0 ? Math.min(topK, v) : v;
    boolean[] keep = new boolean[v];
    for (int r = 0; r < k; r++) keep[order[r]] = true;
    double[] p = distribution(row, temperature, keep);
    boolean[] nucleus = new boolean[v];
    double acc = 0;
    for (int r = 0; r < k; r++) {
      nucleus[order[r]] = true;
      acc += p[order[r]];
      if (acc >= topP) break;
    }
    return nucleus;
  }

  /** Chi-square statistic of counts against probabilities, pooling cells with expectation < 5. */
  static double[] chiSquare(long[] counts, double[] p, long total) {
    double stat = 0, pooledExpected = 0, pooledObserved = 0;
    int cells = 0;
    for (int j = 0; j < p.length; j++) {
      double e = p[j] * total;
      if (e < 5) {
        pooledExpected += e;
        pooledObserved += counts[j];
        continue;
      }
      stat += (counts[j] - e) * (counts[j] - e) / e;
      cells++;
    }
    if (pooledExpected > 0) {
      stat +=
          (pooledObserved - pooledExpected)
              * (pooledObserved - pooledExpected)
              / Math.max(pooledExpected, 1e-9);
      cells++;
    }
    return new double[] {stat, cells - 1};
  }

  /**
   * Upper critical value of chi-square with df degrees of freedom at z standard deviations
   * (Wilson-Hilferty).
   */
  static double critical(double df, double z) {
    double a = 2.0 / (9 * df);
    return df * Math.pow(1 - a + z * Math.sqrt(a), 3);
  }

  @ParameterizedTest(name = "V={0} T={1} topK={2} topP={3} bf16={4}")
  @CsvSource({
    "40, 1.0, 0, 1.0, false",
    "200, 0.7, 0, 1.0, false",
    "200, 1.0, 10, 1.0, false",
    "300, 1.2, 0, 0.8, false",
    "300, 0.9, 25, 0.9, false",
    "100, 1.0, 0, 0.9, true",
  })
  void frequenciesMatchTheFilteredSoftmax(
      int v, float temperature, int topK, float topP, boolean bf16) {
    SplittableRandom rng = new SplittableRandom(freshSeed("sample chi-square"));
    float[] row = logits(rng, 1, v, 1.5, 0.0);
    Tensor one = tensor(row, 1, v);
    if (bf16) one = one.to(ScalarType.BFloat16);
    row = floats(one);
    int draws = 40000;
    Tensor batch = one.expand(draws, v).contiguous(); // row index is part of the RNG counter
    long seed = rng.nextLong();
    long[] tokens = longs(Kernels.sample(batch, temperature, topP, topK, seed, 7).tokens());
    boolean[] keep = keptSet(row, temperature, topK, topP);
    double[] p = distribution(row, temperature, keep);
    long[] counts = new long[v];
    for (long t : tokens) {
      assertTrue(keep[(int) t], "token " + t + " is outside the top-k/top-p set");
      counts[(int) t]++;
    }
    double[] chi = chiSquare(counts, p, draws);
    double limit = critical(chi[1], 4.75); // about a one-in-a-million false alarm
    assertTrue(chi[0] < limit, "chi-square " + chi[0] + " > " + limit + " with df " + chi[1]);
  }

  @ParameterizedTest(name = "V={0} topK={1} topP={2}")
  @CsvSource({"151936, 50, 1.0", "151936, 0, 0.7", "32000, 5, 0.5", "1003, 1, 1.0"})
  void neverEmitsFilteredTokens(int v, int topK, float topP) {
    SplittableRandom rng = new SplittableRandom(freshSeed("sample filtering"));
    int b = 8;
    float[] data = logits(rng, b, v, 4.0, 0.01);
    Tensor logits = tensor(data, b, v);
    for (int step = 0; step < 3; step++) {
      long[] tokens =
          longs(Kernels.sample(logits, 0.8f, topP, topK, rng.nextLong(), step).tokens());
      for (int i = 0; i < b; i++) {
        float[] row = Arrays.copyOfRange(data, i * v, (i + 1) * v);
        assertTrue(
            keptSet(row, 0.8, topK, topP)[(int) tokens[i]], "row " + i + " token " + tokens[i]);
      }
    }
  }

  @Test
  void sameSeedAndStepReproduce() {
    SplittableRandom rng = new SplittableRandom(freshSeed("sample reproducibility"));
    int b = 64, v = 5000;
    Tensor logits = tensor(logits(rng, b, v, 1.0, 0.0), b, v);
    long seed = rng.nextLong();
    long[] first = longs(Kernels.sample(logits, 1.0f, 0.95f, 0, seed, 3).tokens());
    long[] again = longs(Kernels.sample(logits, 1.0f, 0.95f, 0, seed, 3).tokens());
    long[] nextStep = longs(Kernels.sample(logits, 1.0f, 0.95f, 0, seed, 4).tokens());
    assertArrayEquals(first, again);
    assertFalse(Arrays.equals(first, nextStep), "a new step must draw new tokens");
  }

  @ParameterizedTest(name = "bf16={0}")
  @CsvSource({"false", "true"})
  void greedyIsArgmaxWithStatsOfTheUntemperedSoftmax(boolean bf16) {
    SplittableRandom rng = new SplittableRandom(freshSeed("sample greedy"));
    int b = 16, v = 151936;
    Tensor logits = tensor(logits(rng, b, v, 3.0, 0.001), b, v);
    if (bf16) logits = logits.to(ScalarType.BFloat16);
    float[] data = floats(logits);
    Kernels.Sampled s = Kernels.sample(logits, 0f, 1f, 0, rng.nextLong(), 0);
    long[] tokens = longs(s.tokens());
    for (int i = 0; i < b; i++) {
      int best = 0;
      for (int j = 1; j < v; j++) if (data[i * v + j] > data[i * v + best]) best = j;
      assertEquals(best, tokens[i], "row " + i);
    }
    double[][] ref = referenceTokenStats(logits, tokens, 1.0);
    assertClose("logprob", ref[0], floats(s.logprob()), 2e-5, 1e-5);
    assertClose("entropy", ref[1], floats(s.entropy()), 2e-5, 1e-5);
  }

  @Test
  void reportsLogprobAndEntropyOfTheUnfilteredTemperatureDistribution() {
    SplittableRandom rng = new SplittableRandom(freshSeed("sample stats"));
    int b = 12, v = 32000;
    Tensor logits = tensor(logits(rng, b, v, 2.0, 0.0), b, v);
    Kernels.Sampled s = Kernels.sample(logits, 0.6f, 0.9f, 40, rng.nextLong(), 11);
    double[][] ref = referenceTokenStats(logits, longs(s.tokens()), 0.6);
    assertClose("logprob", ref[0], floats(s.logprob()), 2e-5, 1e-5);
    assertClose("entropy", ref[1], floats(s.entropy()), 2e-5, 1e-5);
  }
}
