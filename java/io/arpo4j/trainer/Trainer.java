package io.arpo4j.trainer;

import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.reward.AnswerReward;
import io.arpo4j.reward.DataSourceReward;
import io.arpo4j.reward.ExactMatchReward;
import io.arpo4j.reward.F1Reward;
import io.arpo4j.reward.FormatCheck;
import io.arpo4j.reward.MathEquivalenceReward;
import io.arpo4j.reward.Reward;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.ToolCaller;
import io.arpo4j.tools.Tool;
import io.arpo4j.tools.ToolCall;
import io.arpo4j.tools.ToolExecutor;
import io.arpo4j.tools.ToolRegistry;
import io.arpo4j.tools.ToolResult;
import io.arpo4j.tools.TrajectoryFormat;
import io.arpo4j.tools.python.PythonSandboxConfig;
import io.arpo4j.tools.python.PythonTool;
import io.arpo4j.tools.search.SearchIndex;
import io.arpo4j.tools.search.SearchTool;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * arpo4j as a library: a policy, its tools and reward, built from a {@link TrainerConfig}, with
 * SFT, RL training and evaluation. Register your own tools and rewards on the builder:
 *
 * <pre>{@code
 * TrainerConfig config = TrainerConfig.load(Path.of("run.yaml"), List.of("algo=arpo"));
 * try (Trainer trainer = Trainer.builder(config).tool(new MyCalendarTool()).build()) {
 *   trainer.train(Question.load(Path.of("train.jsonl")));
 *   System.out.println(trainer.evaluate(Question.load(Path.of("test.jsonl"))).passAt1());
 * }
 * }</pre>
 *
 * If the run directory holds a checkpoint, the policy is loaded from it and training resumes
 * where it stopped.
 */
public final class Trainer implements AutoCloseable {
  private final TrainerConfig config;
  private final PolicyModel model;
  private final ToolRegistry registry;
  private final ToolExecutor executor;
  private final Reward reward;
  private final Reward correctness;
  private final Path resumeFrom;

  private Trainer(TrainerConfig config, PolicyModel model, ToolRegistry registry, Reward reward, Reward correctness,
      Path resumeFrom) {
    this.config = config;
    this.model = model;
    this.registry = registry;
    this.executor = new ToolExecutor(registry, Math.max(2, config.tools().pythonWorkers() * 2));
    this.reward = reward;
    this.correctness = correctness;
    this.resumeFrom = resumeFrom;
  }

  public static Builder builder(TrainerConfig config) {
    return new Builder(config);
  }

  public static final class Builder {
    private final TrainerConfig config;
    private final List<Tool> tools = new ArrayList<>();
    private PolicyModel model;
    private Reward reward;
    private Reward correctness;
    private boolean resume = true;

    private Builder(TrainerConfig config) {
      this.config = config;
    }

    /** Adds a tool next to the configured ones (python, search); the same tag replaces it. */
    public Builder tool(Tool tool) {
      tools.add(tool);
      return this;
    }

    /** The reward to train on, instead of the configured {@code reward.kind}. */
    public Builder reward(Reward reward) {
      this.reward = reward;
      return this;
    }

    /** What counts as a correct answer (score >= 1) for accuracy and pass@k. */
    public Builder correctness(Reward correctness) {
      this.correctness = correctness;
      return this;
    }

    /** A policy to start from instead of {@code config.model()}. */
    public Builder model(PolicyModel model) {
      this.model = model;
      return this;
    }

    /** Whether to continue from the run directory's latest checkpoint (default true). */
    public Builder resume(boolean resume) {
      this.resume = resume;
      return this;
    }

