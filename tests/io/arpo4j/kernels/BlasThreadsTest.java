package io.arpo4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.testing.ChildJvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * OpenBLAS's threaded products on arpo4j's helper threads ({@link BlasThreads}): products large
 * enough for OpenBLAS to split (a training step's shapes) against float64, run by the helpers
 * (their call count moves), from one thread, from several at once, and from inside libtorch's
 * OpenMP regions (attention), where two callers must take turns rather than deadlock.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS) // a deadlock fails the test instead of hanging CI
class BlasThreadsTest {

  /** max |got - want| / (1 + max |want|) over all elements; prints the count above tol. */
  private static double relError(Tensor got, Tensor want, double tol, String what) {
    Tensor diff = got.to(torch.ScalarType.Double).sub(want).abs();
    double scale = 1 + want.abs().max().item_double();
    double max = diff.max().item_double() / scale;
    long above = diff.gt(new Scalar(tol * scale)).sum().item_long();
    System.out.printf(
        "%s: max error %.3g of 1 + max|want|, %d above %.0e%n", what, max, above, tol);
    return max;
  }

  private static Tensor randn(int rows, int cols, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    float[] data = new float[rows * cols];
    for (int i = 0; i < data.length; i++) data[i] = (float) TestTensors.gaussian(rng);
    return TestTensors.tensor(data, rows, cols);
  }

  @Test
  void aTrainingShapedProductRunsOnTheHelpersAndMatchesFloat64() {
    try (PointerScope scope = new PointerScope()) {
      Tensor x = randn(512, 896, 1), w = randn(1536, 896, 2);
      Tensor want = torch.linear(x.to(torch.ScalarType.Double), w.to(torch.ScalarType.Double));
      long before = BlasThreads.threadedCalls();
      Tensor single;
      try (BlasThreads one = BlasThreads.use(1)) {
        single = torch.linear(x, w);
      }
      assertEquals(before, BlasThreads.threadedCalls(), "threaded calls with one thread");
      Tensor threaded;
      try (BlasThreads two = BlasThreads.use(2)) {
        assertEquals(2, BlasThreads.current());
        threaded = torch.linear(x, w);
        Tensor gradW = torch.mm(threaded.t(), x); // the weight gradient's layout (transposed A)
        Tensor wantGradW = torch.mm(want.t(), x.to(torch.ScalarType.Double));
        assertTrue(relError(gradW, wantGradW, 1e-5, "x^T y, 2 threads") < 1e-5);
      }
      assertTrue(
          BlasThreads.threadedCalls() >= before + 2,
          "the helpers ran " + (BlasThreads.threadedCalls() - before) + " calls, expected 2");
      assertTrue(relError(single, want, 1e-5, "x W^T, 1 thread") < 1e-5);
      assertTrue(relError(threaded, want, 1e-5, "x W^T, 2 threads") < 1e-5);
    }
  }

  @Test
  void theCountIsTheLargestOpenSpansAndOneWhenNoneIs() throws Exception {
    assertEquals(1, BlasThreads.current());
    try (BlasThreads outer = BlasThreads.use(3)) {
      try (BlasThreads inner = BlasThreads.use(2)) {
        assertEquals(3, BlasThreads.current());
      }
      // a span another thread opens and closes while this one is open
      Thread other =
          new Thread(
              () -> {
                try (BlasThreads larger = BlasThreads.use(4)) {
                  assertEquals(4, BlasThreads.current());
                }
              });
      other.start();
      other.join();
      assertEquals(3, BlasThreads.current());
    }
    assertEquals(1, BlasThreads.current());
  }

