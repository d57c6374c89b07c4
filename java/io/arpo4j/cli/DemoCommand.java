package io.arpo4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.demo.DemoModel;
import io.arpo4j.demo.DemoQuestion;
import io.arpo4j.demo.DemoTask;
import io.arpo4j.model.StorageType;
import io.arpo4j.rollout.Trajectory;
import io.arpo4j.trainer.Evaluator;
import io.arpo4j.trainer.MetricsLog;
import io.arpo4j.trainer.Question;
import io.arpo4j.trainer.SftTrainer;
import io.arpo4j.trainer.Trainer;
import io.arpo4j.trainer.TrainerConfig;
import io.arpo4j.trainer.report.HtmlReport;
import io.arpo4j.trainer.report.ResultRow;
import io.arpo4j.trainer.report.RunReport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The embedded demo: a task the tiny demo model can only solve with tools (arithmetic through
 * python, fictional facts through search, two-hop lookups). It starts from the shipped cold-start
 * checkpoint (or redoes that SFT with {@code --from-scratch}), evaluates it on held-out questions,
 * then trains each chosen variant (ARPO and GRPO by default; {@link Variant}) from it with the same
 * rollout budget and seed and evaluates each.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description =
        "Evaluate the demo's cold-start model, train ARPO and GRPO from it, evaluate both, write a report.")
public final class DemoCommand implements Callable<Integer> {
  @Option(names = "--quick", description = "a smoke run of the same pipeline (under 2 minutes)")
  boolean quick;

  @Option(
      names = "--from-scratch",
      description =
          "redo the cold-start SFT from random weights instead of using the shipped checkpoint")
  boolean fromScratch;

  @Option(
      names = "--seed",
      description = "seed of the rollouts and the data order (default 1); the demo world is fixed")
  long seed = 1;

  @Option(
      names = "--dev",
      description =
          "evaluate on the development split instead of the held-out one (to choose settings)")
  boolean development;

  @Option(names = "--runs-dir", description = "where runs go (default runs)")
  String runsDir = "runs";

  @Option(
      names = "--algos",
      split = ",",
      description =
          "variants to compare (default arpo,grpo): an algorithm (arpo, aepo, grpo, dapo, ...),"
              + " one with AEPO pieces (arpo+split, arpo+penalty+stopgrad; pieces: "
              + "split, penalty, stopgrad, entadv), grpo@M (M samples per prompt), or"
              + " grpo@arpo-calls (the M whose training tool calls per prompt come closest to"
              + " arpo's, after arpo and grpo ran)")
  List<String> algos = List.of("arpo", "grpo");

  /**
   * One trained policy of the demo: an algorithm with settings over its preset.
   *
   * @param name the row's name, as written ({@code arpo+split}, {@code grpo@12})
   * @param algo the algorithm ({@link TrainerConfig#ALGORITHMS})
   * @param settings {@code key=value} settings over the demo's (AEPO pieces, the group size)
   */
  public record Variant(String name, String algo, List<String> settings) {
    public Variant {
      settings = List.copyOf(settings);
    }

    /** The AEPO pieces a variant may add, each its setting in the {@code aepo} preset. */
    static final Map<String, String> PIECES =
        Map.of(
            "split", "aepo.dynamic_split",
            "penalty", "aepo.branch_penalty",
            "stopgrad", "loss.clip_mode",
            "entadv", "aepo.entropy_advantage_coef");

    /** Placeholder of {@code grpo@arpo-calls}, resolved once arpo and grpo ran. */
    static final String MATCH_ARPO_CALLS = "arpo-calls";

    /**
     * {@code algo}, {@code algo+piece+...}, {@code algo@M}, or {@code grpo@arpo-calls} (its size is
     * left to {@link #run}).
     */
    public static Variant parse(String spec) {
      String text = spec.strip().toLowerCase(Locale.ROOT);
      int at = text.indexOf('@');
      if (at >= 0) {
        String algo = text.substring(0, at), size = text.substring(at + 1);
        TrainerConfig.ALGORITHMS.get(algo);
        if (size.equals(MATCH_ARPO_CALLS)) return new Variant(text, algo, List.of());
        int m;
        try {
          m = Integer.parseInt(size);
        } catch (NumberFormatException e) {
          m = 0;
        }
        if (m < 1) {
          throw new IllegalArgumentException(
              "variant '" + spec + "': after @ comes a group size >= 1 or " + MATCH_ARPO_CALLS);
        }
        return new Variant(text, algo, List.of("rollout.global_size=" + m));
      }
      String[] parts = text.split("\\+");
      TrainerConfig.ALGORITHMS.get(parts[0]);
      List<String> settings = new ArrayList<>();
      List<String> aepo = TrainerConfig.ALGORITHMS.get("aepo").settings();
      for (int i = 1; i < parts.length; i++) {
        String key = PIECES.get(parts[i]);
        if (key == null) {
          throw new IllegalArgumentException(
              "variant '"
                  + spec
                  + "': unknown piece '"
                  + parts[i]
                  + "'; known: "
                  + PIECES.keySet());
        }
        settings.add(aepo.stream().filter(x -> x.startsWith(key + "=")).findFirst().orElseThrow());
      }
      return new Variant(text, parts[0], settings);
    }