    public Trainer build() throws IOException {
      Optional<Path> checkpoint = resume ? new Checkpoints(config.runDir()).latest() : Optional.empty();
      RuntimeOptions runtime = RuntimeOptions.parse(config.device());
      PolicyModel policy = checkpoint.isPresent()
          ? PolicyModel.load(checkpoint.get().resolve(Checkpoints.MODEL_DIR), runtime)
          : model != null ? model : PolicyModel.load(config.model(), runtime);
      ToolRegistry registry = new ToolRegistry();
      try {
        List<String> customTags = tools.stream().map(Tool::tag).toList();
        if (config.tools().python() && !customTags.contains("python")) {
          registry.register(new PythonTool(PythonSandboxConfig.defaults().toBuilder()
              .workers(config.tools().pythonWorkers())
              .timeout(Duration.ofSeconds(config.tools().pythonTimeoutS()))
              .build()));
        }
        if (config.tools().searchIndex() != null && !customTags.contains("search")) {
          registry.register(new SearchTool(SearchIndex.open(Path.of(config.tools().searchIndex())),
              config.tools().searchTopK(), SearchTool.DEFAULT_SNIPPET_CHARS, Duration.ofSeconds(10)));
        }
        for (Tool t : tools) registry.register(t);
      } catch (IOException | RuntimeException e) {
        registry.close();
        throw e;
      }
      TrajectoryFormat format = registry.format();
      Reward r = reward != null ? reward : configuredReward(config, format, false);
      Reward c = correctness != null ? correctness : configuredReward(config, format, true);
      return new Trainer(config, policy, registry, r, c, checkpoint.orElse(null));
    }
  }

  /**
   * The configured {@code reward.kind}, whose format check knows exactly the registered tools; as
   * a correctness rule ({@code correct}) it scores 1 when the answer matches fully, else 0.
   */
  static Reward configuredReward(TrainerConfig config, TrajectoryFormat tools, boolean correct) {
    if (config.reward().kind().equals("auto")) {
      return new DataSourceReward(configuredReward(config, "math", tools, correct),
          configuredReward(config, "f1", tools, correct));
    }
    return configuredReward(config, config.reward().kind(), tools, correct);
  }

  private static Reward configuredReward(TrainerConfig config, String kind, TrajectoryFormat tools, boolean correct) {
    FormatCheck format = new FormatCheck(tools);
    double bonus = config.reward().multiToolBonus();
    AnswerReward reward = switch (kind) {
      case "f1" -> new F1Reward(format, bonus);
      case "exact" -> new ExactMatchReward(format, bonus);
      case "math" -> new MathEquivalenceReward(format, bonus);
      default -> throw new IllegalArgumentException("unknown reward.kind " + kind);
    };
    return correct ? (response, refs) -> reward.evaluate(response, refs).match() >= 1.0 ? 1.0 : 0.0 : reward;
  }

  public TrainerConfig config() {
    return config;
  }

  public PolicyModel model() {
    return model;
  }

  /**
   * The registered tools as the rollout calls them: asynchronous, each call bounded by its tool's
   * timeout; the rollout stops at the closing tag of each registered tool.
   */
  public ToolCaller toolCaller() {
    return ToolCaller.of(registry.format(),
        (tag, input, context) -> executor.submit(new ToolCall(tag, input), context).thenApply(ToolResult::output));
  }

  /** Supervised cold start on {@code data}: prompt/response traces or chat messages ({@link SftData}). */
  public SftTrainer.Result sft(Path data) throws IOException {
    Prompts prompts = Prompts.of(config.data(), model.tokenizer(), registry.format());
    List<TrainingRow> rows = SftData.load(data, model.tokenizer(), model.eosTokenIds()[0], prompts::text);
    return SftTrainer.train(model, rows, config, config.runDir().resolve("sft_metrics.jsonl"));
  }

  /** RL until {@code config.steps()} (continuing a resumed run). */
  public RlTrainer train(List<Question> questions) throws IOException {
    RlTrainer rl = new RlTrainer(config, model, toolCaller(), reward, questions, resumeFrom);
    rl.run();
    return rl;
  }

  /** Scored rollout trees of {@code questions} under the configured rollout (ARPO, or N = M sampling). */
  public List<RolloutGroup> rollout(List<Question> questions) {
    return Rollouts.run(model, toolCaller(), config.rolloutConfig(), reward, questions, config.data(),
        config.promptsPerStep());
  }

  public Evaluator.Result evaluate(List<Question> questions) {
    return Evaluator.evaluate(model, toolCaller(), correctness, questions, config);
  }

  @Override
  public void close() {
    executor.close();
    registry.close();
    model.close();
  }
}
