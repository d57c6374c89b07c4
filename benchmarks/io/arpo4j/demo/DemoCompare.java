package io.arpo4j.demo;

import io.arpo4j.cli.DemoCommand;
import io.arpo4j.trainer.report.ResultRow;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The demo's ARPO-vs-GRPO comparison over several seeds (rollouts and data order; the world and the
 * cold-start checkpoint are fixed), printed as mean ± sd next to the starting policy: the toy-scale
 * check that RL improves the cold-start model, and of the paper's claim that ARPO reaches at least
 * GRPO's accuracy with fewer tool calls. Run by {@code benchmarks/run.sh demo-compare --seeds N}.
 */
public final class DemoCompare {
  public static void main(String[] args) throws Exception {
    int seeds = 3;
    boolean quick = false;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--seeds")) seeds = Integer.parseInt(args[++i]);
      if (args[i].equals("--quick")) quick = true;
    }
    Map<String, List<double[]>> byAlgo = new LinkedHashMap<>();
    for (int seed = 1; seed <= seeds; seed++) {
      DemoCommand.Result r = DemoCommand.run(DemoCommand.plan(quick), seed, false,
          Path.of("runs/demo-compare/seed-" + seed), List.of("arpo", "grpo"));
      System.out.println("seed " + seed + "\n" + r.table());
      byAlgo.computeIfAbsent("start", k -> new ArrayList<>())
          .add(new double[] {r.startAccuracy(), r.startToolCalls(), Double.NaN, Double.NaN});
      for (ResultRow row : r.rows()) {
        byAlgo.computeIfAbsent(row.algo(), k -> new ArrayList<>()).add(new double[] {row.accuracy(),
            row.toolCallsPerQuestion(), r.trainToolCallsPerPrompt().get(row.algo()), row.seconds()});
      }
    }
    System.out.printf("%n%d seeds, %d cores%n", seeds, Runtime.getRuntime().availableProcessors());
    System.out.printf("%-6s %20s %22s %24s %14s%n", "policy", "held-out accuracy", "tool calls / question",
        "train calls / prompt", "time (s)");
    for (Map.Entry<String, List<double[]>> e : byAlgo.entrySet()) {
      System.out.printf("%-6s %20s %22s %24s %14s%n", e.getKey(), meanSd(e.getValue(), 0, "%.3f"),
          meanSd(e.getValue(), 1, "%.2f"), meanSd(e.getValue(), 2, "%.2f"), meanSd(e.getValue(), 3, "%.0f"));
    }
  }

  static String meanSd(List<double[]> rows, int column, String format) {
    if (Double.isNaN(rows.get(0)[column])) return "";
    double mean = 0, sq = 0;
    for (double[] r : rows) mean += r[column];
    mean /= rows.size();
    for (double[] r : rows) sq += (r[column] - mean) * (r[column] - mean);
    double sd = rows.size() > 1 ? Math.sqrt(sq / (rows.size() - 1)) : 0;
    return String.format(format + " ± " + format, mean, sd);
  }
}
