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
 * [--first-seed K] [--variants a,b,...] [--quick] [--dev]}; variants are {@link
 * DemoCommand.Variant} names. Seeds may run in separate processes ({@code --seeds 1 --first-seed K}
 * each); {@code --collect} then prints the table from the summaries they wrote.
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
    int seeds = 3, firstSeed = 1;
    boolean quick = false;
    boolean development = false;
    boolean collect = false;
    List<String> specs = DEFAULT_VARIANTS;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--seeds")) seeds = Integer.parseInt(args[++i]);
      if (args[i].equals("--first-seed")) firstSeed = Integer.parseInt(args[++i]);
      if (args[i].equals("--quick")) quick = true;
      if (args[i].equals("--dev")) development = true;
      if (args[i].equals("--collect")) collect = true;
      if (args[i].equals("--variants")) specs = List.of(args[++i].split(","));
    }
    List<DemoCommand.Variant> variants = DemoCommand.variants(specs); // fail before any run
    List<List<ResultRow>> bySeed = new ArrayList<>();
    for (int seed = firstSeed; seed < firstSeed + seeds; seed++) {
      Path runs = RUNS.resolve("seed-" + seed);
      if (collect) { // the seeds ran in separate processes: read what each one wrote
        bySeed.add(DemoCommand.readSummary(runs.resolve("demo").resolve("summary.json")));
        continue;
      }
      DemoCommand.Result r =
          DemoCommand.run(DemoCommand.plan(quick), seed, false, runs, variants, development);
      System.out.println("seed " + seed + "\n" + r.table());
      List<ResultRow> rows = new ArrayList<>(List.of(r.start()));
      rows.addAll(r.rows());
      bySeed.add(rows);
    }
    printTable(bySeed, variants, development);
  }

  /** Where seed K's runs go: {@code runs/demo-compare/seed-K}. */
  static final Path RUNS = Path.of("runs/demo-compare");

  /** Mean ± sd over seeds of each row; rows are matched by position (start first). */
  static void printTable(
      List<List<ResultRow>> bySeed, List<DemoCommand.Variant> variants, boolean development) {
    // the row name of grpo@arpo-calls depends on the seed's M: rows are keyed by their position
    Map<Integer, String> names = new LinkedHashMap<>();
    Map<Integer, List<double[]>> byRow = new LinkedHashMap<>();
    for (List<ResultRow> rows : bySeed) {
      if (rows.size() != variants.size() + 1)
        throw new IllegalArgumentException(
            "a seed has "
                + (rows.size() - 1)
                + " trained rows, the variants are "
                + variants.size()
                + ": give the same --variants as the runs had");
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
    System.out.printf(
        "%n%d seeds, %d cores%n", bySeed.size(), Runtime.getRuntime().availableProcessors());
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