    boolean matchesArpoCalls() {
      return name.endsWith("@" + MATCH_ARPO_CALLS);
    }
  }

  /** The sizes of a run: the full demo and the --quick smoke run. */
  public record Plan(
      int train,
      int heldOut,
      int sftEpochs,
      int sftBatchSize,
      int steps,
      int promptsPerStep,
      int miniBatchPrompts,
      int globalSize,
      int initialSamples) {}

  /** {@code specs} parsed ({@link Variant#parse}); an unknown name fails before anything runs. */
  public static List<Variant> variants(List<String> specs) {
    List<Variant> out = new ArrayList<>();
    for (String spec : specs) out.add(Variant.parse(spec));
    return out;
  }

  public static Plan plan(boolean quick) {
    return quick
        ? new Plan(192, 30, 1, 32, 2, 4, 2, 4, 2)
        : new Plan(6000, 300, 10, 32, 96, 8, 2, 8, 4);
  }

  @Override
  public Integer call() throws Exception {
    Result r = run(plan(quick), seed, fromScratch, Path.of(runsDir), variants(algos), development);
    System.out.println();
    System.out.println(r.table());
    System.out.println("report: " + r.report());
    return 0;
  }

  /**
   * What the demo measured: the cold-start policy ({@code start}, not trained) and one row per
   * algorithm, each with its held-out accuracy per question kind.
   */
  public record Result(ResultRow start, List<ResultRow> rows, SftTrainer.Result sft, Path report) {
    public String table() {
      StringBuilder sb = new StringBuilder();
      if (sft != null) {
        sb.append(
            String.format(
                "SFT: loss %.3f -> %.3f in %.0f s%n",
                sft.firstLoss(), sft.lastLoss(), sft.seconds()));
      }
      sb.append(
          String.format(
              "%-16s %10s %18s %22s %10s   %s%n",
              "policy",
              "accuracy",
              "tool calls / q",
              "train calls / prompt",
              "time (s)",
              "accuracy by kind"));
      List<ResultRow> all = new ArrayList<>(List.of(start));
      all.addAll(rows);
      for (ResultRow row : all) {
        StringBuilder kinds = new StringBuilder();
        row.accuracyByKind().entrySet().stream()
            .sorted(Map.Entry.comparingByKey())
            .forEach(
                e ->
                    kinds
                        .append(e.getKey().toLowerCase(Locale.ROOT))
                        .append(String.format(" %.2f  ", e.getValue())));
        sb.append(
            String.format(
                "%-16s %10.3f %18.2f %22s %10s   %s%n",
                row.algo(),
                row.accuracy(),
                row.toolCallsPerQuestion(),
                blankIfNaN("%.2f", row.trainToolCallsPerPrompt()),
                blankIfNaN("%.0f", row.seconds()),
                kinds.toString().strip()));
      }
      return sb.toString();
    }

    private static String blankIfNaN(String format, double value) {
      return Double.isNaN(value) ? "" : String.format(format, value);
    }
  }

