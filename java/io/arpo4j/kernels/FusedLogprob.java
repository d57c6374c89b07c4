package io.arpo4j.kernels;

import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;

/**
 * Autograd bridge for per-token log-probabilities and entropies: {@link #forward} reads the logits
 * with the fused kernel; {@link #backward} writes d loss / d logits over the logits' own memory and
 * hands it to libtorch's autograd ({@code logits.backward(grad)}), so the gradient flows into
 * whatever produced the logits (the LM head, the hidden states) without a second [N, V] buffer. Use
 * once: the logits' values are gone after {@link #backward}.
 *
 * <p>The logits must not be needed by the backward of the op that produced them (true of a linear
 * layer or matmul, whose backward reads its inputs, not its output).
 */
public final class FusedLogprob {
  private final Tensor logits;
  private final Tensor targets;
  private final float temperature;
  private final Kernels.TokenStats stats;
  private boolean consumed;

  private FusedLogprob(Tensor logits, Tensor targets, float temperature, Kernels.TokenStats stats) {
    this.logits = logits;
    this.targets = targets;
    this.temperature = temperature;
    this.stats = stats;
  }

  /** Computes logprob and entropy of softmax(logits / T) for each row; logits may require grad. */
  public static FusedLogprob forward(Tensor logits, Tensor targets, float temperature) {
    if (targets == null) throw new IllegalArgumentException("targets must not be null");
    return new FusedLogprob(
        logits, targets, temperature, Kernels.tokenStats(logits, targets, temperature));
  }

  /** fp32 [N], no grad: differentiate through {@link #backward}. */
  public Tensor logprob() {
    return stats.logprob();
  }

  /** fp32 [N], no grad: differentiate through {@link #backward}. */
  public Tensor entropy() {
    return stats.entropy();
  }

  /**
   * Backpropagates {@code sum(gradLogprob * logprob + gradEntropy * entropy)} into the logits'
   * autograd graph. {@code gradEntropy} may be null (no entropy term).
   */
  public void backward(Tensor gradLogprob, Tensor gradEntropy) {
    if (consumed)
      throw new IllegalStateException(
          "backward was already called: the logits buffer now holds a gradient");
    if (!logits.requires_grad())
      throw new IllegalStateException("logits do not require grad: nothing to backpropagate into");
    Tensor buffer = logits.detach(); // same memory, outside the graph
    Kernels.logprobBackwardInPlace(buffer, targets, stats, gradLogprob, gradEntropy, temperature);
    consumed = true;
    logits.backward(buffer, new BoolOptional(), false, new TensorArrayRefOptional());
  }
}
