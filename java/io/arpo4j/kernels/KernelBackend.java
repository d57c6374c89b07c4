package io.arpo4j.kernels;

import java.lang.reflect.InvocationTargetException;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;

/**
 * The four kernels of native/include/arpo4j.h on one kind of device. {@link Kernels} picks the
 * backend once per call, from the device of the tensor the kernel reads ({@link #on}), and from
 * then on every native call and the error message go through it. Arguments are the checked, raw
 * ones of the header.
 */
sealed interface KernelBackend permits KernelBackend.Cpu, KernelBackend.Cuda {

  static KernelBackend on(Tensor tensor) {
    return tensor.is_cuda() ? new Cuda(tensor) : Cpu.INSTANCE;
  }

  int tokenStats(
      Pointer logits,
      int dtype,
      long n,
      long v,
      long rowStride,
      LongPointer targets,
      float temperature,
      FloatPointer logprob,
      FloatPointer entropy,
      FloatPointer logsumexp);

  int sample(
      Pointer logits,
      int dtype,
      long b,
      long v,
      long rowStride,
      float temperature,
      float topP,
      int topK,
      long seed,
      long step,
      LongPointer token,
      FloatPointer logprob,
      FloatPointer entropy);

  /**
   * Like the header's, but {@code stats} (ARPO_NUM_STATS values) lands in host memory on every
   * device.
   */
  int clippedSurrogate(
      FloatPointer logprob,
      FloatPointer oldLogprob,
      FloatPointer advantage,
      FloatPointer mask,
      long numSeqs,
      long seqLen,
      float epsLow,
      float epsHigh,
      float dualClipC,
      float clipGradLow,
      float clipGradHigh,
      int mode,
      FloatPointer loss,
      FloatPointer gradLogprob,
      float[] stats);

  int logprobBackward(
      Pointer logits,
      int dtype,
      long n,
      long v,
      long rowStride,
      LongPointer targets,
      FloatPointer logsumexp,
      FloatPointer entropy,
      FloatPointer gradLogprob,
      FloatPointer gradEntropy,
      float temperature);

  /** The message of the calling thread's last failed call. */
  String lastError();

  /** libarpo4j_native: host memory, synchronous. */
  final class Cpu implements KernelBackend {
    static final Cpu INSTANCE = new Cpu();

    private Cpu() {}

    @Override
    public int tokenStats(
        Pointer logits,
        int dtype,
        long n,
        long v,
        long rowStride,
        LongPointer targets,
        float temperature,
        FloatPointer logprob,
        FloatPointer entropy,
        FloatPointer logsumexp) {
      return NativeKernels.arpo_token_stats(
          logits, dtype, n, v, rowStride, targets, temperature, logprob, entropy, logsumexp);
    }

    @Override
    public int sample(
        Pointer logits,
        int dtype,
        long b,
        long v,
        long rowStride,
        float temperature,
        float topP,
        int topK,
        long seed,
        long step,
        LongPointer token,
        FloatPointer logprob,
        FloatPointer entropy) {
      return NativeKernels.arpo_sample(
          logits,
          dtype,
          b,
          v,
          rowStride,
          temperature,
          topP,
          topK,
          seed,
          step,
          token,
          logprob,
          entropy);
    }

    @Override
    public int clippedSurrogate(
        FloatPointer logprob,
        FloatPointer oldLogprob,
        FloatPointer advantage,
        FloatPointer mask,
        long numSeqs,
        long seqLen,
        float epsLow,
        float epsHigh,
        float dualClipC,
        float clipGradLow,
        float clipGradHigh,
        int mode,
        FloatPointer loss,
        FloatPointer gradLogprob,
        float[] stats) {
      try (FloatPointer out = new FloatPointer(NativeKernels.ARPO_NUM_STATS)) {
        int rc =
            NativeKernels.arpo_clipped_surrogate(
                logprob,
                oldLogprob,
                advantage,
                mask,
                numSeqs,
                seqLen,
                epsLow,
                epsHigh,
                dualClipC,
                clipGradLow,
                clipGradHigh,
                mode,
                loss,
                gradLogprob,
                out);
        out.get(stats);
        return rc;
      }
    }

