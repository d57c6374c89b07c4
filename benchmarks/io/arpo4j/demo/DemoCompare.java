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
    boolean development = false;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--seeds")) seeds = Integer.parseInt(args[++i]);
      if (args[i].equals("--quick")) quick = true;
      if (args[i].equals("--dev")) development = true;
    }
    Map<String, List<double[]>> byAlgo = new LinkedHashMap<>();
    for (int seed = 1; seed <= seeds; seed++) {
      DemoCommand.Result r =
          DemoCommand.run(
              DemoCommand.plan(quick),
              seed,
              false,
              Path.of("runs/demo-compare/seed-" + seed),
              List.of("arpo", "grpo"),
              development);
      System.out.println("seed " + seed + "\n" + r.table());
      List<ResultRow> rows = new ArrayList<>(List.of(r.start()));
      rows.addAll(r.rows());
      for (ResultRow row : rows) {
        Map<String, Double> k = row.accuracyByKind();
        byAlgo
            .computeIfAbsent(row.algo(), key -> new ArrayList<>())
            .add(
                new double[] {
                  row.accuracy(),
                  row.toolCallsPerQuestion(),
                  row.trainToolCallsPerPrompt(),
                  row.seconds(),
                  k.get("ARITHMETIC"),
                  k.get("LOOKUP"),
                  k.get("TWO_HOP")
                });
      }
    }
    System.out.printf("%n%d seeds, %d cores%n", seeds, Runtime.getRuntime().availableProcessors());
    System.out.printf(
        "%-6s %20s %22s %24s %14s %14s %14s %14s%n",
        "policy",
        development ? "dev accuracy" : "held-out accuracy",
        "tool calls / question",
        "train calls / prompt",
        "time (s)",
        "arithmetic",
        "lookup",
        "two-hop");
    for (Map.Entry<String, List<double[]>> e : byAlgo.entrySet()) {
      List<double[]> v = e.getValue();
      System.out.printf(
          "%-6s %20s %22s %24s %14s %14s %14s %14s%n",
          e.getKey(),
          meanSd(v, 0, "%.3f"),
          meanSd(v, 1, "%.2f"),
          meanSd(v, 2, "%.2f"),
          meanSd(v, 3, "%.0f"),
          meanSd(v, 4, "%.2f"),
          meanSd(v, 5, "%.2f"),
          meanSd(v, 6, "%.2f"));
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