  /**
   * Runs the demo; {@code development} evaluates every policy on the development split instead of
   * the held-out questions (the report and summary then hold development numbers).
   */
  public static Result run(
      Plan plan,
      long seed,
      boolean fromScratch,
      Path runsDir,
      List<Variant> variants,
      boolean development)
      throws Exception {
    Path root = runsDir.resolve("demo");
    Path data = root.resolve("data");
    // one RL prompt per question: every RL question is about names the cold start has never seen
    DemoTask task =
        DemoTask.generate(
            DemoTask.WORLD_SEED,
            plan.train(),
            plan.steps() * plan.promptsPerStep(),
            plan.heldOut());
    task.writeTo(data);
    System.out.println(
        "demo: "
            + task.train().size()
            + " training (SFT), "
            + task.rl().size()
            + " RL and "
            + task.heldOut().size()
            + " held-out questions, "
            + task.corpus().docs().size()
            + " documents in "
            + data);

    // 1. the cold-start model: shipped, or SFT of the demo model from its random initial weights
    Path coldStart;
    SftTrainer.Result sft = null;
    if (fromScratch) {
      Path initial = DemoModel.writeInitial(root.resolve("initial-model"));
      coldStart = root.resolve("sft-model");
      try (Trainer trainer =
          Trainer.builder(config(plan, seed, runsDir, "demo-sft", initial.toString(), "sft"))
              .resume(false)
              .build()) {
        sft = trainer.sft(data.resolve("sft.jsonl"));
        trainer.model().save(coldStart, StorageType.F32);
      }
      System.out.printf(
          "sft: loss %.3f -> %.3f in %.0f s%n", sft.firstLoss(), sft.lastLoss(), sft.seconds());
    } else {
      coldStart = DemoModel.writeColdStart(root.resolve("cold-start"));
    }

    List<DemoQuestion> evaluated = development ? task.development() : task.heldOut();
    List<Question> rlQuestions = questions(task.rl()), heldOut = questions(evaluated);
    HtmlReport.Builder report =
        HtmlReport.builder(
                "arpo4j demo: "
                    + String.join(" vs ", variants.stream().map(Variant::name).toList())
                    + " on the demo model")
            .setting("seed", seed)
            .setting(
                "cold start",
                fromScratch
                    ? sft.steps()
                        + " SFT steps, loss "
                        + String.format("%.3f -> %.3f", sft.firstLoss(), sft.lastLoss())
                    : "the shipped checkpoint (resources/io/arpo4j/demo/model)")
            .setting(
                "RL",
                plan.steps()
                    + " steps x "
                    + plan.promptsPerStep()
                    + " prompts x M="
                    + plan.globalSize()
                    + ", optimizer step every "
                    + plan.miniBatchPrompts()
                    + " prompts")
            .setting(
                development ? "development questions" : "held-out questions",
                heldOut.size() + " (greedy decoding)");
    for (Variant v : variants) {
      if (!v.settings().isEmpty()) report.setting(v.name(), String.join(", ", v.settings()));
    }

    // 2. the starting policy on the held-out questions
    Evaluator.Result start;
    try (Trainer trainer =
        Trainer.builder(config(plan, seed, runsDir, "demo-start", coldStart.toString(), "grpo"))
            .resume(false)
            .tool(task.search())
            .build()) {
      start = trainer.evaluate(heldOut);
    }
    System.out.printf(
        "start: held-out accuracy %.3f, %.2f tool calls per question%n",
        start.passAt1(), start.toolCallsPerAnswer());
    ResultRow startRow =
        new ResultRow(
            "start",
            start.passAt1(),
            accuracyByKind(evaluated, start),
            start.toolCallsPerAnswer(),
            Double.NaN,
            Double.NaN,
            Double.NaN);
    report.result(startRow);

    // 3. the same RL budget and seed for each algorithm, from the same cold start
    List<ResultRow> rows = new ArrayList<>();
    for (Variant planned : variants) {
      Variant variant = planned.matchesArpoCalls() ? matchArpoCalls(planned, plan, rows) : planned;
      String algo = variant.name();
      TrainerConfig config =
          config(
              plan,
              seed,
              runsDir,
              "demo-" + algo.replace('@', '-'),
              coldStart.toString(),
              variant.algo(),
              variant.settings());
      long t0 = System.nanoTime();
      Evaluator.Result eval;
      try (Trainer trainer = Trainer.builder(config).resume(false).tool(task.search()).build()) {
        trainer.train(rlQuestions);
        eval = trainer.evaluate(heldOut);
        double seconds = (System.nanoTime() - t0) / 1e9;
        ResultRow row =
            new ResultRow(
                algo,
                eval.passAt1(),
                accuracyByKind(evaluated, eval),
                eval.toolCallsPerAnswer(),
                RunReport.perPrompt(
                    config.runDir().resolve(MetricsLog.FILE_NAME),
                    MetricsLog.TOOL_CALLS_PER_PROMPT),
                RunReport.perPrompt(
                    config.runDir().resolve(MetricsLog.FILE_NAME), MetricsLog.GENERATED_TOKENS),
                seconds);
        rows.add(row);
        report.result(row);
        eval.save(
            config.runDir().resolve(Evaluator.FILE_NAME),
            Map.of("model", config.runDir().toString(), "data", "demo held-out questions"));
        RunReport.addRun(report, algo, config.runDir(), trainer.model().tokenizer());
      }
      System.out.printf(
          "%s: held-out accuracy %.3f, %.2f tool calls per question%n",
          algo, eval.passAt1(), eval.toolCallsPerAnswer());
    }
    Path html = report.build().write(root);
    Result result = new Result(startRow, rows, sft, html);
    writeSummary(root.resolve("summary.json"), result);
    return result;
  }

