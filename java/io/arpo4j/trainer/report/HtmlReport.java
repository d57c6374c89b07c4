package io.arpo4j.trainer.report;

import io.arpo4j.trainer.MetricsLog;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * The run report: one self-contained HTML file (inline CSS, inline SVG charts drawn here, no
 * scripts, no external resources) that opens offline.
 *
 * <p>It shows: the run's settings; a results table; training curves from one metrics log per
 * algorithm ({@link MetricsLog}), all algorithms on the same axes — reward, accuracy, tool calls
 * per question, mean entropy after tool calls, then every other numeric key logged; and rollout
 * trees, where each branch point shows ΔH, P and whether the rollout forked there.
 *
 * <pre>{@code
 * HtmlReport.builder("demo · seed 1")
 *     .run("arpo", runDir.resolve("arpo/metrics.jsonl"))
 *     .run("grpo", runDir.resolve("grpo/metrics.jsonl"))
 *     .result(new ResultRow("arpo", 0.62, Map.of(), 1.4, 6.3, 410, 271))
 *     .tree(tree)
 *     .build()
 *     .write(runDir);                     // runDir/report.html
 * }</pre>
 */
public final class HtmlReport {
  /** The file name {@link #write} uses inside the run directory. */
  public static final String FILE_NAME = "report.html";

  /** The curves shown first, with their titles. */
  private static final Map<String, String> MAIN_CURVES =
      ordered(
          MetricsLog.REWARD_MEAN,
          "Reward (mean per step)",
          MetricsLog.ACCURACY,
          "Accuracy (initial samples)",
          MetricsLog.EVAL_PASS_AT_1,
          "Held-out pass@1 (every eval_every steps)",
          MetricsLog.TOOL_CALLS_PER_PROMPT,
          "Tool calls executed per prompt",
          MetricsLog.BRANCH_RATE,
          "Branch rate (forks per entropy check)",
          MetricsLog.DELTA_H + "_p50",
          "\u0394H, median (p10 and p90 below)",
          MetricsLog.BRANCH_P + "_p50",
          "P = \u03b1 + \u03b2\u00b7\u0394H, median",
          MetricsLog.CLIP_FRACTION,
          "Clip fraction");

  /**
   * AEPO's rollout curves (AEPO.md §1–§2), in a section of their own, drawn for the runs that
   * logged them: the dynamic split's m and entropy gap, and the branch rate by l.
   */
  private static final Map<String, String> AEPO_CURVES =
      ordered(
          MetricsLog.SPLIT_M + "_mean",
          "m, global samples per prompt (mean)",
          MetricsLog.SPLIT_M + "_p10",
          "m, 10th percentile",
          MetricsLog.SPLIT_M + "_p90",
          "m, 90th percentile",
          MetricsLog.SPLIT_GAP + "_p50",
          "(H_root \u2212 H_tool)/ln|V|, median",
          MetricsLog.BRANCH_RATE_L + "0",
          "Branch rate after l = 0 consecutive branchings",
          MetricsLog.BRANCH_RATE_L + "1",
          "Branch rate, l = 1",
          MetricsLog.BRANCH_RATE_L + "2",
          "Branch rate, l = 2",
          MetricsLog.BRANCH_RATE_L + "3plus",
          "Branch rate, l \u2265 3");

  /** Titles of the other standard keys; other numeric keys are titled by their name. */
  private static final Map<String, String> MORE_CURVES =
      ordered(
          MetricsLog.LOSS,
          "Policy loss",
          MetricsLog.DELTA_H + "_p10",
          "\u0394H, 10th percentile",
          MetricsLog.DELTA_H + "_p90",
          "\u0394H, 90th percentile",
          MetricsLog.ENTROPY_AFTER_TOOL_MEAN,
          "Window entropy after tool results",
          MetricsLog.ENTROPY_MEAN,
          "Mean token entropy (nats)",
          MetricsLog.BRANCHES,
          "Branches per step",
          MetricsLog.PPO_KL,
          "KL to the sampling policy (PPO)",
          MetricsLog.KL_REF,
          "KL to reference (k3)",
          MetricsLog.GRAD_NORM,
          "Gradient norm",
          MetricsLog.GENERATED_TOKENS_PER_S,
          "Generated tokens per second",
          MetricsLog.STEP_TIME_S,
          "Step time (s)");

  private static final String[] COLORS = {
    "#d9480f", "#1c7ed6", "#2b8a3e", "#7048e8", "#c2255c", "#495057"
  };

  private final String title;
  private final Map<String, List<Map<String, Object>>> runs;
  private final List<ResultRow> results;
  private final Map<String, String> settings;
  private final List<RolloutTree> trees;

