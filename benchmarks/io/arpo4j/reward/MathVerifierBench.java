package io.arpo4j.reward;

import java.lang.management.ManagementFactory;
import java.util.Locale;

/**
 * Math answer comparisons per second by kind of answer: plain numbers (the fast path, no algebra
 * system), LaTeX fractions and roots, symbolic expressions (Symja simplification and random-point
 * evaluation). Half the pairs are equal, half not.
 *
 * <p>Reports comparisons per CPU-second of the whole process (Symja's workers included) next to
 * comparisons per wall-second: on a shared machine the first is the stable number. Run:
 * benchmarks/run.sh rewards [seconds per kind, default 5]
 */
public final class MathVerifierBench {
  private static final String[][] PLAIN = {
    {"42", "42"}, {"3.5", "3.50"}, {"1,000", "1000"}, {"-7", "7"}, {"0.25", "0.26"}, {"12", "12.0"}
  };
  private static final String[][] FRACTIONS = {
    {"\\frac{1}{2}", "0.5"},
    {"\\dfrac{3}{4}", "\\frac{6}{8}"},
    {"2\\sqrt{2}", "\\sqrt{8}"},
    {"\\frac{1}{3}", "0.33"},
    {"\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}"},
    {"\\frac{5}{7}", "\\frac{7}{5}"}
  };
  private static final String[][] SYMBOLIC = {
    {"(x-1)(x+1)", "x^2-1"},
    {"\\sin^2 x + \\cos^2 x", "1"},
    {"\\frac{x+2}{7}", "\\frac{x}{7}+\\frac{2}{7}"},
    {"x^2+2x+1", "(x+1)^2+1"},
    {"x \\leq 5", "5 \\geq x"},
    {"\\{1, 2, 3\\}", "\\{3, 1, 4\\}"}
  };

  public static void main(String[] args) {
    double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 5;
    System.out.printf(
        Locale.ROOT,
        "%-10s %12s %14s %14s%n",
        "kind",
        "comparisons",
        "per CPU-second",
        "per second");
    for (String[][] pairs : new String[][][] {PLAIN, FRACTIONS, SYMBOLIC}) {
      run(pairs, seconds / 2); // warm-up: class loading, Symja start, JIT
    }
    report("plain", PLAIN, seconds);
    report("fractions", FRACTIONS, seconds);
    report("symbolic", SYMBOLIC, seconds);
  }

  private static void report(String kind, String[][] pairs, double seconds) {
    long cpu0 = processCpuNanos();
    long wall0 = System.nanoTime();
    int n = run(pairs, seconds);
    double cpu = (processCpuNanos() - cpu0) / 1e9;
    double wall = (System.nanoTime() - wall0) / 1e9;
    System.out.printf(Locale.ROOT, "%-10s %12d %14.0f %14.0f%n", kind, n, n / cpu, n / wall);
  }

  /** Compares the pairs round-robin for about {@code seconds} of wall time; the number done. */
  private static int run(String[][] pairs, double seconds) {
    long end = System.nanoTime() + (long) (seconds * 1e9);
    int n = 0;
    int equal = 0;
    while (System.nanoTime() < end) {
      String[] pair = pairs[n % pairs.length];
      equal += MathVerifier.equivalent(pair[0], pair[1]) ? 1 : 0;
      n++;
    }
    if (equal == 0) {
      throw new IllegalStateException("no pair compared equal: the benchmark is broken");
    }
    return n;
  }

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }
}
