package io.arpo4j.trainer.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.arpo4j.model.DefaultModel;
import io.arpo4j.model.HfTokenizer;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.TextCodec;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.RolloutRecorder;
import io.arpo4j.rollout.Trajectory;
import io.arpo4j.trainer.Checkpoints;
import io.arpo4j.trainer.Evaluator;
import io.arpo4j.trainer.MetricsLog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * The report of a run directory, from what training left there: {@code config.yaml} (settings),
 * {@code metrics.jsonl} (curves), {@code eval.json} (the results row) and {@code rollouts.jsonl}
 * (the trees of the last step). {@code arpo4j report <run-dir>} writes it; the demo puts several
 * runs into one report with {@link #addRun}.
 */
public final class RunReport {
  private RunReport() {}

  /** Trees drawn per run: the most-branched groups of its last recorded step. */
  static final int TREES = 3;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  /**
   * Writes {@code runDir/report.html} for one run and returns its path; the rollout texts are cut
   * at branch points with the tokenizer of the run's model (its latest checkpoint's, else the
   * configured one).
   */
  public static Path write(Path runDir) throws IOException {
    Path configFile = runDir.resolve(Checkpoints.CONFIG_FILE);
    if (!Files.isRegularFile(runDir.resolve(MetricsLog.FILE_NAME))
        && !Files.isRegularFile(configFile)) {
      throw new IllegalArgumentException(
          runDir + " is not a run directory (no " + MetricsLog.FILE_NAME + ", no config.yaml)");
    }
    JsonNode config =
        Files.isRegularFile(configFile)
            ? YAML.readTree(configFile.toFile())
            : JSON.createObjectNode();
    String algo = config.path("algo").asText("run");
    HtmlReport.Builder report =
        HtmlReport.builder("arpo4j run " + runDir.getFileName() + " (" + algo + ")");
    setting(report, config, "algo");
    setting(report, config, "model");
    setting(report, config, "seed");
    setting(report, config, "steps");
    setting(report, config, "prompts_per_step");
    if (config.has("rollout")) {
      report.setting(
          "M / N",
          config.path("rollout").path("global_size").asText()
              + " / "
              + config.path("rollout").path("initial_samples").asText());
    }
    Path eval = runDir.resolve(Evaluator.FILE_NAME);
    if (Files.isRegularFile(eval)) {
      JsonNode e = JSON.readTree(eval.toFile());
      report.setting(
          "evaluation",
          e.path("questions").asInt()
              + " questions x "
              + e.path("samples").asInt()
              + " samples at temperature "
              + e.path("temperature").asText()
              + " ("
              + e.path("model").asText("?")
              + ")");
      report.result(
          new ResultRow(
              algo,
              e.path("pass_at_1").asDouble(Double.NaN),
              Map.of(),
              e.path("tool_calls_per_answer").asDouble(Double.NaN),
              perPromptIfLogged(runDir, MetricsLog.TOOL_CALLS_PER_PROMPT),
              perPromptIfLogged(runDir, MetricsLog.GENERATED_TOKENS),
              Double.NaN));
    }
    try (HfTokenizer tokenizer = tokenizer(runDir, config)) {
      addRun(report, algo, runDir, tokenizer);
    }
    return report.build().write(runDir);
  }

  /**
   * Adds run {@code runDir}'s curves as {@code label} and up to {@value #TREES} rollout trees of
   * its last recorded step (the most-branched first), whose texts {@code codec} cuts at branch
   * points.
   */
  public static void addRun(HtmlReport.Builder report, String label, Path runDir, TextCodec codec)
      throws IOException {
    Path metrics = runDir.resolve(MetricsLog.FILE_NAME);
    if (Files.isRegularFile(metrics)) report.run(label, metrics);
    Path rollouts = runDir.resolve("rollouts.jsonl");
    if (!Files.isRegularFile(rollouts)) return;
    List<RolloutGroup> groups = RolloutRecorder.read(rollouts);
    List<RolloutGroup> sorted =
        new ArrayList<>(groups.subList(Math.max(0, groups.size() - 8), groups.size()));
    sorted.sort(Comparator.comparingInt(RunReport::branches).reversed());
    for (RolloutGroup g : sorted.subList(0, Math.min(TREES, sorted.size()))) {
      report.tree(
          RolloutTrees.of(
              g, codec, label + ", prompt " + g.promptIndex() + " (" + branches(g) + " branches)"));
    }
  }

  private static double perPromptIfLogged(Path runDir, String key) throws IOException {
    Path metrics = runDir.resolve(MetricsLog.FILE_NAME);
    return Files.isRegularFile(metrics) ? perPrompt(metrics, key) : Double.NaN;
  }

  /**
   * A per-step training metric per prompt rolled out, over all the steps of a run that logged it: a
   * per-prompt mean ({@link MetricsLog#TOOL_CALLS_PER_PROMPT}) weighted by the step's prompts, or a
   * per-step total ({@link MetricsLog#GENERATED_TOKENS}) divided by them.
   */
  public static double perPrompt(Path metrics, String key) throws IOException {
    boolean mean = key.equals(MetricsLog.TOOL_CALLS_PER_PROMPT);
    double total = 0, prompts = 0;
    for (Map<String, Object> step : MetricsLog.read(metrics)) {
      if (!(step.get(MetricsLog.PROMPTS) instanceof Number n)
          || !(step.get(key) instanceof Number value)) continue;
      total += mean ? value.doubleValue() * n.doubleValue() : value.doubleValue();
      prompts += n.doubleValue();
    }
    return prompts == 0 ? 0 : total / prompts;
  }

  private static int branches(RolloutGroup g) {
    int n = 0;
    for (Trajectory t : g.trajectories()) n += t.origin() == Trajectory.Origin.BRANCH ? 1 : 0;
    return n;
  }

  private static void setting(HtmlReport.Builder report, JsonNode config, String key) {
    if (config.hasNonNull(key)) report.setting(key, config.get(key).asText());
  }

  /** The tokenizer of the run's latest checkpoint, else of its configured model. */
  private static HfTokenizer tokenizer(Path runDir, JsonNode config) throws IOException {
    var latest = new Checkpoints(runDir).latest();
    if (latest.isPresent()) return HfTokenizer.load(latest.get().resolve(Checkpoints.MODEL_DIR));
    String model = config.path("model").asText(PolicyModel.DEFAULT_NAME);
    return PolicyModel.DEFAULT_NAME.equals(model)
        ? DefaultModel.tokenizer()
        : HfTokenizer.load(Path.of(Checkpoints.modelOf(model)));
  }
}
