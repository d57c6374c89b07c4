package io.arpo4j.kernels;

import static io.arpo4j.kernels.TestTensors.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/**
 * Bad inputs never reach native code: each is rejected in Java with a message naming the argument.
 */
class KernelArgumentsTest {
  interface Call {
    void run();
  }

  static void rejects(String expectedInMessage, Call call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
    assertTrue(
        e.getMessage().contains(expectedInMessage),
        "message '" + e.getMessage() + "' should mention '" + expectedInMessage + "'");
  }

  final SplittableRandom rng = new SplittableRandom(freshSeed("kernel arguments"));
  final int n = 4, v = 50;
  final Tensor logits = tensor(logits(rng, n, v, 1.0, 0.0), n, v);
  final Tensor targets = tensor(new long[] {0, 5, 17, 49}, n);

  @Test
  void tokenStatsRejectsBadLogits() {
    rejects(
        "logits must be float32 or bfloat16",
        () -> Kernels.tokenStats(logits.to(ScalarType.Double), targets, 1f));
    rejects(
        "logits must be float32 or bfloat16",
        () -> Kernels.tokenStats(logits.to(ScalarType.Half), targets, 1f));
    rejects("logits must be 2-D", () -> Kernels.tokenStats(logits.reshape(2, 2, 50), targets, 1f));
    rejects("logits must be 2-D", () -> Kernels.tokenStats(logits.reshape(200), targets, 1f));
    rejects("logits must be non-empty", () -> Kernels.tokenStats(logits.narrow(1, 0, 0), null, 1f));
    rejects(
        "logits must be contiguous in its last dimension",
        () -> Kernels.tokenStats(logits.t(), null, 1f));
    rejects(
        "logits rows overlap",
        () ->
            Kernels.tokenStats(
                logits.reshape(200).as_strided(new long[] {4, 50}, new long[] {10, 1}), null, 1f));
    rejects("logits must not be null", () -> Kernels.tokenStats(null, targets, 1f));
    rejects("logits must not be null", () -> Kernels.tokenStats(new Tensor(), targets, 1f));
  }

  @Test
  void tokenStatsRejectsBadTargetsAndTemperature() {
    rejects(
        "targets must lie in [0, 50)",
        () -> Kernels.tokenStats(logits, tensor(new long[] {0, 5, 50, 1}, n), 1f));
    rejects(
        "targets must lie in [0, 50)",
        () -> Kernels.tokenStats(logits, tensor(new long[] {0, -1, 3, 1}, n), 1f));
    rejects(
        "targets must be int64", () -> Kernels.tokenStats(logits, targets.to(ScalarType.Int), 1f));
    rejects(
        "targets must be 1-D [4]",
        () -> Kernels.tokenStats(logits, tensor(new long[] {1, 2, 3}, 3), 1f));
    rejects(
        "targets must be contiguous",
        () ->
            Kernels.tokenStats(
                logits,
                tensor(new long[] {1, 2, 3, 4, 5, 6, 7, 8}, 8)
                    .as_strided(new long[] {4}, new long[] {2}),
                1f));
    for (float bad : new float[] {0f, -1f, Float.NaN, Float.POSITIVE_INFINITY}) {
      rejects("temperature must be finite and > 0", () -> Kernels.tokenStats(logits, targets, bad));
    }
  }

  @Test
  void sampleRejectsBadKnobs() {
    rejects(
        "temperature must be finite and >= 0", () -> Kernels.sample(logits, -0.5f, 1f, 0, 1, 0));
    rejects(
        "temperature must be finite and >= 0",
        () -> Kernels.sample(logits, Float.NaN, 1f, 0, 1, 0));
    rejects("topP must be in (0, 1]", () -> Kernels.sample(logits, 1f, 0f, 0, 1, 0));
    rejects("topP must be in (0, 1]", () -> Kernels.sample(logits, 1f, 1.5f, 0, 1, 0));
    rejects("topP must be in (0, 1]", () -> Kernels.sample(logits, 1f, Float.NaN, 0, 1, 0));
    rejects("topK must be >= 0", () -> Kernels.sample(logits, 1f, 1f, -3, 1, 0));
    rejects("logits must be 2-D", () -> Kernels.sample(logits.reshape(200), 1f, 1f, 0, 1, 0));
  }

