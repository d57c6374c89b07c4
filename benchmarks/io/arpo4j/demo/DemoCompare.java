package io.arpo4j.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.cli.DemoCommand;
import io.arpo4j.trainer.Evaluator;
import io.arpo4j.trainer.MetricsLog;
import io.arpo4j.trainer.report.ResultRow;
import io.arpo4j.trainer.report.RunReport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

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
        bySeed.add(rowsFromRuns(runs, variants));
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

  /**
   * One seed's rows as its run directories hold them: the start's and each variant's eval.json
   * (accuracy, by kind through the held-out data's {@code kind}, tool calls, evaluation time) and
   * metrics.jsonl (training tool calls and tokens per prompt, step times); null for a row whose
   * evaluation is not there (an interrupted seed). Time is the steps' plus the evaluation's.
   */
  static List<ResultRow> rowsFromRuns(Path seedDir, List<DemoCommand.Variant> variants)
      throws IOException {
    Map<String, String> kinds = new HashMap<>();
    for (JsonNode q : jsonLines(seedDir.resolve("demo/data/heldout.jsonl")))
      kinds.put(q.get("id").asText(), q.get("kind").asText());
    List<ResultRow> rows = new ArrayList<>();
    rows.add(
        row("start", seedDir.resolve("demo").resolve(DemoCommand.START_EVAL_FILE), null, kinds));
    for (DemoCommand.Variant v : variants) {
      Path run = seedDir.resolve("demo-" + v.name().replace('@', '-'));
      if (v.matchesArpoCalls()) { // named by the M it resolved to: demo-grpo-5
        try (Stream<Path> dirs = Files.list(seedDir)) {
          run =
              dirs.filter(d -> d.getFileName().toString().matches("demo-grpo-\\d+"))
                  .findFirst()
                  .orElse(run);
        }
      }
      String name = run.getFileName().toString().substring("demo-".length());
      if (v.matchesArpoCalls()) name = name.replaceFirst("-(\\d+)$", "@$1");
      rows.add(
          row(name, run.resolve(Evaluator.FILE_NAME), run.resolve(MetricsLog.FILE_NAME), kinds));
    }
    return rows;
  }

  private static ResultRow row(String algo, Path eval, Path metrics, Map<String, String> kinds)
      throws IOException {
    if (!Files.isRegularFile(eval)) return null;
    JsonNode e = new ObjectMapper().readTree(eval.toFile());
    Map<String, double[]> sums = new LinkedHashMap<>();
    for (JsonNode q : e.get("per_question")) {
      double[] sum = sums.computeIfAbsent(kinds.get(q.get("id").asText()), k -> new double[2]);
      sum[0] += q.get("pass_at_1").asDouble();
      sum[1]++;
    }
    Map<String, Double> byKind = new LinkedHashMap<>();
    sums.forEach((kind, sum) -> byKind.put(kind, sum[0] / sum[1]));
    double seconds = Double.NaN, calls = Double.NaN, tokens = Double.NaN;
    if (metrics != null && Files.isRegularFile(metrics)) {
      seconds = e.get("seconds").asDouble();
      for (Map<String, Object> step : MetricsLog.read(metrics))
        seconds += ((Number) step.get("step_time_s")).doubleValue();
      calls = RunReport.perPrompt(metrics, MetricsLog.TOOL_CALLS_PER_PROMPT);
      tokens = RunReport.perPrompt(metrics, MetricsLog.GENERATED_TOKENS);
    }
    return new ResultRow(
        algo,
        e.get("pass_at_1").asDouble(),
        byKind,
        e.get("tool_calls_per_answer").asDouble(),
        calls,
        tokens,
        seconds);
  }

  private static List<JsonNode> jsonLines(Path file) throws IOException {
    ObjectMapper json = new ObjectMapper();
    List<JsonNode> out = new ArrayList<>();
    for (String line : Files.readAllLines(file)) if (!line.isBlank()) out.add(json.readTree(line));
    return out;
  }

  /**
   * Mean ± sd over seeds of each row; rows are matched by position (start first), a row missing
   * from a seed (null) is left out of its mean, and the seeds each row has are printed.
   */
  static void printTable(
      List<List<ResultRow>> bySeed, List<DemoCommand.Variant> variants, boolean development) {
    // the row name of grpo@arpo-calls depends on the seed's M: rows are keyed by their position
    Map<Integer, String> names = new LinkedHashMap<>();
    Map<Integer, List<double[]>> byRow = new LinkedHashMap<>();
    for (List<ResultRow> rows : bySeed) {
      for (int i = 0; i < rows.size(); i++) {
        ResultRow row = rows.get(i);
        if (row == null) continue;
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
    String format = "%-16s %6s %20s %20s %22s %22s %14s %14s %14s %14s%n";
    System.out.printf(
        format,
        "policy",
        "seeds",
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
          v.size(),
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
