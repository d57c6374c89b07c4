package io.arpo4j.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * Run in a child JVM by {@link NativeLibrariesTest}: loads libtorch (through {@link
 * NativeLibraries} when the argument is {@code guarded}, else the way JavaCPP does on its own),
 * computes a sum and prints it with the libtorch files mapped into the process.
 */
public final class LibtorchLoadProbe {
  public static void main(String[] args) {
    if (args.length > 0 && args[0].equals("guarded")) NativeLibraries.load();
    try (Tensor t = Tensor.create(new float[] {1f, 2f, 3f}, 3);
        Tensor sum = t.sum()) {
      System.out.println("sum=" + sum.item_float());
    }
    for (String file : NativeLibraries.mappedFiles()) {
      String name = java.nio.file.Path.of(file).getFileName().toString();
      if (NativeLibraries.TORCH_LIBRARY_FILE.matcher(name).matches())
        System.out.println("mapped=" + file);
    }
  }
}