  @Test
  void clippedSurrogateRejectsMismatches() {
    Tensor a = tensor(logits(rng, 3, 7, 1.0, 0.0), 3, 7);
    Tensor b = tensor(logits(rng, 3, 7, 1.0, 0.0), 3, 7);
    Tensor mask = tensor(new float[21], 3, 7).add(new org.bytedeco.pytorch.Scalar(1.0));
    rejects(
        "oldLogprob must have the shape of logprob",
        () ->
            Kernels.clippedSurrogate(
                a, b.reshape(7, 3), b, mask, 0.2f, 0.2f, 3f, 0f, 0f, LossAggregation.TOKEN_MEAN));
    rejects(
        "mask must be float32",
        () ->
            Kernels.clippedSurrogate(
                a,
                b,
                b,
                mask.to(ScalarType.Bool),
                0.2f,
                0.2f,
                3f,
                0f,
                0f,
                LossAggregation.TOKEN_MEAN));
    rejects(
        "advantage must be contiguous",
        () ->
            Kernels.clippedSurrogate(
                a,
                b,
                tensor(logits(rng, 7, 3, 1.0, 0.0), 7, 3).t(),
                mask,
                0.2f,
                0.2f,
                3f,
                0f,
                0f,
                LossAggregation.TOKEN_MEAN));
    rejects(
        "epsLow must be in [0, 1)",
        () ->
            Kernels.clippedSurrogate(
                a, b, b, mask, 1f, 0.2f, 3f, 0f, 0f, LossAggregation.TOKEN_MEAN));
    rejects(
        "epsHigh must be finite and >= 0",
        () ->
            Kernels.clippedSurrogate(
                a, b, b, mask, 0.2f, -0.1f, 3f, 0f, 0f, LossAggregation.TOKEN_MEAN));
    rejects(
        "clipGradLow must be finite and >= 0",
        () ->
            Kernels.clippedSurrogate(
                a, b, b, mask, 0.2f, 0.2f, 3f, -1f, 1f, LossAggregation.TOKEN_MEAN));
    rejects(
        "clipGradHigh must be finite and >= 0",
        () ->
            Kernels.clippedSurrogate(
                a, b, b, mask, 0.2f, 0.2f, 3f, 0f, Float.NaN, LossAggregation.TOKEN_MEAN));
    rejects(
        "aggregation must not be null",
        () -> Kernels.clippedSurrogate(a, b, b, mask, 0.2f, 0.2f, 3f, 0f, 0f, null));
    rejects(
        "logprob must not be null",
        () ->
            Kernels.clippedSurrogate(
                null, b, b, mask, 0.2f, 0.2f, 3f, 0f, 0f, LossAggregation.TOKEN_MEAN));
  }

  @Test
  void backwardRejectsMismatchedStats() {
    Kernels.TokenStats stats = Kernels.tokenStats(logits, targets, 1f);
    Tensor grad = tensor(new float[] {1, 2, 3, 4}, n);
    rejects(
        "gradLogprob must be 1-D [4]",
        () ->
            Kernels.logprobBackwardInPlace(
                logits, targets, stats, tensor(new float[] {1, 2}, 2), null, 1f));
    rejects(
        "stats.logsumexp must be 1-D [4]",
        () ->
            Kernels.logprobBackwardInPlace(
                logits,
                targets,
                new Kernels.TokenStats(null, stats.entropy(), tensor(new float[] {1}, 1)),
                grad,
                null,
                1f));
    rejects(
        "stats.entropy must not be null",
        () ->
            Kernels.logprobBackwardInPlace(
                logits,
                targets,
                new Kernels.TokenStats(null, null, stats.logsumexp()),
                grad,
                grad,
                1f));
    rejects(
        "targets must lie in [0, 50)",
        () ->
            Kernels.logprobBackwardInPlace(
                logits, tensor(new long[] {0, 1, 2, 99}, n), stats, grad, null, 1f));
    rejects("loss.aggregation must be one of", () -> LossAggregation.REGISTRY.get("loss mask"));
  }

  @Test
  void fusedLogprobNeedsAGraph() {
    FusedLogprob f = FusedLogprob.forward(logits.clone(), targets, 1f);
    assertThrows(
        IllegalStateException.class, () -> f.backward(tensor(new float[] {1, 1, 1, 1}, n), null));
  }
}
