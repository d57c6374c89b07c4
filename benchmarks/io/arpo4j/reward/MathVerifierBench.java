package io.arpo4j.reward;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Math answer comparisons per second by kind of answer: plain numbers (the fast path, no
 * algebra system), LaTeX fractions and roots, symbolic expressions (Symja simplification and
 * random-point evaluation). Half the pairs are equal, half not. Run: benchmarks/run.sh rewards
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class MathVerifierBench {
  private static final String[][] PLAIN = {
      {"42", "42"}, {"3.5", "3.50"}, {"1,000", "1000"}, {"-7", "7"}, {"0.25", "0.26"}, {"12", "12.0"}};
  private static final String[][] FRACTIONS = {
      {"\\frac{1}{2}", "0.5"}, {"\\dfrac{3}{4}", "\\frac{6}{8}"}, {"2\\sqrt{2}", "\\sqrt{8}"},
      {"\\frac{1}{3}", "0.33"}, {"\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}"}, {"\\frac{5}{7}", "\\frac{7}{5}"}};
  private static final String[][] SYMBOLIC = {
      {"(x-1)(x+1)", "x^2-1"}, {"\\sin^2 x + \\cos^2 x", "1"}, {"\\frac{x+2}{7}", "\\frac{x}{7}+\\frac{2}{7}"},
      {"x^2+2x+1", "(x+1)^2+1"}, {"x \\leq 5", "5 \\geq x"}, {"\\{1, 2, 3\\}", "\\{3, 1, 4\\}"}};

  @Param({"plain", "fractions", "symbolic"})
  public String kind;

  private String[][] pairs;
  private int next;

  @Setup(Level.Trial)
  public void setUp() {
    pairs = switch (kind) {
      case "plain" -> PLAIN;
      case "fractions" -> FRACTIONS;
      default -> SYMBOLIC;
    };
    MathVerifier.equivalent("x+1", "1+x"); // loads Symja outside the measurement
  }

  @Benchmark
  public boolean compare() {
    String[] pair = pairs[next];
    next = (next + 1) % pairs.length;
    return MathVerifier.equivalent(pair[0], pair[1]);
  }
}
