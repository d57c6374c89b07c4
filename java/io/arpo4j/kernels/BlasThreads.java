package io.arpo4j.kernels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.global.torch;

/**
 * The threads libtorch's large CPU products (OpenBLAS) run on, for a span of work: {@code try
 * (BlasThreads t = BlasThreads.training()) {...}}. Outside such a span OpenBLAS runs in the calling
 * thread (arpo4j sets {@code OPENBLAS_NUM_THREADS=1}, see {@link NativeLibraries}), since during
 * rollouts the model shares the cores with tool processes, where OpenBLAS's own spinning pool made
 * steps several times slower. A training step's products are most of its time, so there they take
 * libtorch's intra-op thread count, less the cores other work keeps busy at the moment the span
 * opens (as libgomp's {@code OMP_DYNAMIC} does with the load average): a product's jobs wait for
 * each other, and one job on a core shared with another process held a 512-token step at twice the
 * one-thread time. The threads are the calling one and helper threads of arpo4j's native library,
 * which sleep while idle ({@code arpo_blas_threads} in arpo4j.h). The count is process-wide: the
 * largest of the spans open in any thread, and one again when none is. Where the process's OpenBLAS
 * cannot do this (one the user configured with {@code OPENBLAS_NUM_THREADS}, another build),
 * products stay as they are and one line on stderr says why.
 */
public final class BlasThreads implements AutoCloseable {
  static {
    NativeLibraries.load();
  }

  private static final Path PROC_STAT = Path.of("/proc/stat");
  private static final List<Integer> OPEN = new ArrayList<>(); // the open spans' counts
  private static int applied = 1; // guarded by OPEN, as is everything mutable here
  private static boolean refused;

  private final int threads;
  private boolean closed;

  private BlasThreads(int threads) {
    this.threads = threads;
  }

  /**
   * OpenBLAS on libtorch's intra-op thread count, at most the cores idle now ({@link #idleCores}),
   * until {@link #close}.
   */
  public static BlasThreads training() {
    int threads = torch.get_num_threads();
    boolean ours;
    synchronized (OPEN) {
      ours = !refused;
    }
    // /proc/stat is read only where the answer can change the count
    return use(ours && threads > 1 ? Math.max(1, Math.min(threads, idleCores())) : 1);
  }

  /**
   * The processors this JVM may use less the threads running elsewhere on the machine: Linux's
   * {@code procs_running} (which counts the caller) less one, the least of three looks 1 ms apart,
   * so that a thread passing through does not count; all of them where /proc/stat is unreadable.
   */
  static int idleCores() {
    int cores = Runtime.getRuntime().availableProcessors();
    int others = Integer.MAX_VALUE;
    try {
      for (int look = 0; look < 3 && others > 0; look++) {
        if (look > 0) Thread.sleep(1);
        others = Math.min(others, runningThreads() - 1);
      }
    } catch (IOException | RuntimeException e) {
      return cores;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return cores;
    }
    return Math.max(0, cores - others);
  }

  private static int runningThreads() throws IOException {
    for (String line : Files.readAllLines(PROC_STAT)) {
      if (line.startsWith("procs_running ")) return Integer.parseInt(line.substring(14).trim());
    }
    throw new IOException("no procs_running in " + PROC_STAT);
  }

  /** OpenBLAS on {@code threads} threads (1 to 256), or more while a larger span is open. */
  public static BlasThreads use(int threads) {
    if (threads < 1 || threads > 256) {
      throw new IllegalArgumentException("threads must be in [1, 256], got " + threads);
    }
    synchronized (OPEN) {
      OPEN.add(threads);
      apply();
    }
    return new BlasThreads(threads);
  }

  /** The thread count OpenBLAS's products run on now (1 where arpo4j could not change it). */
  public static int current() {
    synchronized (OPEN) {
      return applied;
    }
  }

  /** Threaded OpenBLAS calls that arpo4j's helper threads have run in this process. */
  public static long threadedCalls() {
    return NativeKernels.arpo_blas_threaded_calls();
  }

  private static void apply() {
    int want = OPEN.stream().mapToInt(Integer::intValue).max().orElse(1);
    if (want == applied || refused) return;
    if (NativeKernels.arpo_blas_threads(want) < 0) {
      refused = true;
      System.err.println(
          "arpo4j: OpenBLAS products keep their own thread setting: "
              + NativeKernels.arpo_last_error().getString());
    } else {
      applied = want;
    }
  }

  @Override
  public void close() {
    synchronized (OPEN) {
      if (closed) return;
      closed = true;
      OPEN.remove(Integer.valueOf(threads));
      apply();
    }
  }
}
