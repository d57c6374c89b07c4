package io.arpo4j.trainer;

import io.arpo4j.advantage.GroupAdvantages;
import io.arpo4j.distributed.Distributed;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The RL loop: each step draws {@code prompts_per_step} questions, rolls them out (ARPO's
 * entropy-adaptive tree, or plain sampling for GRPO/DAPO/REINFORCE++), scores them, drops
 * zero-advantage groups under DAPO's dynamic sampling, and updates the policy ({@link RlUpdate}).
 *
 * <p>Everything random in step s derives from (seed, s) and the data order from (seed, epoch),
 * so a run resumed from a checkpoint continues exactly as if it had never stopped. Per step it
 * appends one metrics line to {@code <run>/metrics.jsonl} and the rollout trees to
 * {@code <run>/rollouts.jsonl}.
 *
 * <p>Data parallel ({@link Distributed}): each rank rolls out its contiguous share of the step's
 * prompts (whole groups: a group never spans ranks) with sampling seeded by (seed, step, rank),
 * and {@link RlUpdate} trains on all ranks' groups as one batch. Dynamic sampling tops up to the
 * global count. Metrics are global; rank 0 writes them, the config and the checkpoints (after a
 * barrier); rank r > 0 records its rollouts in {@code rollouts-rank<r>.jsonl}.
 */
public final class RlTrainer {
  private final TrainerConfig config;
  private final PolicyModel model;
  private final ToolCaller tools;
  private final Reward reward;
  private final List<Question> train;
  private final Path runDir;
  private final TokenBackprop backprop;
  private final PolicyOptimizer optimizer;
  private final RlUpdate update;
  private final Checkpoints checkpoints;
  private final PolicyModel reference;
  private final Distributed dist;
  private int step;
  private long consumed;

  /**
   * @param model the policy, trained in place
   * @param resumeFrom a checkpoint whose weights {@code model} already holds, or null for a fresh run
   */
  public RlTrainer(TrainerConfig config, PolicyModel model, ToolCaller tools, Reward reward, List<Question> train,
      Path resumeFrom) throws IOException {
    this(config, model, tools, reward, train, resumeFrom, Distributed.single());
  }

  /** @param dist the data-parallel job this process is a rank of */
  public RlTrainer(TrainerConfig config, PolicyModel model, ToolCaller tools, Reward reward, List<Question> train,
      Path resumeFrom, Distributed dist) throws IOException {
    if (train.isEmpty()) throw new IllegalArgumentException("no training questions");
    this.dist = dist;
    dist.broadcastParameters(model.model().parameters().values());
    this.config = config;
    this.model = model;
    this.tools = tools;
    this.reward = reward;
    this.train = List.copyOf(train);
    this.runDir = config.runDir();
    this.checkpoints = new Checkpoints(runDir);
    float temperature = (float) Math.max(config.rollout().temperature(), 1e-6);
    this.backprop = new TokenBackprop(model.model(), temperature, config.logitChunkTokens());
    this.optimizer = new PolicyOptimizer(model.model(), config.optimizerConfig());
    // the KL reference is the starting policy, frozen
    this.reference = config.loss().klCoef() > 0 ? frozenCopy(model) : null;
    this.update = new RlUpdate(backprop,
        reference == null ? null : new TokenBackprop(reference.model(), temperature, config.logitChunkTokens()),
        optimizer, config, dist, model.model().parameters().values());
    if (resumeFrom != null) {
      Checkpoints.State state = Checkpoints.readState(resumeFrom);
      if (!state.algo().equals(config.algo())) {
        throw new IllegalArgumentException("checkpoint " + resumeFrom + " is from a " + state.algo() + " run, not " + config.algo());
      }
      optimizer.load(resumeFrom.resolve(Checkpoints.OPTIMIZER_FILE), state.step());
      step = state.step();
      consumed = state.examplesConsumed();
    }
  }

  private static PolicyModel frozenCopy(PolicyModel model) throws IOException {
    Path tmp = Files.createTempDirectory("arpo4j-ref");
    try {
      model.save(tmp, io.arpo4j.model.StorageType.F32);
      return PolicyModel.load(tmp, model.model().runtime());
    } finally {
      Checkpoints.deleteTree(tmp);
    }
  }

  public int completedSteps() {
    return step;
  }

