package io.arpo4j.trainer;

import org.bytedeco.pytorch.Tensor;

/**
 * A loss over the response tokens of a micro-batch, given as [S, L] fp32 tensors padded with mask
 * 0: returns its value and its gradients with respect to logprob and entropy.
 */
@FunctionalInterface
public interface TokenLoss {
  /** gradEntropy may be null when the loss does not depend on entropy. */
  record Value(
      double loss, Tensor gradLogprob, Tensor gradEntropy, java.util.Map<String, Double> metrics) {}

  /**
   * @param rows indices (into the mini-batch) of the micro-batch's rows, in tensor row order
   */
  Value evaluate(int[] rows, Tensor logprob, Tensor entropy, Tensor mask);
}
