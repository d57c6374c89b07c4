package io.arpo4j.trainer;

import io.arpo4j.advantage.GroupAdvantages;
import io.arpo4j.distributed.Distributed;
import io.arpo4j.distributed.ParameterShards;
import io.arpo4j.distributed.Sharding;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.TransformerModel;
import io.arpo4j.reward.Reward;
import io.arpo4j.rollout.RolloutConfig;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.RolloutRecorder;
import io.arpo4j.rollout.ToolCaller;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * The RL loop: each step draws {@code prompts_per_step} questions, rolls them out (ARPO's
 * entropy-adaptive tree, or plain sampling for GRPO/DAPO/REINFORCE++), scores them, drops
 * zero-advantage groups under DAPO's dynamic sampling, and updates the policy ({@link RlUpdate}).
 *
 * <p>Everything random in step s derives from (seed, s) and the data order from (seed, epoch), so a
 * run resumed from a checkpoint continues exactly as if it had never stopped. Per step it appends
 * one metrics line to {@code <run>/metrics.jsonl} and the rollout trees to {@code
 * <run>/rollouts.jsonl}.
 *
 * <p>Data parallel ({@link Distributed}): each rank rolls out its contiguous share of the step's
 * prompts (whole groups: a group never spans ranks) with sampling seeded by (seed, step, rank), and
 * {@link RlUpdate} trains on all ranks' groups as one batch. Dynamic sampling tops up to the global
 * count. Metrics are global; rank 0 writes them, the config and the checkpoints (after a barrier);
 * rank r > 0 records its rollouts in {@code rollouts-rank<r>.jsonl}.
 */
public final class RlTrainer {
  private final TrainerConfig config;
  private final PolicyModel model;
  private final ToolCaller tools;
  private final Reward reward;
  private final Reward correctness;
  private final List<Question> train;
  private final Path runDir;
  private final TokenBackprop backprop;
  private final PolicyOptimizer optimizer;
  private final RlUpdate update;
  private final Checkpoints checkpoints;
  private final TransformerModel reference;
  private final Distributed dist;
  private int step;
  private long consumed;
  private final Path resumeFrom;
  private Consumer<Map<String, Object>> listener;
  private boolean showProgress = true;
  private Progress progress = Progress.silent(0);
  private List<Question> heldOut = List.of();
  private java.util.function.Function<List<Question>, Evaluator.Result> evaluator;

  /** The run's subdirectory holding the frozen starting policy (the KL reference). */
  public static final String REFERENCE_DIR = "reference-model";

  /**
   * @param model the policy, trained in place
   * @param reward the training reward
   * @param correctness the evaluator's rule for the logged accuracy (a response is correct when it
   *     scores >= 1)
   * @param resumeFrom a checkpoint whose weights {@code model} already holds, or null for a fresh
   *     run
   */
  public RlTrainer(
      TrainerConfig config,
      PolicyModel model,
      ToolCaller tools,
      Reward reward,
      Reward correctness,
      List<Question> train,
      Path resumeFrom)
      throws IOException {
    this(config, model, tools, reward, correctness, train, resumeFrom, Distributed.single());
  }