  /** Runs until {@code config.steps()} steps are done, checkpointing as configured. */
  public void run() throws IOException {
    Files.createDirectories(runDir);
    if (dist.isMaster()) Files.writeString(runDir.resolve("config.yaml"), config.toYaml());
    Path rollouts = runDir.resolve(dist.isMaster() ? "rollouts.jsonl" : "rollouts-rank" + dist.rank() + ".jsonl");
    if (step == 0) Files.deleteIfExists(rollouts); // a fresh run starts a fresh record
    try (MetricsLog metrics = dist.isMaster() ? MetricsLog.resume(runDir.resolve("metrics.jsonl"), step) : null;
        RolloutRecorder recorder = new RolloutRecorder(rollouts);
        Progress progress = Progress.start(config.algo() + " " + config.runName(), config.steps())) {
      progress.advance(step, Map.of());
      while (step < config.steps()) {
        Map<String, Object> m = step(recorder);
        if (metrics != null) metrics.append(m);
        progress.step(Map.of("reward", m.get(MetricsLog.REWARD_MEAN), "acc", m.get(MetricsLog.ACCURACY),
            "tools", m.get(MetricsLog.TOOL_CALLS_MEAN)));
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
    int globalKept = 0;
    while (globalKept < config.promptsPerStep()) {
      long t0 = System.nanoTime();
      // every rank draws the same questions and rolls out its share of them
      List<Question> questions = nextQuestions(config.promptsPerStep() - globalKept);
      int[] share = dist.world().shard(questions.size());
      List<RolloutGroup> groups = rollout(questions.subList(share[0], share[1]), rounds);
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
      globalKept = (int) dist.allReduceSum(kept.size())[0];
      if (!config.dapo().dynamicSampling() || rounds > config.dapo().maxResampleRounds()) break;
    }
    recorder.writeAll(all);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put(MetricsLog.STEP, step + 1);
    m.put(MetricsLog.ALGO, config.algo());
    m.putAll(globalRolloutMetrics(StepMetrics.of(all, rolloutSeconds), all));
    m.putAll(update.update(kept));
    double[] groupCounts = dist.allReduceSum(kept.size(), dropped);
    m.put("groups_trained", (int) groupCounts[0]);
    m.put("groups_dropped", (int) groupCounts[1]);
    m.put(MetricsLog.STEP_TIME_S, (System.nanoTime() - start) / 1e9);
    step++;
    return m;
  }

  /**
   * The rollout metrics of all ranks: means over trajectories weighted by each rank's count,
   * branch counts and generation throughput summed (the ranks decode at the same time).
   */
  private Map<String, Object> globalRolloutMetrics(Map<String, Object> local, List<RolloutGroup> groups) {
    if (!dist.isDistributed()) return local;
    List<String> keys = new ArrayList<>();
    for (Map.Entry<String, Object> e : local.entrySet()) if (e.getValue() instanceof Number) keys.add(e.getKey());
    double trajectories = groups.stream().mapToInt(g -> g.trajectories().size()).sum();
    double[] values = new double[keys.size() + 1];
    for (int i = 0; i < keys.size(); i++) {
      double v = ((Number) local.get(keys.get(i))).doubleValue();
      values[i] = summed(keys.get(i)) ? v : (Double.isNaN(v) ? 0 : v * trajectories);
    }
    values[keys.size()] = trajectories;
    double[] sums = dist.allReduceSum(values);
    Map<String, Object> out = new LinkedHashMap<>(local);
    for (int i = 0; i < keys.size(); i++) {
      out.put(keys.get(i), summed(keys.get(i)) ? sums[i] : sums[i] / Math.max(sums[keys.size()], 1));
    }
    return out;
  }

  private static boolean summed(String metric) {
    return metric.equals(MetricsLog.BRANCHES) || metric.equals(MetricsLog.TOKENS_PER_S);
  }

  private List<RolloutGroup> rollout(List<Question> questions, int round) {
    long seed = mix(config.seed(), step * 64L + round);
    // each rank samples its own stream, derived from (seed, step, rank)
    if (dist.isDistributed()) seed = mix(seed, dist.rank());
    RolloutConfig rc = config.rolloutConfig().toBuilder().seed(seed).build();
    return Rollouts.run(model, tools, rc, reward, questions, config.data().promptTemplate(), questions.size());
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
    dist.barrier(); // every rank finished the step: rank 0's weights are everyone's
    Path saved = dist.isMaster() ? checkpoints.save(new Checkpoints.State(step, consumed, config.algo(), config.seed()),
        model, optimizer, config.toYaml()) : null;
    dist.barrier(); // nobody runs ahead of a checkpoint that may still be written
    return saved != null ? saved : checkpoints.latest().orElseThrow();
  }
}
