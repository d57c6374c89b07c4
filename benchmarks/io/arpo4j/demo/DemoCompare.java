package io.arpo4j.demo;

import io.arpo4j.cli.DemoCommand;
import io.arpo4j.trainer.report.ResultRow;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The demo's side-by-side over several seeds (rollouts and data order; the world and the cold-start
 * checkpoint are fixed), printed as mean ± sd next to the starting policy: the toy-scale check that
 * RL improves the cold-start model, whether ARPO reaches GRPO's accuracy with fewer tool calls, and
 * what each AEPO piece adds to ARPO. Run by {@code benchmarks/run.sh demo-compare --seeds N
 * [--variants a,b,...] [--quick] [--dev]}; variants are {@link DemoCommand.Variant} names.
 */
public final class DemoCompare {
  /**
   * start, GRPO (the plan's M), GRPO at ARPO's tool-call budget, ARPO, AEPO, and ARPO with each
   * AEPO piece alone. grpo@arpo-calls needs arpo and grpo before it.
   */
  static final List<String> DEFAULT_VARIANTS =
      List.of(
          "grpo",
          "arpo",
          "grpo@arpo-calls",
          "aepo",
          "arpo+split",
          "arpo+penalty",
          "arpo+stopgrad",
          "arpo+entadv");

  public static void main(String[] args) throws Exception {
    int seeds = 3;
    boolean quick = false;
    boolean development = false;
    List<String> specs = DEFAULT_VARIANTS;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--seeds")) seeds = Integer.parseInt(args[++i]);
      if (args[i].equals("--quick")) quick = true;
      if (args[i].equals("--dev")) development = true;
      if (args[i].equals("--variants")) specs = List.of(args[++i].split(","));
    }
    List<DemoCommand.Variant> variants = DemoCommand.variants(specs); // fail before any run
    // the row name of grpo@arpo-calls depends on the seed's M: rows are keyed by their position
    Map<Integer, String> names = new LinkedHashMap<>();
    Map<Integer, List<double[]>> byRow = new LinkedHashMap<>();
    for (int seed = 1; seed <= seeds; seed++) {
      DemoCommand.Result r =
          DemoCommand.run(
              DemoCommand.plan(quick),
              seed,
              false,
              Path.of("runs/demo-compare/seed-" + seed),
              variants,
              development);
      System.out.println("seed " + seed + "\n" + r.table());
      List<ResultRow> rows = new ArrayList<>(List.of(r.start()));
      rows.addAll(r.rows());
      for (int i = 0; i < rows.size(); i++) {
        ResultRow row = rows.get(i);
        String planned = i == 0 ? "start" : variants.get(i - 1).name();
        String name = names.get(i);
        names.put(i, name == null || name.equals(row.algo()) ? row.algo() : planned);
        Map<String, Double> k = row.accuracyByKind();
        byRow
            .computeIfAbsent(i, key -> new ArrayList<>())
            .add(
                new double[] {
                  row.accuracy(),
                  row.toolCallsPerQuestion(),
                  row.trainToolCallsPerPrompt(),
                  row.trainTokensPerPrompt(),
                  row.seconds(),
                  k.get("ARITHMETIC"),
                  k.get("LOOKUP"),
                  k.get("TWO_HOP")
                });
      }
    }
    System.out.printf("%n%d seeds, %d cores%n", seeds, Runtime.getRuntime().availableProcessors());
    String format = "%-16s %20s %20s %22s %22s %14s %14s %14s %14s%n";
    System.out.printf(
        format,
        "policy",
        development ? "dev accuracy" : "held-out accuracy",
        "tool calls / q",
        "train calls / prompt",
        "rollout tokens / prompt",
        "time (s)",
        "arithmetic",
        "lookup",
        "two-hop");
    for (Map.Entry<Integer, List<double[]>> e : byRow.entrySet()) {
      List<double[]> v = e.getValue();
      System.out.printf(
          format,
          names.get(e.getKey()),
          meanSd(v, 0, "%.3f"),
          meanSd(v, 1, "%.2f"),
          meanSd(v, 2, "%.2f"),
          meanSd(v, 3, "%.0f"),
          meanSd(v, 4, "%.0f"),
          meanSd(v, 5, "%.2f"),
          meanSd(v, 6, "%.2f"),
          meanSd(v, 7, "%.2f"));
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
