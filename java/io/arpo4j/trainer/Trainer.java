package io.arpo4j.trainer;

import io.arpo4j.distributed.Distributed;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.reward.AnswerReward;
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
  private final Distributed distributed;

  private Trainer(TrainerConfig config, PolicyModel model, ToolRegistry registry, Reward reward, Reward correctness,
      Path resumeFrom, Distributed distributed) {
    this.config = config;
    this.model = model;
    this.registry = registry;
    this.executor = new ToolExecutor(registry, Math.max(2, config.tools().pythonWorkers() * 2));
    this.reward = reward;
    this.correctness = correctness;
    this.resumeFrom = resumeFrom;
    this.distributed = distributed;
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
    private Distributed distributed = Distributed.single();

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

    /** The data-parallel job this process is a rank of (default: a world of one). */
    public Builder distributed(Distributed distributed) {
      this.distributed = distributed;
      return this;
    }

    public Trainer build() throws IOException {
      Optional<Path> checkpoint = resume ? new Checkpoints(config.runDir()).latest() : Optional.empty();
      RuntimeOptions runtime = RuntimeOptions.parse(Distributed.deviceFor(config.device(), distributed.world()));
      PolicyModel policy = checkpoint.isPresent()
          ? PolicyModel.load(checkpoint.get().resolve(Checkpoints.MODEL_DIR), runtime)
          : model != null ? model : PolicyModel.load(config.model(), runtime);
      ToolRegistry registry = new ToolRegistry();
      try {
        if (config.tools().python()) {
          registry.register(new PythonTool(PythonSandboxConfig.defaults().toBuilder()
              .workers(config.tools().pythonWorkers())
              .timeout(Duration.ofSeconds(config.tools().pythonTimeoutS()))
              .build()));
        }
        if (config.tools().searchIndex() != null) {
          registry.register(new SearchTool(SearchIndex.open(Path.of(config.tools().searchIndex())),
              config.tools().searchTopK(), SearchTool.DEFAULT_SNIPPET_CHARS, Duration.ofSeconds(10)));
        }
        for (Tool t : tools) registry.register(t);
      } catch (IOException | RuntimeException e) {
        registry.close();
        throw e;
      }
      AnswerReward configured = answerReward(config);
      Reward r = reward != null ? reward : configured;
      Reward c = correctness != null ? correctness
          : (response, refs) -> configured.evaluate(response, refs).match() >= 1.0 ? 1.0 : 0.0;
      return new Trainer(config, policy, registry, r, c, checkpoint.orElse(null), distributed);
    }
  }

  static AnswerReward answerReward(TrainerConfig config) {
    FormatCheck format = new FormatCheck();
    double bonus = config.reward().multiToolBonus();
    return switch (config.reward().kind()) {
      case "f1" -> new F1Reward(format, bonus);
      case "exact" -> new ExactMatchReward(format, bonus);
      case "math" -> new MathEquivalenceReward(format, bonus);
      default -> throw new IllegalArgumentException("unknown reward.kind " + config.reward().kind());
    };
  }

  public TrainerConfig config() {
    return config;
  }

  public PolicyModel model() {
    return model;
  }

  public Distributed distributed() {
    return distributed;
  }

  /** The tools as the rollout calls them: asynchronous, each call bounded by its tool's timeout. */
  public ToolCaller toolCaller() {
    return (tag, input, context) -> executor.submit(new ToolCall(tag, input), context).thenApply(ToolResult::output);
  }

  /** Supervised cold start on {@code data} (JSONL prompt/response traces). */
  public SftTrainer.Result sft(Path data) throws IOException {
    List<TrainingRow> rows = SftData.load(data, model.tokenizer(), model.eosTokenIds()[0]);
    return SftTrainer.train(model, rows, config, config.runDir().resolve("sft_metrics.jsonl"), distributed);
  }

  /** RL until {@code config.steps()} (continuing a resumed run). */
  public RlTrainer train(List<Question> questions) throws IOException {
    RlTrainer rl = new RlTrainer(config, model, toolCaller(), reward, questions, resumeFrom, distributed);
    rl.run();
    return rl;
  }

  /** Scored rollout trees of {@code questions} under the configured rollout (ARPO, or N = M sampling). */
  public List<RolloutGroup> rollout(List<Question> questions) {
    return Rollouts.run(model, toolCaller(), config.rolloutConfig(), reward, questions, config.data().promptTemplate(),
        config.promptsPerStep());
  }

  public Evaluator.Result evaluate(List<Question> questions) {
    return Evaluator.evaluate(model, toolCaller(), correctness, questions, config.data().promptTemplate(), config);
  }

  @Override
  public void close() {
    executor.close();
    registry.close();
    model.close();
  }
}