  /**
   * @param dist the data-parallel job this process is a rank of
   */
  public RlTrainer(
      TrainerConfig config,
      PolicyModel model,
      ToolCaller tools,
      Reward reward,
      Reward correctness,
      List<Question> train,
      Path resumeFrom,
      Distributed dist)
      throws IOException {
    if (train.isEmpty()) throw new IllegalArgumentException("no training questions");
    this.dist = dist;
    dist.broadcastParameters(model.model().trainableParameters().values());
    model.model().refreshComputeCopies(); // rank 0's weights, in the copies decode reads too
    this.config = config;
    this.model = model;
    this.tools = tools;
    this.reward = reward;
    this.correctness = correctness;
    this.train = List.copyOf(train);
    this.runDir = config.runDir();
    this.checkpoints = new Checkpoints(runDir);
    this.resumeFrom = resumeFrom;
    if (!(config.rollout().temperature() > 0)) {
      throw new IllegalArgumentException(
          "rollout.temperature must be > 0 for training (the policy's log-probs are"
              + " taken at the sampling temperature), got "
              + config.rollout().temperature());
    }
    float temperature = (float) config.rollout().temperature();
    this.backprop = new TokenBackprop(model.model(), temperature, config.logitChunkTokens());
    // the KL reference is the starting policy, frozen; kept in the run so a resumed run finds it.
    // Under LoRA it is the base with the adapter off: the same weights, no copy. Not built when
    // kl_coef = 0. Under full sharding it is sharded like the policy: no second full copy per rank
    this.reference =
        !(config.loss().klCoef() > 0)
            ? null
            : model.model().adapter() != null
                ? model.model().withoutAdapter()
                : reference(model, runDir.resolve(REFERENCE_DIR), resumeFrom, dist).model();
    if (reference != null && config.sharding() == Sharding.FULL) {
      ParameterShards.attach(reference, dist); // lives as long as the reference
    }
    this.optimizer =
        new PolicyOptimizer(model.model(), config.optimizerConfig(), dist, config.sharding());
    this.update =
        new RlUpdate(
            backprop,
            reference == null
                ? null
                : new TokenBackprop(reference, temperature, config.logitChunkTokens()),
            optimizer,
            config,
            dist);
    if (resumeFrom != null) {
      Checkpoints.State state = Checkpoints.readState(resumeFrom);
      if (!state.algo().equals(config.algo())) {
        throw new IllegalArgumentException(
            "checkpoint "
                + resumeFrom
                + " is from a "
                + state.algo()
                + " run, not "
                + config.algo());
      }
      if (state.worldSize() > 0 && state.worldSize() != dist.size()) {
        throw new IllegalArgumentException(
            "checkpoint "
                + resumeFrom
                + " was written by "
                + state.worldSize()
                + " data-parallel ranks, this run has "
                + dist.size()
                + ": resume it with WORLD_SIZE="
                + state.worldSize()
                + " (each rank's prompts depend on it), or start afresh with --fresh");
      }
      if (state.shardingOrNone() != optimizer.sharding()) {
        throw new IllegalArgumentException(
            "checkpoint "
                + resumeFrom
                + " was written with distributed.sharding = "
                + state.shardingOrNone().name().toLowerCase(java.util.Locale.ROOT)
                + ", this run has "
                + optimizer.sharding().name().toLowerCase(java.util.Locale.ROOT)
                + ": resume it with the same setting (the optimizer state is split by it)");
      }
      // warm-up counts optimizer steps (several per RL step); checkpoints before they were saved
      // hold 0
      optimizer.load(
          resumeFrom.resolve(Checkpoints.optimizerFile(optimizer.sharding(), dist.rank())),
          state.optimizerSteps() > 0 ? state.optimizerSteps() : state.step());
      step = state.step();
      consumed = state.examplesConsumed();
    }
  }

