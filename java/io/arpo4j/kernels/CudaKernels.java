package io.arpo4j.kernels;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JNI bridge to the CUDA kernels (libarpo4j_cuda), generated only by the {@code gpu} Maven profile.
 * Each call queues work on the given CUDA stream. Call {@link Kernels} instead.
 */
@Platform(include = "arpo4j.h", link = "arpo4j_cuda")
final class CudaKernels {
  static {
    Loader.load();
  }

  private CudaKernels() {}

  static native int arpo_cuda_token_stats(
      @Const Pointer logits,
      @Cast("arpo_dtype") int dtype,
      long n,
      long v,
      long rowStride,
      @Cast("const int64_t*") LongPointer targets,
      float temperature,
      FloatPointer logprob,
      FloatPointer entropy,
      FloatPointer logsumexp,
      Pointer stream);

  static native int arpo_cuda_sample(
      @Const Pointer logits,
      @Cast("arpo_dtype") int dtype,
      long b,
      long v,
      long rowStride,
      float temperature,
      float topP,
      int topK,
      @Cast("uint64_t") long seed,
      @Cast("uint64_t") long step,
      @Cast("int64_t*") LongPointer token,
      FloatPointer logprob,
      FloatPointer entropy,
      Pointer stream);

  static native int arpo_cuda_clipped_surrogate(
      @Const FloatPointer logprob,
      @Const FloatPointer oldLogprob,
      @Const FloatPointer advantage,
      @Const FloatPointer mask,
      long numSeqs,
      long seqLen,
      float epsLow,
      float epsHigh,
      float dualClipC,
      float clipGradLow,
      float clipGradHigh,
      @Cast("arpo_agg_mode") int mode,
      FloatPointer loss,
      FloatPointer gradLogprob,
      FloatPointer stats,
      Pointer stream);

  static native int arpo_cuda_logprob_backward(
      Pointer logits,
      @Cast("arpo_dtype") int dtype,
      long n,
      long v,
      long rowStride,
      @Cast("const int64_t*") LongPointer targets,
      @Const FloatPointer logsumexp,
      @Const FloatPointer entropy,
      @Const FloatPointer gradLogprob,
      @Const FloatPointer gradEntropy,
      float temperature,
      Pointer stream);

  static native @Cast("const char*") BytePointer arpo_cuda_last_error();
}
