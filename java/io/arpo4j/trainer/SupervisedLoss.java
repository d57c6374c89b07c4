package io.arpo4j.trainer;

import java.util.Map;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

/**
 * Negative log-likelihood of the unmasked response tokens, averaged over every such token of the
 * mini-batch (so micro-batches add up to the mini-batch mean): the SFT cold-start loss.
 */
public final class SupervisedLoss implements TokenLoss {
  private final double miniBatchTokens;

  public SupervisedLoss(double miniBatchTokens) {
    if (!(miniBatchTokens > 0))
      throw new IllegalArgumentException("the mini-batch has no token to train on");
    this.miniBatchTokens = miniBatchTokens;
  }

  @Override
  public Value evaluate(int[] rows, Tensor logprob, Tensor entropy, Tensor mask) {
    Tensor weights = mask.div(new Scalar(miniBatchTokens));
    double loss = -logprob.mul(weights).sum().item_double();
    double tokens = mask.sum().item_double();
    return new Value(loss, weights.neg(), null, Map.of("tokens", tokens));
  }
}