  private HtmlReport(Builder b) {
    this.title = b.title;
    this.runs = new LinkedHashMap<>(b.runs);
    this.results = List.copyOf(b.results);
    this.settings = new LinkedHashMap<>(b.settings);
    this.trees = List.copyOf(b.trees);
  }

  public static Builder builder(String title) {
    return new Builder(title);
  }

  /** Collects the report's parts; every part is optional. */
  public static final class Builder {
    private final String title;
    private final Map<String, List<Map<String, Object>>> runs = new LinkedHashMap<>();
    private final List<ResultRow> results = new ArrayList<>();
    private final Map<String, String> settings = new LinkedHashMap<>();
    private final List<RolloutTree> trees = new ArrayList<>();

    private Builder(String title) {
      this.title = Objects.requireNonNull(title, "title");
    }

    /** Adds the curves of algorithm {@code algo} from its metrics log ({@link MetricsLog#read}). */
    public Builder run(String algo, Path metricsFile) throws IOException {
      return run(algo, MetricsLog.read(metricsFile));
    }

    /** Adds the curves of algorithm {@code algo}: one map per step, as in a metrics log. */
    public Builder run(String algo, List<? extends Map<String, ?>> steps) {
      Objects.requireNonNull(algo, "algo");
      if (runs.containsKey(algo)) {
        throw new IllegalArgumentException("algo: a run called '" + algo + "' was already added");
      }
      List<Map<String, Object>> copy = new ArrayList<>();
      steps.forEach(step -> copy.add(new LinkedHashMap<>(step)));
      runs.put(algo, copy);
      return this;
    }

    public Builder result(ResultRow row) {
      results.add(Objects.requireNonNull(row, "row"));
      return this;
    }

    /** A line of the settings table (seed, model size, M, N, …). */
    public Builder setting(String key, Object value) {
      settings.put(Objects.requireNonNull(key, "key"), String.valueOf(value));
      return this;
    }

    public Builder tree(RolloutTree tree) {
      trees.add(Objects.requireNonNull(tree, "tree"));
      return this;
    }

    public HtmlReport build() {
      return new HtmlReport(this);
    }
  }

  /**
   * Writes {@code runDir/report.html} (atomically: a reader never sees half a file) and returns its
   * path.
   */
  public Path write(Path runDir) throws IOException {
    Files.createDirectories(runDir);
    Path file = runDir.resolve(FILE_NAME);
    Path temp = runDir.resolve(FILE_NAME + ".tmp");
    Files.writeString(temp, render(), StandardCharsets.UTF_8);
    Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return file;
  }

  /** The whole HTML document. */
  public String render() {
    StringBuilder html = new StringBuilder();
    html.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
        .append(Html.escape(title))
        .append("</title>\n<style>\n")
        .append(CSS)
        .append("</style>\n</head>\n<body>\n")
        .append("<h1>")
        .append(Html.escape(title))
        .append("</h1>\n");
    html.append("<p class=\"runs\">");
    if (runs.isEmpty()) {
      html.append("No metrics logged.");
    }
    int index = 0;
    for (Map.Entry<String, List<Map<String, Object>>> run : runs.entrySet()) {
      html.append("<span class=\"swatch\" style=\"background:")
          .append(color(index++))
          .append("\"></span>")
          .append(Html.escape(run.getKey()))
          .append(" \u2013 ")
          .append(run.getValue().size())
          .append(" steps &nbsp; ");
    }
    html.append("</p>\n");
    settings(html);
    results(html);
    curves(html);
    html.append("<h2 id=\"trees\">Rollout trees</h2>\n");
    if (trees.isEmpty()) {
      html.append("<p class=\"muted\">No rollout trees recorded.</p>\n");
    } else {
      html.append(
          "<p class=\"muted\">Each box is one trajectory; forked trajectories sit under their parent."
              + " Shaded text is a tool result (masked from the loss). \u25c6 marks an entropy check after a tool"
              + " result: \u0394H is the entropy change of the next tokens (normalised by ln|V|), P = \u03b1 + \u03b2\u00b7\u0394H;"
              + " orange chips branched.</p>\n");
      for (int i = 0; i < trees.size(); i++) {
        html.append(TreeView.render(trees.get(i), i + 1));
      }
    }
    return html.append("<footer>arpo4j run report</footer>\n</body>\n</html>\n").toString();
  }

  private void settings(StringBuilder html) {
    if (settings.isEmpty()) {
      return;
    }
    html.append("<h2 id=\"settings\">Settings</h2>\n<table class=\"settings\">\n");
    settings.forEach(
        (key, value) ->
            html.append("<tr><th>")
                .append(Html.escape(key))
                .append("</th><td>")
                .append(Html.escape(value))
                .append("</td></tr>\n"));
    html.append("</table>\n");
  }

