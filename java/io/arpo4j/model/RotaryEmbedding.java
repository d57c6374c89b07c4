package io.arpo4j.model;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Rotary position embeddings in the "rotate half" layout of HF Llama/Qwen. The inverse frequencies
 * and angles are computed with the same float32 libtorch operations, in the same order, as
 * transformers does, so the tables agree bit for bit with PyTorch on the same device.
 */
final class RotaryEmbedding implements AutoCloseable {

  private final Tensor invFreq; // float32 [headDim / 2], on the model's device

  RotaryEmbedding(RopeConfig rope, int headDim, RuntimeOptions runtime) {
    try (PointerScope scope = new PointerScope()) {
      // inv_freq = 1 / theta ** (arange(0, d, 2) / d)
      Tensor exponents =
          torch
              .arange(new Scalar(0L), new Scalar((long) headDim), new Scalar(2L))
              .to(ScalarType.Float)
              .div(new Scalar((double) headDim));
      Tensor inv = torch.pow(new Scalar(rope.theta()), exponents).reciprocal();
      inv =
          switch (rope.type()) {
            case DEFAULT -> inv;
            case LINEAR -> inv.div(new Scalar(rope.factor()));
            case LLAMA3 -> llama3(inv, rope);
          };
      Tensor result = inv.to(runtime.torchDevice(), ScalarType.Float).contiguous();
      result.retainReference();
      this.invFreq = result;
    }
  }

  /**
   * Llama 3.1 frequency-dependent scaling: long wavelengths are divided by {@code factor}, short
   * ones kept, and the band between interpolated smoothly.
   */
  private static Tensor llama3(Tensor inv, RopeConfig rope) {
    double oldContext = rope.originalMaxPositions();
    double lowFreqWavelen = oldContext / rope.lowFreqFactor();
    double highFreqWavelen = oldContext / rope.highFreqFactor();
    Tensor wavelen = inv.reciprocal().mul(new Scalar(2 * Math.PI));
    Tensor scaled =
        torch.where(
            wavelen.gt(new Scalar(lowFreqWavelen)), inv.div(new Scalar(rope.factor())), inv);
    Tensor smooth =
        wavelen
            .reciprocal()
            .mul(new Scalar(oldContext))
            .sub(new Scalar(rope.lowFreqFactor()))
            .div(new Scalar(rope.highFreqFactor() - rope.lowFreqFactor()));
    Tensor smoothed =
        torch
            .ones_like(smooth)
            .sub(smooth)
            .mul(scaled)
            .div(new Scalar(rope.factor()))
            .add(smooth.mul(scaled));
    Tensor medium =
        wavelen
            .lt(new Scalar(highFreqWavelen))
            .logical_not()
            .logical_and(wavelen.gt(new Scalar(lowFreqWavelen)).logical_not());
    return torch.where(medium, smoothed, scaled);
  }

  /**
   * cos and sin tables [B, 1, T, headDim] in {@code dtype} for int64 positions [B, T], shaped to
   * broadcast over the head dimension of [B, heads, T, headDim] queries and keys.
   */
  Tensor[] cosSin(Tensor positions, ScalarType dtype) {
    Tensor angles = positions.to(ScalarType.Float).unsqueeze(-1).mul(invFreq); // [B, T, d/2]
    TensorVector halves = new TensorVector(angles, angles);
    Tensor emb = torch.cat(halves, -1).unsqueeze(1); // [B, 1, T, d]
    return new Tensor[] {emb.cos().to(dtype), emb.sin().to(dtype)};
  }

  /** x * cos + rotate_half(x) * sin, where rotate_half(x) = cat(-x2, x1). */
  static Tensor apply(Tensor x, Tensor cos, Tensor sin) {
    long half = x.size(-1) / 2;
    Tensor x1 = x.narrow(-1, 0, half);
    Tensor x2 = x.narrow(-1, half, half);
    Tensor rotated = torch.cat(new TensorVector(x2.neg(), x1), -1);
    return x.mul(cos).add(rotated.mul(sin));
  }

  @Override
  public void close() {
    invFreq.releaseReference();
  }
}