  /**
   * Held-out accuracy per question kind; the evaluator returns one group per question, in order.
   */
  static Map<String, Double> accuracyByKind(List<DemoQuestion> questions, Evaluator.Result eval) {
    Map<String, double[]> sums = new LinkedHashMap<>();
    for (DemoQuestion.Kind kind : DemoQuestion.Kind.values()) sums.put(kind.name(), new double[2]);
    for (int i = 0; i < questions.size(); i++) {
      double[] s = sums.get(questions.get(i).kind().name());
      for (Trajectory t : eval.groups().get(i).trajectories()) {
        s[0] += t.reward() >= 1.0 ? 1 : 0;
        s[1]++;
      }
    }
    Map<String, Double> out = new LinkedHashMap<>();
    sums.forEach((kind, s) -> out.put(kind, s[1] == 0 ? Double.NaN : s[0] / s[1]));
    return out;
  }

  /**
   * {@code summary.json}: the numbers of the table, for scripts (benchmarks/run.sh demo-compare).
   */
  static void writeSummary(Path file, Result r) throws IOException {
    Map<String, Object> algos = new LinkedHashMap<>();
    for (ResultRow row : r.rows()) {
      Map<String, Object> a = new LinkedHashMap<>();
      a.put("accuracy", row.accuracy());
      a.put("tool_calls_per_question", row.toolCallsPerQuestion());
      a.put("train_tool_calls_per_prompt", row.trainToolCallsPerPrompt());
      a.put("train_tokens_per_prompt", row.trainTokensPerPrompt());
      a.put("seconds", row.seconds());
      a.put("accuracy_by_kind", new TreeMap<>(row.accuracyByKind()));
      algos.put(row.algo(), a);
    }
    Map<String, Object> start = new LinkedHashMap<>();
    start.put("accuracy", r.start().accuracy());
    start.put("tool_calls_per_question", r.start().toolCallsPerQuestion());
    start.put("accuracy_by_kind", new TreeMap<>(r.start().accuracyByKind()));
    Map<String, Object> summary = new LinkedHashMap<>();
    summary.put("start", start);
    summary.put("algos", algos);
    Files.writeString(
        file,
        new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(summary) + "\n");
  }

  /** What {@link #writeSummary} wrote: the start row, then the trained rows in their order. */
  public static List<ResultRow> readSummary(Path file) throws IOException {
    if (!Files.isRegularFile(file)) throw new IllegalArgumentException(file + " does not exist");
    JsonNode summary = new ObjectMapper().readTree(file.toFile());
    List<ResultRow> rows = new ArrayList<>(List.of(row("start", summary.path("start"))));
    summary.path("algos").fields().forEachRemaining(e -> rows.add(row(e.getKey(), e.getValue())));
    return rows;
  }

  private static ResultRow row(String algo, JsonNode n) {
    Map<String, Double> byKind = new LinkedHashMap<>();
    n.path("accuracy_by_kind")
        .fields()
        .forEachRemaining(e -> byKind.put(e.getKey(), number(e.getValue())));
    return new ResultRow(
        algo,
        number(n.path("accuracy")),
        byKind,
        number(n.path("tool_calls_per_question")),
        number(n.path("train_tool_calls_per_prompt")),
        number(n.path("train_tokens_per_prompt")),
        number(n.path("seconds")));
  }

  /**
   * A summary number; NaN where the row has none (Jackson writes NaN as a string or leaves it out).
   */
  private static double number(JsonNode n) {
    return n.isNumber()
        ? n.asDouble()
        : n.isTextual() ? Double.parseDouble(n.asText()) : Double.NaN;
  }

