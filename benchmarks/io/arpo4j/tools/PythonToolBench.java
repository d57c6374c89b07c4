package io.arpo4j.tools;

import io.arpo4j.tools.python.PythonRun;
import io.arpo4j.tools.python.PythonSandboxConfig;
import io.arpo4j.tools.python.PythonSandboxConfig.Isolation;
import io.arpo4j.tools.python.PythonWorkerPool;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Latency of one python tool call: the worker pool (fork per call, imports preloaded) against a
 * fresh {@code python3 -c} process per call, with and without the same namespaces. Sequential
 * calls, wall-clock per call as the caller sees it; for the pool also the CPU time per call of the
 * worker, its zygote and the calls' processes together (from {@code /proc/<pid>/stat} of the JVM's
 * descendants: the zygote reaps each call's process, so theirs is in its children's time).
 *
 * <p>Run: {@code mvn -o -q test-compile dependency:build-classpath -Dmdep.outputFile=cp.txt} then
 * {@code java -cp target/classes:target/test-classes:$(cat cp.txt) io.arpo4j.tools.PythonToolBench
 * [poolCalls [processCalls]]}; {@code -Dbench.preload=numpy,sympy} (comma-separated, empty for
 * none; default: the configured preload), {@code -Dbench.isolation=NAMESPACES} (only that one),
 * {@code -Dbench.fresh=false} (no fresh-process rows), {@code -Dbench.sympy=false} (the arithmetic
 * only).
 */
public final class PythonToolBench {
  static final String ARITHMETIC = "print(37 * 91 + 12)";
  static final String SYMPY = "import sympy\nprint(sympy.factorint(2**64 - 1))";

  interface Call {
    String run(String code) throws Exception;
  }

  public static void main(String[] args) throws Exception {
    int poolCalls = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    int processCalls = args.length > 1 ? Integer.parseInt(args[1]) : 30;
    String python = interpreter();
    String preloadProperty = System.getProperty("bench.preload");
    List<String> preload =
        preloadProperty == null
            ? PythonSandboxConfig.defaults().preload()
            : Arrays.stream(preloadProperty.split(",")).filter(m -> !m.isBlank()).toList();
    String onlyIsolation = System.getProperty("bench.isolation");
    boolean fresh = Boolean.parseBoolean(System.getProperty("bench.fresh", "true"));
    boolean sympy = Boolean.parseBoolean(System.getProperty("bench.sympy", "true"));
    System.out.printf(
        "python %s, %d cores, preload %s%n",
        python, Runtime.getRuntime().availableProcessors(), preload);
    for (String code : sympy ? List.of(ARITHMETIC, SYMPY) : List.of(ARITHMETIC)) {
      System.out.printf("%n--- %s%n", code.replace("\n", "; "));
      for (Isolation isolation : List.of(Isolation.NAMESPACES, Isolation.NONE)) {
        if (onlyIsolation != null && !onlyIsolation.equals(isolation.toString())) {
          continue;
        }
        PythonSandboxConfig config =
            PythonSandboxConfig.defaults().toBuilder()
                .workers(1)
                .isolation(isolation)
                .preload(preload)
                .build();
        long start = System.nanoTime();
        try (PythonWorkerPool pool = new PythonWorkerPool(config)) {
          double startupMs = (System.nanoTime() - start) / 1e6;
          measure(
              "pool " + isolation + " (start " + Math.round(startupMs) + " ms)",
              poolCalls,
              c -> output(pool.run(c)),
              code,
              true);
        } catch (IllegalStateException e) {
          // e.g. isolation NONE as root with an interpreter under a 0700 home (no view there)
          System.out.printf("%-40s refused: %s%n", "pool " + isolation, e.getMessage());
        }
      }
      if (!fresh) {
        continue;
      }
      measure("fresh python3 -c", processCalls, c -> exec(List.of(python, "-c", c)), code, false);
      measure(
          "fresh unshare + python3 -c",
          processCalls,
          c ->
              exec(
                  List.of(
                      "unshare",
                      "--net",
                      "--mount",
                      "--pid",
                      "--fork",
                      "--kill-child",
                      "--mount-proc",
                      "--",
                      python,
                      "-c",
                      c)),
          code,
          false);
    }
  }

  static void measure(String name, int calls, Call call, String code, boolean cpu)
      throws Exception {
    String expected = call.run(code); // warm-up, and the answer every call must give
    for (int i = 0; i < 3; i++) {
      call.run(code);
    }
    double[] ms = new double[calls];
    long cpuBefore = descendantsCpuTicks();
    for (int i = 0; i < calls; i++) {
      long t = System.nanoTime();
      String out = call.run(code);
      ms[i] = (System.nanoTime() - t) / 1e6;
      if (!out.equals(expected)) {
        throw new IllegalStateException(name + ": answer changed: " + out);
      }
    }
    long cpuTicks = descendantsCpuTicks() - cpuBefore;
    Arrays.sort(ms);
    System.out.printf(
        Locale.ROOT,
        "%-40s n=%4d  median %8.2f ms  p90 %8.2f ms  mean %8.2f ms%s%n",
        name,
        calls,
        ms[calls / 2],
        ms[(int) (calls * 0.9)],
        Arrays.stream(ms).average().orElse(0),
        !cpu || cpuTicks < 0
            ? ""
            : String.format(Locale.ROOT, "  cpu %6.2f ms", cpuTicks * 10.0 / calls));
  }

  /**
   * User+system time of the JVM's live descendants and of the children they reaped, in clock ticks
   * (USER_HZ, 100 on Linux); -1 where /proc cannot be read. (Fresh processes are reaped by the JVM:
   * not counted.)
   */
  static long descendantsCpuTicks() {
    long[] total = {0};
    try {
      ProcessHandle.current()
          .descendants()
          .forEach(
              p -> {
                try {
                  String stat = Files.readString(Path.of("/proc/" + p.pid() + "/stat"));
                  // fields after the command's closing parenthesis: state is field 3
                  String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                  for (int i = 11; i <= 14; i++) { // utime, stime, cutime, cstime
                    total[0] += Long.parseLong(f[i]);
                  }
                } catch (IOException | RuntimeException e) {
                  // the process is gone
                }
              });
    } catch (RuntimeException e) {
      return -1;
    }
    return total[0];
  }

  static String output(PythonRun run) {
    if (run.status() != PythonRun.Status.OK) {
      throw new IllegalStateException(run.status() + ": " + run.output());
    }
    return run.output().strip();
  }

  static String exec(List<String> command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out;
    try (InputStream in = process.getInputStream()) {
      out = new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
    }
    if (process.waitFor() != 0) {
      throw new IllegalStateException(command + " failed: " + out);
    }
    return out;
  }

  static String interpreter() throws IOException, InterruptedException {
    return exec(new ArrayList<>(List.of("python3", "-c", "import sys; print(sys.executable)")));
  }
}