    @Override
    public int logprobBackward(
        Pointer logits,
        int dtype,
        long n,
        long v,
        long rowStride,
        LongPointer targets,
        FloatPointer logsumexp,
        FloatPointer entropy,
        FloatPointer gradLogprob,
        FloatPointer gradEntropy,
        float temperature) {
      return NativeKernels.arpo_logprob_backward(
          logits,
          dtype,
          n,
          v,
          rowStride,
          targets,
          logsumexp,
          entropy,
          gradLogprob,
          gradEntropy,
          temperature);
    }

    @Override
    public String lastError() {
      return NativeKernels.arpo_last_error().getString();
    }
  }

  /** libarpo4j_cuda: device memory, queued on libtorch's current stream of the tensor's device. */
  final class Cuda implements KernelBackend {
    private final Tensor device;
    private final Pointer stream;

    Cuda(Tensor onDevice) {
      this.device = onDevice;
      this.stream = currentStream(onDevice);
    }

    @Override
    public int tokenStats(
        Pointer logits,
        int dtype,
        long n,
        long v,
        long rowStride,
        LongPointer targets,
        float temperature,
        FloatPointer logprob,
        FloatPointer entropy,
        FloatPointer logsumexp) {
      return CudaKernels.arpo_cuda_token_stats(
          logits,
          dtype,
          n,
          v,
          rowStride,
          targets,
          temperature,
          logprob,
          entropy,
          logsumexp,
          stream);
    }

    @Override
    public int sample(
        Pointer logits,
        int dtype,
        long b,
        long v,
        long rowStride,
        float temperature,
        float topP,
        int topK,
        long seed,
        long step,
        LongPointer token,
        FloatPointer logprob,
        FloatPointer entropy) {
      return CudaKernels.arpo_cuda_sample(
          logits,
          dtype,
          b,
          v,
          rowStride,
          temperature,
          topP,
          topK,
          seed,
          step,
          token,
          logprob,
          entropy,
          stream);
    }

    @Override
    public int clippedSurrogate(
        FloatPointer logprob,
        FloatPointer oldLogprob,
        FloatPointer advantage,
        FloatPointer mask,
        long numSeqs,
        long seqLen,
        float epsLow,
        float epsHigh,
        float dualClipC,
        float clipGradLow,
        float clipGradHigh,
        int mode,
        FloatPointer loss,
        FloatPointer gradLogprob,
        float[] stats) {
      try (Tensor out = Kernels.floatVector(device, NativeKernels.ARPO_NUM_STATS)) {
        int rc =
            CudaKernels.arpo_cuda_clipped_surrogate(
                logprob,
                oldLogprob,
                advantage,
                mask,
                numSeqs,
                seqLen,
                epsLow,
                epsHigh,
                dualClipC,
                clipGradLow,
                clipGradHigh,
                mode,
                loss,
                gradLogprob,
                new FloatPointer(out.data_ptr()),
                stream);
        if (rc == NativeKernels.ARPO_OK) {
          try (Tensor host = out.cpu()) { // waits for the stream: the statistics are read now
            new FloatPointer(host.data_ptr()).get(stats);
          }
        }
        return rc;
      }
    }

    @Override
    public int logprobBackward(
        Pointer logits,
        int dtype,
        long n,
        long v,
        long rowStride,
        LongPointer targets,
        FloatPointer logsumexp,
        FloatPointer entropy,
        FloatPointer gradLogprob,
        FloatPointer gradEntropy,
        float temperature) {
      return CudaKernels.arpo_cuda_logprob_backward(
          logits,
          dtype,
          n,
          v,
          rowStride,
          targets,
          logsumexp,
          entropy,
          gradLogprob,
          gradEntropy,
          temperature,
          stream);
    }

    @Override
    public String lastError() {
      return CudaKernels.arpo_cuda_last_error().getString();
    }

    /** libtorch's current CUDA stream, reached reflectively so CPU builds need no CUDA classes. */
    private static Pointer currentStream(Tensor t) {
      try {
        Class<?> torchCuda = Class.forName("org.bytedeco.pytorch.global.torch_cuda");
        Object stream =
            torchCuda
                .getMethod("getCurrentCUDAStream", byte.class)
                .invoke(null, t.device().index());
        return (Pointer) stream.getClass().getMethod("stream").invoke(stream);
      } catch (ClassNotFoundException | NoSuchMethodException | IllegalAccessException e) {
        throw new IllegalStateException("CUDA tensors need the gpu build of arpo4j (mvn -Pgpu)", e);
      } catch (InvocationTargetException e) {
        throw new IllegalStateException("cannot get the current CUDA stream", e.getCause());
      }
    }
  }
}