  private void results(StringBuilder html) {
    if (results.isEmpty()) {
      return;
    }
    double bestAccuracy =
        results.stream().mapToDouble(ResultRow::accuracy).max().orElse(Double.NaN);
    double fewestCalls =
        results.stream().mapToDouble(ResultRow::toolCallsPerQuestion).min().orElse(Double.NaN);
    Set<String> kinds = new TreeSet<>();
    results.forEach(row -> kinds.addAll(row.accuracyByKind().keySet()));
    html.append(
        "<h2 id=\"results\">Results</h2>\n<table class=\"results\">\n<tr><th>Policy</th>"
            + "<th>Accuracy</th>");
    kinds.forEach(
        kind ->
            html.append("<th>")
                .append(Html.escape(kind.toLowerCase(Locale.ROOT).replace('_', '-')))
                .append("</th>"));
    html.append(
        "<th>Tool calls / question</th><th>Training tool calls / prompt</th>"
            + "<th>Rollout tokens / prompt</th><th>Time</th></tr>\n");
    for (ResultRow row : results) {
      html.append("<tr><td>")
          .append(Html.escape(row.algo()))
          .append("</td><td")
          .append(row.accuracy() == bestAccuracy && results.size() > 1 ? " class=\"best\"" : "")
          .append('>')
          .append(Html.fixed(100 * row.accuracy(), 1))
          .append(" %</td>");
      for (String kind : kinds) {
        Double accuracy = row.accuracyByKind().get(kind);
        html.append("<td>")
            .append(accuracy == null ? "\u2013" : Html.fixed(100 * accuracy, 1) + " %")
            .append("</td>");
      }
      html.append("<td")
          .append(
              row.toolCallsPerQuestion() == fewestCalls && results.size() > 1
                  ? " class=\"best\""
                  : "")
          .append('>')
          .append(Html.fixed(row.toolCallsPerQuestion(), 2))
          .append("</td><td>")
          .append(
              Double.isFinite(row.trainToolCallsPerPrompt())
                  ? Html.fixed(row.trainToolCallsPerPrompt(), 2)
                  : "\u2013")
          .append("</td><td>")
          .append(
              Double.isFinite(row.trainTokensPerPrompt())
                  ? Html.fixed(row.trainTokensPerPrompt(), 0)
                  : "\u2013")
          .append("</td><td>")
          .append(duration(row.seconds()))
          .append("</td></tr>\n");
    }
    html.append("</table>\n");
  }

  private void curves(StringBuilder html) {
    html.append("<h2 id=\"curves\">Training curves</h2>\n");
    if (runs.isEmpty()) {
      html.append("<p class=\"muted\">No metrics logged.</p>\n");
      return;
    }
    Set<String> others = new LinkedHashSet<>(MORE_CURVES.keySet());
    for (List<Map<String, Object>> steps : runs.values()) {
      for (Map<String, Object> step : steps) {
        step.forEach(
            (key, value) -> {
              if (value instanceof Number
                  && !key.equals(MetricsLog.STEP)
                  && !MAIN_CURVES.containsKey(key)
                  && !AEPO_CURVES.containsKey(key)) {
                others.add(key);
              }
            });
      }
    }
    html.append(
        "<p class=\"muted\">All algorithms on the same axes. With 20 steps or more, the faint line is"
            + " the per-step value and the bold line its moving average.</p>\n<div class=\"grid\">\n");
    List<String> missing = new ArrayList<>();
    MAIN_CURVES.forEach(
        (key, caption) -> {
          if (!chart(key, caption, html)) {
            missing.add(key);
          }
        });
    html.append("</div>\n");
    if (!missing.isEmpty()) {
      html.append("<p class=\"muted\">Not logged: ")
          .append(Html.escape(String.join(", ", missing)))
          .append("</p>\n");
    }
    StringBuilder aepo = new StringBuilder();
    AEPO_CURVES.forEach((key, caption) -> chart(key, caption, aepo));
    if (aepo.length() > 0) {
      html.append(
              "<h3>AEPO: budget split and consecutive branching</h3>\n<div class=\"grid small\">\n")
          .append(aepo)
          .append("</div>\n");
    }
    StringBuilder more = new StringBuilder();
    for (String key : others) {
      chart(key, MORE_CURVES.getOrDefault(key, key), more);
    }
    if (more.length() > 0) {
      html.append("<h3>More metrics</h3>\n<div class=\"grid small\">\n")
          .append(more)
          .append("</div>\n");
    }
  }