  /**
   * GRPO at ARPO's tool-call budget: the group size M' = round(M·c_arpo/c_grpo), c being the
   * training tool calls per prompt of the arpo and grpo rows already run (GRPO's calls grow in
   * proportion to its independent samples).
   */
  static Variant matchArpoCalls(Variant planned, Plan plan, List<ResultRow> done) {
    double arpo = Double.NaN, grpo = Double.NaN;
    for (ResultRow row : done) {
      if (row.algo().equals("arpo")) arpo = row.trainToolCallsPerPrompt();
      if (row.algo().equals(planned.algo())) grpo = row.trainToolCallsPerPrompt();
    }
    if (!(arpo > 0) || !(grpo > 0)) {
      throw new IllegalArgumentException(
          planned.name()
              + " needs arpo and "
              + planned.algo()
              + " earlier in the list, both with tool calls in training");
    }
    int m = (int) Math.max(1, Math.round(plan.globalSize() * arpo / grpo));
    System.out.printf(
        "%s: %s with M = %d (%.2f training tool calls per prompt at M = %d, arpo %.2f)%n",
        planned.name(), planned.algo(), m, grpo, plan.globalSize(), arpo);
    return Variant.parse(planned.algo() + "@" + m);
  }

  /**
   * The demo's settings over the defaults: a small model, so a high learning rate and short
   * contexts.
   */
  static TrainerConfig config(
      Plan plan, long seed, Path runsDir, String runName, String model, String algo)
      throws IOException {
    return config(plan, seed, runsDir, runName, model, algo, List.of());
  }

  /** {@link #config} with a variant's {@code settings} over the demo's. */
  static TrainerConfig config(
      Plan plan,
      long seed,
      Path runsDir,
      String runName,
      String model,
      String algo,
      List<String> settings)
      throws IOException {
    List<String> overrides =
        new ArrayList<>(demoSettings(plan, seed, runsDir, runName, model, algo));
    overrides.addAll(settings);
    // a variant's own group size: branching algorithms keep half of it for initial samples
    for (String setting : settings) {
      if (setting.startsWith("rollout.global_size=")) {
        int m = Integer.parseInt(setting.substring(setting.indexOf('=') + 1));
        boolean branches = TrainerConfig.ALGORITHMS.get(algo).branches();
        overrides.add("rollout.initial_samples=" + (branches ? Math.max(1, m / 2) : m));
      }
    }
    return TrainerConfig.load(null, overrides);
  }

  private static List<String> demoSettings(
      Plan plan, long seed, Path runsDir, String runName, String model, String algo) {
    return List.of(
        "algo=" + (algo.equals("sft") ? "arpo" : algo),
        "run_name=" + runName,
        "runs_dir=" + runsDir,
        "seed=" + seed,
        "model=" + model,
        "data.prompt_template=" + yamlString(DemoTask.prompt("{question}")),
        "steps=" + plan.steps(),
        "prompts_per_step=" + plan.promptsPerStep(),
        "ppo_mini_batch_prompts=" + plan.miniBatchPrompts(),
        "micro_batch_tokens=8192",
        "save_every=0",
        // lr and steps chosen on the development split (demo --dev), never on the held-out one
        "optimizer.lr=5e-5",
        // Adam's second moment over ~20 steps, as nanoGPT: with 0.999 the tied embedding's
        // growing gradients outrun the running variance and the embedding blows up
        // (|E| ~ 600 after 750 SFT steps)
        "optimizer.beta2=0.95",
        "rollout.temperature=1.0",
        "rollout.global_size=" + plan.globalSize(),
        "rollout.initial_samples="
            + (!algo.equals("sft") && TrainerConfig.ALGORITHMS.get(algo).branches()
                ? plan.initialSamples()
                : plan.globalSize()),
        "rollout.entropy_window=8",
        "rollout.max_response_tokens=192",
        "rollout.tool_call_limit=3",
        "reward.kind=exact",
        "tools.python_sandbox.workers=2",
        "tools.python=" + !algo.equals("sft"), // SFT calls no tool: start no python workers for it
        "sft.epochs=" + plan.sftEpochs(),
        "sft.lr=1e-3",
        "sft.warmup_steps=40", // without warm-up Adam leaves this model near a bigram fit for
        // hundreds of steps
        "sft.batch_size=" + plan.sftBatchSize(),
        "eval.samples=1",
        "eval.temperature=0");
  }

  private static String yamlString(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
  }

  static List<Question> questions(List<DemoQuestion> qs) {
    List<Question> out = new ArrayList<>();
    for (DemoQuestion q : qs) out.add(new Question(q.id(), q.question(), q.answers()));
    return out;
  }
}
