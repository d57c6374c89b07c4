package io.arpo4j.trainer;

import io.arpo4j.distributed.Distributed;
import io.arpo4j.kernels.NativeLibraries;
import io.arpo4j.model.LoraAdapter;
import io.arpo4j.model.LoraConfig;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.reward.Reward;
import io.arpo4j.reward.RewardKind;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.ToolCaller;
import io.arpo4j.tools.Tool;
import io.arpo4j.tools.ToolContext;
import io.arpo4j.tools.ToolExecutor;
import io.arpo4j.tools.ToolRegistry;
import io.arpo4j.tools.TrajectoryFormat;
import io.arpo4j.tools.python.PythonTool;
import io.arpo4j.tools.search.SearchIndex;
import io.arpo4j.tools.search.SearchTool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * arpo4j as a library: a policy, its tools and reward, built from a {@link TrainerConfig}, with
 * SFT, RL training and evaluation. Register your own tools and rewards on the builder:
 *
 * <pre>{@code
 * TrainerConfig config = TrainerConfig.load(Path.of("run.yaml"), List.of("algo=arpo"));
 * try (Trainer trainer = Trainer.builder(config).tool(new MyCalendarTool())
 *     .listener(metrics -> log.info("step {}", metrics.get("step"))).progress(false).build()) {
 *   trainer.train(Question.load(Path.of("train.jsonl")));
 *   System.out.println(trainer.evaluate(Question.load(Path.of("test.jsonl"))).passAt1());
 * }
 * }</pre>
 *
 * <h2>Contract</h2>
 *
 * <ul>
 *   <li><b>Ownership.</b> What the trainer loads (the configured model, a checkpoint, the python
 *       and search tools) it owns and {@link #close() closes}. What you pass in ({@link
 *       Builder#model}, {@link Builder#tool}, rewards) stays yours: {@code close()} leaves it open,
 *       and you close it after the trainer. If {@link Builder#build()} fails, it closes whatever it
 *       had loaded itself.
 *   <li><b>Concurrency.</b> One trainer serves one thread: {@code sft}, {@code train}, {@code
 *       rollout} and {@code evaluate} must not overlap, and training changes {@link #model()}'s
 *       weights in place. Tool calls run on a pool of threads, so a {@link Tool#execute} may be
 *       called concurrently (from several rollouts at once); rewards are called from the calling
 *       thread. Two trainers may not share a run directory.
 *   <li><b>Resuming.</b> With {@link Builder#resume(boolean) resume(true)} (the default) and a
 *       checkpoint under {@code <runs_dir>/<run_name>/checkpoints/latest}, the policy, optimizer
 *       state, step, data position and KL reference are restored from it and {@link #train}
 *       continues to {@code steps}; passing a model as well is then an error (choose one: {@code
 *       resume(false)} to start from your model). Unfinished checkpoint directories left by a crash
 *       are deleted when the trainer is built.
 *   <li><b>Processes.</b> The python tool (sandboxed worker processes) is used only when {@code
 *       tools.python} is true, which the library's defaults leave off (the CLI turns it on); its
 *       workers start at the first python call, so {@link #sft} starts none.
 *   <li><b>Output.</b> Metrics go to {@code <run>/metrics.jsonl} and to your {@link
 *       Builder#listener listener}; a progress line is drawn on stderr unless {@link
 *       Builder#progress(boolean) progress(false)}.
 * </ul>
 */
public final class Trainer implements AutoCloseable {
  static {
    NativeLibraries.load(); // the bundled libtorch, before anything here touches a tensor
  }

  private static final System.Logger LOG = System.getLogger(Trainer.class.getName());

  private final TrainerConfig config;
  private final PolicyModel model;
  private final ToolRegistry registry;
  private final ToolExecutor executor;
  private final Reward reward;
  private final Reward correctness;
  private final Path resumeFrom;
  private final boolean ownsModel;

  /**
   * Whether {@link #sft} has trained the model in this trainer (its weights are then not random).
   */
  private boolean sftDone;

  private final List<Tool> ownedTools;
  private final Consumer<Map<String, Object>> listener;
  private final boolean progress;
  private final Distributed distributed;
  private final Prompts prompts;

  private Trainer(
      Builder b,
      PolicyModel model,
      boolean ownsModel,
      ToolRegistry registry,
      List<Tool> ownedTools,
      Reward reward,
      Reward correctness,
      Path resumeFrom) {
    this.config = b.config;
    this.model = model;
    this.ownsModel = ownsModel;
    this.ownedTools = ownedTools;
    this.registry = registry;
    this.executor =
        new ToolExecutor(registry, Math.max(2, config.tools().pythonSandbox().workers() * 2));
    this.reward = reward;
    this.correctness = correctness;
    this.resumeFrom = resumeFrom;
    this.listener = b.listener;
    this.progress = b.progress;
    this.distributed = b.distributed;
    this.prompts = Prompts.of(config.data(), model.tokenizer(), registry.format());
    prompts.fallbackNote().ifPresent(note -> LOG.log(System.Logger.Level.WARNING, note));
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
    private Consumer<Map<String, Object>> listener;
    private boolean progress = true;
    private Distributed distributed = Distributed.single();
    private ModelLoader modelLoader = PolicyModel::load;

    private Builder(TrainerConfig config) {
      this.config = config;
    }

    /**
     * Adds a tool next to the configured ones (python, search). A tool tagged {@code python} or
     * {@code search} takes the configured one's place; two added tools with one tag make {@link
     * #build()} throw. The tool stays yours: the trainer calls it, possibly from several threads at
     * once, but does not close it.
     */
    public Builder tool(Tool tool) {
      tools.add(tool);
      return this;
    }

    /**
     * The reward to train on, instead of the configured {@code reward.kind}. It sees each
     * trajectory with its question's record ({@link io.arpo4j.reward.ScoringInput}: response, tool
     * calls, ground truth, {@code data_source}, {@code extra_info}).
     */
    public Builder reward(Reward reward) {
      this.reward = reward;
      return this;
    }

    /** What counts as a correct answer (score >= 1) for accuracy and pass@k. */
    public Builder correctness(Reward correctness) {
      this.correctness = correctness;
      return this;
    }

    /**
     * A policy to start from instead of {@code config.model()}. It stays yours (the trainer trains
     * its weights in place but does not close it). Combined with {@code resume(true)} and an
     * existing checkpoint of the run, {@link #build()} throws rather than silently ignore it.
     */
    public Builder model(PolicyModel model) {
      this.model = model;
      return this;
    }

    /** Whether to continue from the run directory's latest checkpoint (default true). */
    public Builder resume(boolean resume) {
      this.resume = resume;
      return this;
    }

    /**
     * Called after every RL step with that step's metrics (the line appended to metrics.jsonl:
     * {@code step}, {@code reward_mean}, {@code loss}, ...), on the training thread.
     */
    public Builder listener(Consumer<Map<String, Object>> listener) {
      this.listener = listener;
      return this;
    }

    /** Whether {@link #sft} and {@link #train} draw a progress line on stderr (default true). */
    public Builder progress(boolean progress) {
      this.progress = progress;
      return this;
    }

    /** The data-parallel job this process is a rank of (default: a world of one). */
    public Builder distributed(Distributed distributed) {
      this.distributed = distributed;
      return this;
    }

    /** How {@link #build()} loads the model it owns (a checkpoint's, or {@code config.model()}). */
    @FunctionalInterface
    interface ModelLoader {
      PolicyModel load(String dirOrDefault, RuntimeOptions runtime) throws IOException;
    }

    /** Replaces {@link PolicyModel#load(String, RuntimeOptions)}: tests watch what build() owns. */
    Builder modelLoader(ModelLoader modelLoader) {
      this.modelLoader = modelLoader;
      return this;
    }

    public Trainer build() throws IOException {
      Checkpoints checkpoints = new Checkpoints(config.runDir());
      Optional<Path> checkpoint = resume ? checkpoints.latest() : Optional.empty();
      if (checkpoint.isPresent() && model != null) {
        throw new IllegalStateException(
            "both a model and a checkpoint to resume from ("
                + checkpoint.get()
                + "): call resume(false) to start from your model, or leave out model(...) to resume");
      }
      checkpoints.removeStaleTemporaries();
      RuntimeOptions runtime =
          config.runtimeOptions(Distributed.deviceFor(config.device(), distributed.world()));
      LoraConfig lora = config.loraConfig();
      // a LoRA checkpoint named as the model to start from: its base with its adapter
      Optional<Path> startAdapter =
          checkpoint.isEmpty() && model == null
              ? Checkpoints.adapterOf(config.model())
              : Optional.empty();
      String modelToLoad = config.model();
      if (startAdapter.isPresent()) {
        modelToLoad = LoraAdapter.baseModelOf(startAdapter.get());
        if (modelToLoad == null)
          throw new IllegalArgumentException(
              "model "
                  + config.model()
                  + " is a LoRA checkpoint whose adapter records no base_model_name_or_path:"
                  + " merge it into its base (bin/arpo4j merge) and name the merged model");
        LOG.log(
            System.Logger.Level.INFO,
            "model "
                + config.model()
                + " is a LoRA checkpoint: its base "
                + modelToLoad
                + " with its adapter");
      }
      if ((lora != null || startAdapter.isPresent()) && runtime.mixed()) {
        // the frozen base needs no fp32 masters: it is stored in the compute dtype
        runtime = new RuntimeOptions(runtime.device(), runtime.dtype(), runtime.cpuThreads());
      }
      Path adapterDir =
          checkpoint
              .map(c -> c.resolve(Checkpoints.ADAPTER_DIR))
              .filter(Files::isDirectory)
              .orElse(startAdapter.orElse(null));
      if (checkpoint.isPresent() && (lora != null) != (adapterDir != null)) {
        throw new IllegalArgumentException(
            "checkpoint "
                + checkpoint.get()
                + (lora != null
                    ? " holds a full model, not a LoRA adapter: resume with lora.r: 0"
                    : " holds a LoRA adapter: resume with the run's lora settings")
                + ", or start afresh with --fresh");
      }
      boolean ownsModel = model == null;
      PolicyModel policy =
          checkpoint.isPresent() && lora == null
              ? modelLoader.load(
                  checkpoint.get().resolve(Checkpoints.MODEL_DIR).toString(), runtime)
              : model != null ? model : modelLoader.load(Checkpoints.modelOf(modelToLoad), runtime);
      ToolRegistry registry = new ToolRegistry();
      List<Tool> owned = new ArrayList<>();
      try {
        if ((lora != null || adapterDir != null) && policy.model().adapter() == null) {
          policy
              .model()
              .attach(
                  adapterDir != null
                      ? LoraAdapter.load(adapterDir, policy.model())
                      : LoraAdapter.create(policy.model(), lora, config.seed(), config.model()));
        }
        policy.model().setGradientCheckpointing(config.gradientCheckpointing());
        policy.model().setDecodeWeights(config.decodeWeights());
        List<String> customTags = tools.stream().map(Tool::tag).toList();
        if (config.tools().python() && !customTags.contains("python")) {
          owned.add(
              new LazyTool(
                  "python",
                  PythonTool.DESCRIPTION,
                  () -> new PythonTool(config.pythonSandboxConfig())));
        }
        if (config.tools().searchIndex() != null && !customTags.contains("search")) {
          owned.add(
              new SearchTool(
                  SearchIndex.open(Path.of(config.tools().searchIndex())),
                  config.tools().searchTopK(),
                  SearchTool.DEFAULT_SNIPPET_CHARS,
                  Duration.ofSeconds(10)));
        }
        for (Tool t : owned) registry.register(t);
        for (Tool t : tools) registry.register(t);
        TrajectoryFormat format = registry.format();
        Reward r = reward != null ? reward : configuredReward(config, format, false);
        Reward c = correctness != null ? correctness : configuredReward(config, format, true);
        return new Trainer(this, policy, ownsModel, registry, owned, r, c, checkpoint.orElse(null));
      } catch (IOException | RuntimeException | Error e) {
        closeAll(owned);
        if (ownsModel) policy.close();
        throw e;
      }
    }
  }

  /**
   * A tool made at its first use, so that a trainer that never calls it starts no process. Its tag
   * and description are known before: the prompts list it whether or not it ever runs.
   */
  private static final class LazyTool implements Tool {
    private final String tag;
    private final String description;
    private final Supplier<Tool> factory;
    private Tool tool;
    private boolean closed;

    LazyTool(String tag, String description, Supplier<Tool> factory) {
      this.tag = tag;
      this.description = description;
      this.factory = factory;
    }

    private synchronized Tool tool() {
      if (closed) throw new IllegalStateException("the trainer is closed");
      if (tool == null) tool = factory.get();
      return tool;
    }

    @Override
    public String tag() {
      return tag;
    }

    @Override
    public String description() {
      return description;
    }

    @Override
    public String execute(String input, ToolContext context) throws Exception {
      return tool().execute(input, context);
    }

    @Override
    public Duration timeout() {
      return tool().timeout();
    }

    @Override
    public synchronized void close() {
      closed = true;
      if (tool != null) tool.close();
    }
  }

  private static void closeAll(List<Tool> tools) {
    for (Tool t : tools) {
      try {
        t.close();
      } catch (RuntimeException suppressed) {
        // closing the rest matters more than this one's failure
      }
    }
  }

  /**
   * The configured {@code reward.kind}, whose format check knows exactly the registered tools; as a
   * correctness rule ({@code correct}) it scores 1 when the answer matches fully, else 0.
   */
  static Reward configuredReward(TrainerConfig config, TrajectoryFormat tools, boolean correct) {
    return RewardKind.REGISTRY
        .get(config.reward().kind())
        .create(tools, config.reward().multiToolBonus(), correct);
  }

  /** Printed when RL starts from the embedded model's random weights. */
  static final String RANDOM_WEIGHTS_WARNING =
      "model 'default' is the embedded model with random weights: RL from it scores no"
          + " reward (no tool call, no answer) and learns nothing; start from an SFT model"
          + " (arpo4j sft, then --model runs/<run>/sft-model) or an HF checkpoint";

  public TrainerConfig config() {
    return config;
  }

  /** The checkpoint whose weights the model was loaded from ({@code resume(true)}), if any. */
  public Optional<Path> resumedFrom() {
    return Optional.ofNullable(resumeFrom);
  }

  public PolicyModel model() {
    return model;
  }

  public Distributed distributed() {
    return distributed;
  }

  /**
   * The registered tools as the rollout calls them: asynchronous, each call bounded by its tool's
   * timeout; the rollout stops at the closing tag of each registered tool.
   */
  public ToolCaller toolCaller() {
    return ToolCaller.of(registry, executor);
  }

  /**
   * Supervised cold start on {@code data}: prompt/response traces or chat messages ({@link
   * SftData}).
   */
  public SftTrainer.Result sft(Path data) throws IOException {
    if (distributed.isMaster()) {
      Files.createDirectories(config.runDir());
      Files.writeString(config.runDir().resolve(Checkpoints.CONFIG_FILE), config.toYaml());
    }
    List<TrainingRow> rows = sftRows(data);
    SftTrainer.Result result =
        SftTrainer.train(
            model,
            rows,
            config,
            config.runDir().resolve("sft_metrics.jsonl"),
            distributed,
            progress);
    sftDone = true;
    return result;
  }

  /** {@code data} as SFT examples: prompts rendered as the rollout renders them. */
  List<TrainingRow> sftRows(Path data) throws IOException {
    return SftData.load(
        data,
        model.tokenizer(),
        model.eosTokenIds()[0],
        prompts::text,
        config.microBatchTokens(),
        model.model().config().maxPositionEmbeddings());
  }

  /**
   * RL until {@code config.steps()} (continuing a resumed run), evaluating {@code data.eval} every
   * {@code eval_every} steps when both are set.
   */
  public RlTrainer train(List<Question> questions) throws IOException {
    String heldOut = config.data().eval();
    return train(questions, heldOut == null ? List.of() : Question.load(Path.of(heldOut)));
  }

  /**
   * RL until {@code config.steps()}, evaluating {@code heldOut} every {@code eval_every} steps (its
   * {@code eval_*} metrics join that step's line); {@code eval_every > 0} needs held-out questions.
   */
  public RlTrainer train(List<Question> questions, List<Question> heldOut) throws IOException {
    if (config.evalEvery() > 0 && heldOut.isEmpty()) {
      throw new IllegalArgumentException(
          "eval_every = "
              + config.evalEvery()
              + " but there are no held-out questions: set data.eval (or --eval-data), or eval_every=0");
    }
    int context = model.model().config().maxPositionEmbeddings();
    for (Question q : questions)
      Prompts.requireFits(q, model.tokenizer(), context); // not at step n
    if (resumeFrom == null
        && ownsModel
        && !sftDone
        && distributed.isMaster()
        && PolicyModel.DEFAULT_NAME.equals(config.model())) {
      LOG.log(System.Logger.Level.WARNING, RANDOM_WEIGHTS_WARNING); // a library user's logger
    }
    RlTrainer rl =
        new RlTrainer(
            config, model, toolCaller(), reward, correctness, questions, resumeFrom, distributed);
    rl.onStep(listener).showProgress(progress).evaluateEvery(heldOut, this::evaluate);
    rl.run();
    return rl;
  }

  /**
   * Scored rollout trees of {@code questions} under the configured rollout (ARPO, or N = M
   * sampling).
   */
  public List<RolloutGroup> rollout(List<Question> questions) {
    return Rollouts.run(
        model,
        toolCaller(),
        config.rolloutConfig(),
        reward,
        questions,
        config.data(),
        config.promptsPerStep());
  }

  public Evaluator.Result evaluate(List<Question> questions) {
    return Evaluator.evaluate(model, toolCaller(), correctness, questions, config);
  }

  /** Closes what the trainer loaded itself; a model or tools passed to the builder stay open. */
  @Override
  public void close() {
    executor.close();
    closeAll(ownedTools);
    if (ownsModel) model.close();
  }
}