  /**
   * The frozen starting policy: written to {@code dir} by a fresh run, read back from there by a
   * resumed one (whose {@code model} holds the checkpoint's weights, not the starting ones). In a
   * data-parallel job rank 0 writes it and every rank reads it.
   */
  private static PolicyModel reference(
      PolicyModel model, Path dir, Path resumeFrom, Distributed dist) throws IOException {
    if (resumeFrom != null) {
      if (!Files.isDirectory(dir)) {
        throw new IllegalArgumentException(
            "loss.kl_coef > 0 but the run has no saved starting policy ("
                + dir
                + "): it was started with kl_coef = 0 or by an older version; resume with kl_coef = 0 or start afresh");
      }
      return PolicyModel.load(dir, model.model().runtime());
    }
    if (dist.isMaster()) {
      Checkpoints.deleteTree(dir);
      Files.createDirectories(dir.getParent());
      Path tmp = Files.createTempDirectory(dir.getParent(), ".tmp-reference-");
      try {
        model.save(tmp, io.arpo4j.model.StorageType.F32);
        Files.move(tmp, dir, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException | RuntimeException e) {
        Checkpoints.deleteTree(tmp);
        throw e;
      }
    }
    dist.barrier(); // written before any rank reads it
    return PolicyModel.load(dir, model.model().runtime());
  }

  /** Called with each step's metrics (the line appended to metrics.jsonl); null for none. */
  public RlTrainer onStep(Consumer<Map<String, Object>> listener) {
    this.listener = listener;
    return this;
  }

  /** Whether {@link #run} draws a progress line on stderr (default true). */
  public RlTrainer showProgress(boolean show) {
    this.showProgress = show;
    return this;
  }

  /**
   * Evaluates {@code heldOut} with {@code evaluator} after every {@code eval_every}-th step (rank 0
   * only); the results join that step's metrics as {@code eval_*}.
   */
  public RlTrainer evaluateEvery(
      List<Question> heldOut,
      java.util.function.Function<List<Question>, Evaluator.Result> evaluator) {
    this.heldOut = List.copyOf(heldOut);
    this.evaluator = evaluator;
    return this;
  }

  public int completedSteps() {
    return step;
  }

  /** Runs until {@code config.steps()} steps are done, checkpointing as configured. */
  public void run() throws IOException {
    Files.createDirectories(runDir);
    if (dist.isMaster())
      Files.writeString(runDir.resolve(Checkpoints.CONFIG_FILE), config.toYaml());
    Path rollouts =
        runDir.resolve(
            dist.isMaster() ? "rollouts.jsonl" : "rollouts-rank" + dist.rank() + ".jsonl");
    if (step == 0) Files.deleteIfExists(rollouts); // a fresh run starts a fresh record
    else RolloutRecorder.truncateAfterStep(rollouts, step); // steps after it are redone
    try (MetricsLog metrics =
            dist.isMaster() ? MetricsLog.resume(runDir.resolve("metrics.jsonl"), step) : null;
        RolloutRecorder recorder = new RolloutRecorder(rollouts);
        Progress progress =
            showProgress && dist.isMaster()
                ? Progress.start(config.algo() + " " + config.runName(), config.steps())
                : Progress.silent(config.steps())) {
      this.progress = progress;
      if (step > 0 && showProgress && dist.isMaster()) {
        System.err.println(
            "resumed from step " + step + " of " + config.steps() + " (" + resumeFrom + ")");
      }
      progress.resumeAt(step);
      while (step < config.steps()) {
        Map<String, Object> m = step(recorder);
        if (config.evalEvery() > 0 && step % config.evalEvery() == 0 && !heldOut.isEmpty()) {
          progress.detail("evaluating " + heldOut.size() + " held-out questions");
          try (TransformerModel.Held whole = optimizer.gatheredWeights()) {
            if (dist.isMaster()) m.putAll(evalMetrics(evaluator.apply(heldOut)));
            dist.barrier();
          }
        }
        if (metrics != null) metrics.append(m);
        if (listener != null) listener.accept(Collections.unmodifiableMap(m));
        progress.step(
            Map.of(
                "reward",
                m.get(MetricsLog.REWARD_MEAN),
                "acc",
                m.get(MetricsLog.ACCURACY),
                "tools/prompt",
                m.get(MetricsLog.TOOL_CALLS_PER_PROMPT)));
        boolean last = step == config.steps();
        if (last || (config.saveEvery() > 0 && step % config.saveEvery() == 0)) save();
      }
    }
    optimizer.releaseModel(); // full sharding: the policy is whole again for whoever uses it next
  }

  /** An evaluation's numbers as metrics: {@code eval_pass_at_1}, {@code eval_pass_at_<k>}, ... */
  static Map<String, Object> evalMetrics(Evaluator.Result r) {
    Map<String, Object> m = new LinkedHashMap<>();
    r.passAtK().forEach((k, v) -> m.put(MetricsLog.EVAL_PREFIX + "pass_at_" + k, v));
    m.put(MetricsLog.EVAL_PREFIX + "tool_calls_per_answer", r.toolCallsPerAnswer());
    m.put(MetricsLog.EVAL_PREFIX + "response_tokens", r.responseTokens());
    return m;
  }

  /** One RL step; returns its metrics. */
  Map<String, Object> step(RolloutRecorder recorder) throws IOException {
    long start = System.nanoTime();
    List<RolloutGroup> kept = new ArrayList<>();
    int rounds = 0, dropped = 0;
    double rolloutSeconds = 0;
    List<RolloutGroup> all = new ArrayList<>();
    List<Question> allQuestions = new ArrayList<>();
    int globalKept = 0;
    while (globalKept < config.promptsPerStep()) {
      long t0 = System.nanoTime();
      // every rank draws the same questions and rolls out its share of them
      List<Question> questions = nextQuestions(config.promptsPerStep() - globalKept);
      int[] share = dist.world().shard(questions.size());
      List<Question> mine = questions.subList(share[0], share[1]);
      List<RolloutGroup> groups;
      // full sharding: one inference copy of the whole weights per rollout batch, freed after
      try (TransformerModel.Held whole = optimizer.gatheredWeights()) {
        groups = rollout(mine, rounds);
      }
      rolloutSeconds += (System.nanoTime() - t0) / 1e9;
      all.addAll(groups);
      allQuestions.addAll(mine);
      for (RolloutGroup g : groups) {
        if (config.dapo().dynamicSampling() && GroupAdvantages.isDegenerate(rewards(g))) {
          dropped++;
        } else {
          kept.add(g);
        }
      }
      rounds++;
      globalKept = (int) dist.allReduceSum(kept.size())[0];
      if (!config.dapo().dynamicSampling() || rounds > config.dapo().maxResampleRounds()) break;
    }
    progress.detail("update");
    recorder.writeAll(step + 1, allQuestions.stream().map(Question::id).toList(), all);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put(MetricsLog.STEP, step + 1);
    m.put(MetricsLog.ALGO, config.algo());
    m.putAll(globalRolloutMetrics(StepMetrics.of(all, allQuestions, correctness, rolloutSeconds)));
    m.putAll(update.update(kept));
    double[] groupCounts = dist.allReduceSum(kept.size(), dropped);
    m.put("groups_trained", (int) groupCounts[0]);
    m.put("groups_dropped", (int) groupCounts[1]);
    m.put(MetricsLog.STEP_TIME_S, (System.nanoTime() - start) / 1e9);
    step++;
    return m;
  }

  /**
   * The rollout metrics of all ranks: prompts, branches, generated tokens and throughput summed
   * (the ranks decode at the same time), the rest averaged weighted by each rank's prompts (for the
   * ΔH/P quantiles that is the mean of the ranks' quantiles, an approximation).
   */
  private Map<String, Object> globalRolloutMetrics(Map<String, Object> local) {
    if (!dist.isDistributed()) return local;
    List<String> keys = new ArrayList<>();
    for (Map.Entry<String, Object> e : local.entrySet())
      if (e.getValue() instanceof Number) keys.add(e.getKey());
    double prompts = ((Number) local.get(MetricsLog.PROMPTS)).doubleValue();
    double[] values = new double[keys.size() + 1];
    for (int i = 0; i < keys.size(); i++) {
      double v = ((Number) local.get(keys.get(i))).doubleValue();
      values[i] = summed(keys.get(i)) ? v : (Double.isNaN(v) ? 0 : v * prompts);
    }
    values[keys.size()] = prompts;
    double[] sums = dist.allReduceSum(values);
    Map<String, Object> out = new LinkedHashMap<>(local);
    for (int i = 0; i < keys.size(); i++) {
      out.put(
          keys.get(i), summed(keys.get(i)) ? sums[i] : sums[i] / Math.max(sums[keys.size()], 1));
    }
    return out;
  }

  private static boolean summed(String metric) {
    return metric.equals(MetricsLog.PROMPTS)
        || metric.equals(MetricsLog.BRANCHES)
        || metric.equals(MetricsLog.GENERATED_TOKENS)
        || metric.equals(MetricsLog.GENERATED_TOKENS_PER_S)
        || metric.startsWith(MetricsLog.BRANCH_CHECKS_L);
  }

  private List<RolloutGroup> rollout(List<Question> questions, int round) {
    long seed = mix(config.seed(), step * 64L + round);
    // each rank samples its own stream, derived from (seed, step, rank)
    if (dist.isDistributed()) seed = mix(seed, dist.rank());
    RolloutConfig rc = config.rolloutConfig().toBuilder().seed(seed).build();
    return Rollouts.run(
        model,
        tools,
        rc,
        reward,
        questions,
        config.data(),
        questions.size(),
        p ->
            progress.detail(
                "rollout "
                    + p.finishedTrajectories()
                    + "/"
                    + p.totalTrajectories()
                    + " trajectories, "
                    + p.generatedTokens()
                    + " tokens"));
  }

  /** The next questions in a shuffled order fixed by (seed, epoch). */
  private List<Question> nextQuestions(int count) {
    List<Question> out = new ArrayList<>();
    for (int i = 0; i < count; i++, consumed++) {
      long epoch = consumed / train.size();
      int[] order = permutation(train.size(), mix(config.seed(), epoch));
      out.add(train.get(order[(int) (consumed % train.size())]));
    }
    return out;
  }

  static int[] permutation(int n, long seed) {
    int[] p = new int[n];
    for (int i = 0; i < n; i++) p[i] = i;
    SplittableRandom rng = new SplittableRandom(seed);
    for (int i = n - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int tmp = p[i];
      p[i] = p[j];
      p[j] = tmp;
    }
    return p;
  }

  static long mix(long seed, long salt) {
    return new SplittableRandom(seed ^ (salt * 0x9E3779B97F4A7C15L)).nextLong();
  }

  private static double[] rewards(RolloutGroup g) {
    return g.trajectories().stream().mapToDouble(t -> t.reward()).toArray();
  }

  /** Writes a checkpoint of the current state. */
  public Path save() throws IOException {
    return checkpoints.save(
        new Checkpoints.State(
            step,
            consumed,
            config.algo(),
            config.seed(),
            optimizer.steps(),
            dist.size(),
            optimizer.sharding().name().toLowerCase(java.util.Locale.ROOT)),
        model,
        optimizer,
        config.toYaml(),
        dist);
  }
}