  @Test
  void productsFromSeveralThreadsAndFromInsideOpenMpRegionsTakeTurns() throws Exception {
    int before = torch.get_num_threads();
    torch.set_num_threads(2);
    ExecutorService callers = Executors.newFixedThreadPool(3);
    try (BlasThreads three = BlasThreads.use(3)) {
      long calls = BlasThreads.threadedCalls();
      assertTrue(attentionError() < 1e-5); // alone
      assertTrue(
          BlasThreads.threadedCalls() > calls,
          "attention's products did not reach the helpers: the case is not tested");
      List<Future<Double>> errors = new ArrayList<>();
      for (int t = 0; t < 3; t++) {
        long seed = 10 + t;
        errors.add(
            callers.submit(
                () -> {
                  try (PointerScope scope = new PointerScope()) {
                    double worst = 0;
                    for (int rep = 0; rep < 4; rep++) {
                      Tensor x = randn(384, 640, seed + 100L * rep), w = randn(768, 640, seed);
                      Tensor want =
                          torch.linear(
                              x.to(torch.ScalarType.Double), w.to(torch.ScalarType.Double));
                      worst = Math.max(worst, relError(torch.linear(x, w), want, 1e-5, "caller"));
                    }
                    return worst;
                  }
                }));
      }
      assertTrue(attentionError() < 1e-5); // beside the callers
      for (Future<Double> e : errors) assertTrue(e.get(60, TimeUnit.SECONDS) < 1e-5);
    } finally {
      callers.shutdownNow();
      torch.set_num_threads(before);
    }
  }

  /** A thread spinning in this JVM is running elsewhere than the caller: one core fewer is idle. */
  @Test
  void aBusyThreadTakesACoreFromTheTrainingCount() throws Exception {
    int cores = Runtime.getRuntime().availableProcessors();
    java.util.concurrent.atomic.AtomicBoolean stop =
        new java.util.concurrent.atomic.AtomicBoolean();
    Thread spinner =
        new Thread(
            () -> {
              long x = 0;
              while (!stop.get()) x += System.nanoTime() & 1;
              if (x == 42) System.out.print("");
            });
    spinner.start();
    try {
      Thread.sleep(20);
      int idle = BlasThreads.idleCores();
      assertTrue(
          idle <= cores - 1, "idle cores " + idle + " of " + cores + " with a thread spinning");
    } finally {
      stop.set(true);
      spinner.join();
    }
  }

  /**
   * Attention over 1024 positions against float64: libtorch's CPU kernel multiplies blocks through
   * OpenBLAS from each of its OpenMP threads at once.
   */
  private static double attentionError() {
    try (PointerScope scope = new PointerScope()) {
      Tensor q = randn(4 * 1024, 64, 20).view(1, 4, 1024, 64);
      Tensor k = randn(4 * 1024, 64, 21).view(1, 4, 1024, 64);
      Tensor v = randn(4 * 1024, 64, 22).view(1, 4, 1024, 64);
      Tensor got = torch.scaled_dot_product_attention(q, k, v);
      Tensor qd = q.to(torch.ScalarType.Double), kd = k.to(torch.ScalarType.Double);
      Tensor scores = torch.matmul(qd, kd.transpose(-2, -1)).div(new Scalar(8.0));
      Tensor want = torch.matmul(torch.softmax(scores, -1), v.to(torch.ScalarType.Double));
      return relError(got, want, 1e-5, "attention, 2 OpenMP threads");
    }
  }

  /** The child: asks for two threads, twice, and prints what it got. */
  public static final class AskForTwo {
    public static void main(String[] args) {
      for (int i = 0; i < 2; i++) {
        try (BlasThreads two = BlasThreads.use(2)) {
          System.out.println(BlasThreads.current());
        }
      }
    }
  }

  /**
   * A user who set OPENBLAS_NUM_THREADS runs OpenBLAS's own pool: arpo4j leaves it alone and says
   * so in one line.
   */
  @Test
  void aUsersOwnOpenBlasThreadCountIsLeftAloneWithOneLine(@TempDir Path dir) throws Exception {
    List<String> cmd = ChildJvm.java("-Xmx256m");
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), AskForTwo.class.getName()));
    Path out = dir.resolve("out.txt"), err = dir.resolve("err.txt");
    ProcessBuilder pb =
        new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
    pb.environment().put("OPENBLAS_NUM_THREADS", "2");
    Process p = pb.start();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the child JVM did not finish in 120 s");
    List<String> lines = Files.readAllLines(err);
    assertEquals(0, p.exitValue(), "exit code; stderr: " + lines);
    assertEquals(List.of("1", "1"), Files.readAllLines(out), "counts; stderr: " + lines);
    assertEquals(1, lines.size(), "stderr: " + lines);
    assertTrue(
        lines.get(0).startsWith("arpo4j: OpenBLAS products keep their own thread setting: ")
            && lines.get(0).contains("OPENBLAS_NUM_THREADS"),
        lines.get(0));
  }
}