  /** Appends the chart of {@code key} over all runs; false if no run logged it. */
  private boolean chart(String key, String caption, StringBuilder html) {
    List<LineChart.Series> series = new ArrayList<>();
    int index = 0;
    for (Map.Entry<String, List<Map<String, Object>>> run : runs.entrySet()) {
      List<Map<String, Object>> steps = run.getValue();
      double[] x = new double[steps.size()];
      double[] y = new double[steps.size()];
      int n = 0;
      for (int i = 0; i < steps.size(); i++) {
        Object value = steps.get(i).get(key);
        if (value instanceof Number number && Double.isFinite(number.doubleValue())) {
          x[n] =
              steps.get(i).get(MetricsLog.STEP) instanceof Number step ? step.doubleValue() : i + 1;
          y[n++] = number.doubleValue();
        }
      }
      if (n > 0) {
        series.add(
            new LineChart.Series(
                run.getKey(), color(index), Arrays.copyOf(x, n), Arrays.copyOf(y, n)));
      }
      index++;
    }
    if (series.isEmpty()) {
      return false;
    }
    html.append("<figure>\n<figcaption>")
        .append(Html.escape(caption))
        .append("</figcaption>\n")
        .append(LineChart.render(key, "step", series))
        .append("</figure>\n");
    return true;
  }

  private static String color(int index) {
    return COLORS[index % COLORS.length];
  }

  private static String duration(double seconds) {
    if (!Double.isFinite(seconds)) {
      return "\u2013";
    }
    long s = Math.round(seconds);
    return s < 3600
        ? String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60)
        : String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  }

  private static Map<String, String> ordered(String... keysAndValues) {
    Map<String, String> map = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      map.put(keysAndValues[i], keysAndValues[i + 1]);
    }
    return map;
  }

  private static final String CSS =
      """
      body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212529;
             max-width: 1180px; margin: 24px auto; padding: 0 16px; }
      h1 { font-size: 24px; margin: 0 0 4px; }
      h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #dee2e6; padding-bottom: 4px; }
      h3 { font-size: 15px; margin: 18px 0 6px; }
      .runs { color: #495057; margin: 0 0 8px; }
      .swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px;
                vertical-align: -1px; }
      .muted { color: #6c757d; }
      table { border-collapse: collapse; }
      th, td { padding: 4px 12px; border-bottom: 1px solid #e9ecef; text-align: left; }
      table.results td:not(:first-child) { text-align: right; font-variant-numeric: tabular-nums; }
      table.settings th { font-weight: 500; color: #495057; }
      td.best { font-weight: 700; }
      .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 12px; }
      .grid.small svg { width: 100%; height: auto; }
      figure { margin: 0; border: 1px solid #e9ecef; border-radius: 6px; padding: 8px; }
      figcaption { font-weight: 600; margin-bottom: 2px; }
      svg.chart { max-width: 100%; height: auto; }
      svg .grid { stroke: #e9ecef; }
      svg .frame { fill: none; stroke: #adb5bd; }
      svg .tickmark { stroke: #adb5bd; }
      svg text { font: 11px system-ui, sans-serif; fill: #495057; }
      svg text.legend { font-size: 12px; fill: #212529; }
      svg .faint { opacity: 0.3; }
      details.tree { border: 1px solid #dee2e6; border-radius: 6px; padding: 8px 12px; margin: 12px 0; }
      details.tree summary { font-weight: 600; cursor: pointer; }
      .stats { color: #495057; margin: 6px 0; }
      .prompt { background: #f1f3f5; border-radius: 4px; padding: 4px 8px; margin: 6px 0; }
      .prompt .tag { font-size: 11px; color: #868e96; text-transform: uppercase; }
      pre { white-space: pre-wrap; word-break: break-word; margin: 2px 0;
            font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
      ul.nodes, ul.nodes ul { list-style: none; margin: 0; padding-left: 22px; }
      ul.nodes { padding-left: 0; }
      ul.nodes ul { border-left: 2px solid #ffc078; margin-left: 10px; padding-left: 14px; }
      .node { border: 1px solid #dee2e6; border-radius: 5px; padding: 4px 8px; margin: 6px 0; background: #fff; }
      .head { display: flex; gap: 10px; align-items: baseline; font-size: 12.5px; }
      .nid { font-weight: 700; }
      .from { color: #6c757d; }
      .reward { margin-left: auto; font-weight: 600; padding: 0 6px; border-radius: 3px; }
      .reward.good { background: #d3f9d8; color: #2b8a3e; }
      .reward.part { background: #fff3bf; color: #a36a00; }
      .reward.bad { background: #ffe3e3; color: #c92a2a; }
      .reward.none { background: #f1f3f5; color: #868e96; }
      .res { background: #e9ecef; color: #495057; }
      .bp { display: inline-block; font: 11px system-ui, sans-serif; border-radius: 10px; padding: 0 7px;
            margin: 0 3px; vertical-align: 1px; white-space: nowrap; }
      .bp.yes { background: #ffe8cc; color: #d9480f; border: 1px solid #ffa94d; }
      .bp.no { background: #f8f9fa; color: #868e96; border: 1px solid #dee2e6; }
      footer { margin: 32px 0 8px; color: #adb5bd; font-size: 12px; }
      """;
}
