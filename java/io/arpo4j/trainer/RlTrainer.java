package io.arpo4j.trainer;

import io.arpo4j.advantage.GroupAdvantages;
import io.arpo4j.model.PolicyModel;
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
 * <p>Everything random in step s derives from (seed, s) and the data order from (seed, epoch),
 * so a run resumed from a checkpoint continues exactly as if it had never stopped. Per step it
 * appends one metrics line to {@code <run>/metrics.jsonl} and the rollout trees to
 * {@code <run>/rollouts.jsonl}.
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
  private final PolicyModel reference;
  private int step;
  private long consumed;
  private Consumer<Map<String, Object>> listener;
  private boolean showProgress = true;

  /** The run's subdirectory holding the frozen starting policy (the KL reference). */
  public static final String REFERENCE_DIR = "reference-model";

  /**
   * @param model the policy, trained in place
   * @param reward the training reward
   * @param correctness the evaluator's rule for the logged accuracy (a response is correct when it scores >= 1)
   * @param resumeFrom a checkpoint whose weights {@code model} already holds, or null for a fresh run
   */
  public RlTrainer(TrainerConfig config, PolicyModel model, ToolCaller tools, Reward reward, Reward correctness,
      List<Question> train, Path resumeFrom) throws IOException {
    if (train.isEmpty()) throw new IllegalArgumentException("no training questions");
    this.config = config;
    this.model = model;
    this.tools = tools;
    this.reward = reward;
    this.correctness = correctness;
    this.train = List.copyOf(train);
    this.runDir = config.runDir();
    this.checkpoints = new Checkpoints(runDir);
    if (!(config.rollout().temperature() > 0)) {
      throw new IllegalArgumentException("rollout.temperature must be > 0 for training (the policy's log-probs are"
          + " taken at the sampling temperature), got " + config.rollout().temperature());
    }
    float temperature = (float) config.rollout().temperature();
    this.backprop = new TokenBackprop(model.model(), temperature, config.logitChunkTokens());
    this.optimizer = new PolicyOptimizer(model.model(), config.optimizerConfig());
    // the KL reference is the starting policy, frozen; kept in the run so a resumed run finds it
    this.reference = config.loss().klCoef() > 0 ? reference(model, runDir.resolve(REFERENCE_DIR), resumeFrom) : null;
    this.update = new RlUpdate(backprop,
        reference == null ? null : new TokenBackprop(reference.model(), temperature, config.logitChunkTokens()),
        optimizer, config);
    if (resumeFrom != null) {
      Checkpoints.State state = Checkpoints.readState(resumeFrom);
      if (!state.algo().equals(config.algo())) {
        throw new IllegalArgumentException("checkpoint " + resumeFrom + " is from a " + state.algo() + " run, not " + config.algo());
      }
      // warm-up counts optimizer steps (several per RL step); checkpoints before they were saved hold 0
      optimizer.load(resumeFrom.resolve(Checkpoints.OPTIMIZER_FILE),
          state.optimizerSteps() > 0 ? state.optimizerSteps() : state.step());
      step = state.step();
      consumed = state.examplesConsumed();
    }
  }

  /**
   * The frozen starting policy: written to {@code dir} by a fresh run, read back from there by a
   * resumed one (whose {@code model} holds the checkpoint's weights, not the starting ones).
   */
  private static PolicyModel reference(PolicyModel model, Path dir, Path resumeFrom) throws IOException {
    if (resumeFrom != null) {
      if (!Files.isDirectory(dir)) {
        throw new IllegalArgumentException("loss.kl_coef > 0 but the run has no saved starting policy (" + dir
            + "): it was started with kl_coef = 0 or by an older version; resume with kl_coef = 0 or start afresh");
      }
      return PolicyModel.load(dir, model.model().runtime());
    }
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

  public int completedSteps() {
    return step;
  }

  /** Runs until {@code config.steps()} steps are done, checkpointing as configured. */
  public void run() throws IOException {
    Files.createDirectories(runDir);
    Files.writeString(runDir.resolve("config.yaml"), config.toYaml());
    if (step == 0) Files.deleteIfExists(runDir.resolve("rollouts.jsonl")); // a fresh run starts a fresh record
    else RolloutRecorder.truncateAfterStep(runDir.resolve("rollouts.jsonl"), step); // steps after it are redone
    try (MetricsLog metrics = MetricsLog.resume(runDir.resolve("metrics.jsonl"), step);
        RolloutRecorder recorder = new RolloutRecorder(runDir.resolve("rollouts.jsonl"));
        Progress progress = showProgress ? Progress.start(config.algo() + " " + config.runName(), config.steps())
            : Progress.silent(config.steps())) {
      progress.advance(step, Map.of());
      while (step < config.steps()) {
        Map<String, Object> m = step(recorder);
        metrics.append(m);
        if (listener != null) listener.accept(Collections.unmodifiableMap(m));
        progress.step(Map.of("reward", m.get(MetricsLog.REWARD_MEAN), "acc", m.get(MetricsLog.ACCURACY),
            "tools/prompt", m.get(MetricsLog.TOOL_CALLS_PER_PROMPT)));
        boolean last = step == config.steps();
        if (last || (config.saveEvery() > 0 && step % config.saveEvery() == 0)) save();
      }
    }
  }

  /** One RL step; returns its metrics. */
  Map<String, Object> step(RolloutRecorder recorder) throws IOException {
    long start = System.nanoTime();
    List<RolloutGroup> kept = new ArrayList<>();
    int rounds = 0, dropped = 0;
    double rolloutSeconds = 0;
    List<RolloutGroup> all = new ArrayList<>();
    while (kept.size() < config.promptsPerStep()) {
      long t0 = System.nanoTime();
      List<RolloutGroup> groups = rollout(nextQuestions(config.promptsPerStep() - kept.size()), rounds);
      rolloutSeconds += (System.nanoTime() - t0) / 1e9;
      all.addAll(groups);
      for (RolloutGroup g : groups) {
        if (config.dapo().dynamicSampling() && GroupAdvantages.isDegenerate(rewards(g))) {
          dropped++;
        } else {
          kept.add(g);
        }
      }
      rounds++;
      if (!config.dapo().dynamicSampling() || rounds > config.dapo().maxResampleRounds()) break;
    }
    recorder.writeAll(step + 1, all);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put(MetricsLog.STEP, step + 1);
    m.put(MetricsLog.ALGO, config.algo());
    m.putAll(StepMetrics.of(all, correctness, rolloutSeconds));
    m.putAll(update.update(kept));
    m.put("groups_trained", kept.size());
    m.put("groups_dropped", dropped);
    m.put(MetricsLog.STEP_TIME_S, (System.nanoTime() - start) / 1e9);
    step++;
    return m;
  }

  private List<RolloutGroup> rollout(List<Question> questions, int round) {
    RolloutConfig rc = config.rolloutConfig().toBuilder().seed(mix(config.seed(), step * 64L + round)).build();
    return Rollouts.run(model, tools, rc, reward, questions, config.data(), questions.size());
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
    return checkpoints.save(new Checkpoints.State(step, consumed, config.algo(), config.seed(), optimizer.steps()),
        model, optimizer,
        config.toYaml());
  }
}
