package io.arpo4j.model;

import io.arpo4j.kernels.NativeLibraries;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Where and in what precision a model runs.
 *
 * @param device {@code cpu}, {@code cuda} or {@code cuda:N}
 * @param dtype parameter and activation type: F32 on CPU (exact parity with HF), BF16 on GPU
 * @param cpuThreads intra-op threads for libtorch on CPU; 0 keeps libtorch's default (one per
 *     physical core), which is right unless other work shares the machine
 * @param fp32Master mixed precision: the parameters (what the optimizer updates and checkpoints
 *     save) are fp32 master weights, and forward/backward run on {@code dtype} copies of them.
 *     Without it a bf16 model is updated in bf16, where a step below the weight's resolution (|w| /
 *     256) is lost. Ignored when {@code dtype} is F32.
 */
public record RuntimeOptions(String device, StorageType dtype, int cpuThreads, boolean fp32Master) {
  static {
    NativeLibraries.load(); // the bundled libtorch, before anything here touches a tensor
  }

  public RuntimeOptions {
    if (device == null || !(device.equals("cpu") || device.matches("cuda(:\\d+)?"))) {
      throw new IllegalArgumentException("device must be cpu, cuda or cuda:N, got " + device);
    }
    if (dtype != StorageType.F32 && dtype != StorageType.BF16 && dtype != StorageType.F16) {
      throw new IllegalArgumentException("dtype must be F32, BF16 or F16, got " + dtype);
    }
    if (cpuThreads < 0) {
      throw new IllegalArgumentException("cpuThreads must be >= 0, got " + cpuThreads);
    }
    if (device.startsWith("cuda") && !torch.cuda_is_available()) {
      throw new IllegalArgumentException(
          "device "
              + device
              + " requested but libtorch sees no CUDA device "
              + "(a CPU build of libtorch, or no GPU); build with -Pgpu on a machine with a GPU, or use cpu");
    }
  }

  /** Without fp32 master weights. */
  public RuntimeOptions(String device, StorageType dtype, int cpuThreads) {
    this(device, dtype, cpuThreads, false);
  }

  /** The same device and threads in {@code precision}: {@code fp32} or {@code bf16-mixed}. */
  public RuntimeOptions withPrecision(String precision) {
    return switch (precision) {
      case "fp32" -> new RuntimeOptions(device, StorageType.F32, cpuThreads, false);
      case "bf16-mixed" -> new RuntimeOptions(device, StorageType.BF16, cpuThreads, true);
      default ->
          throw new IllegalArgumentException(
              "precision must be fp32 or bf16-mixed, got '" + precision + "'");
    };
  }

  /** Whether parameters are stored in fp32 and computed with in {@code dtype}. */
  public boolean mixed() {
    return fp32Master && dtype != StorageType.F32;
  }

  /** The type parameters are stored (and optimised, and saved from) in. */
  public StorageType parameterType() {
    return mixed() ? StorageType.F32 : dtype;
  }

  /** fp32 on the CPU. */
  public static RuntimeOptions cpu() {
    return new RuntimeOptions("cpu", StorageType.F32, 0);
  }

  /** bf16 on the first GPU when libtorch sees one, else fp32 on the CPU. */
  public static RuntimeOptions auto() {
    return torch.cuda_is_available() ? new RuntimeOptions("cuda", StorageType.BF16, 0) : cpu();
  }

  /** Parses a command-line device name: {@code auto}, {@code cpu}, {@code cuda}, {@code cuda:N}. */
  public static RuntimeOptions parse(String device) {
    if (device.equals("auto")) {
      return auto();
    }
    return new RuntimeOptions(device, device.equals("cpu") ? StorageType.F32 : StorageType.BF16, 0);
  }

  public boolean isCuda() {
    return device.startsWith("cuda");
  }

  Device torchDevice() {
    return new Device(device);
  }

  ScalarType scalarType() {
    return dtype.scalarType();
  }

  /** Applies the thread setting (libtorch's pool is process-wide). */
  void applyThreads() {
    if (cpuThreads > 0) {
      torch.set_num_threads(cpuThreads);
    }
  }
}
