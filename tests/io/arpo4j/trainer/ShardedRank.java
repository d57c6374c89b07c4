package io.arpo4j.trainer;

import io.arpo4j.distributed.Distributed;
import io.arpo4j.distributed.ParameterShards;
import io.arpo4j.distributed.Sharding;
import io.arpo4j.distributed.World;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.model.StorageType;
import io.arpo4j.model.TransformerModel;
import io.arpo4j.rollout.RolloutGroup;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One rank of the sharded-optimizer check ({@code ShardedDataParallelTest}): for each sharding
 * stage, SFT steps, an RL update, a checkpoint (rank-sharded optimizer state), a resume from that
 * checkpoint (weights and optimizer state read back) and a second RL update. Rank 0 writes the
 * weights after SFT and after the last update; every rank writes its AdamW moment bytes and archive
 * bytes (and under full sharding its parameter bytes). Run as a JVM per rank ({@code main}) or
 * in-process as the one-process reference.
 */
public final class ShardedRank {
  static final int SFT_ROWS = 6, SFT_BATCH = 3;

  private ShardedRank() {}

  /** args: output directory, then the stages to run (optimizer, gradients, none). */
  public static void main(String[] args) throws Exception {
    try (Distributed dist =
        Distributed.start(
            World.fromEnvironment(),
            "cpu",
            new Distributed.Options(
                "gloo", Duration.ofSeconds(60), 64 << 10))) { // small buckets: several per step
      for (int i = 1; i < args.length; i++) {
        run(dist, Sharding.parse(args[i]), Path.of(args[0]).resolve(args[i]));
      }
    }
    System.exit(0);
  }

  static TrainerConfig config(Sharding sharding, Path runs) throws Exception {
    return TrainerConfig.load(
        null,
        List.of(
            "algo=reinforce++",
            "ppo_mini_batch_prompts=3",
            "ppo_epochs=1",
            "loss.kl_coef=0.05",
            "loss.entropy_coef=0.01",
            "optimizer.lr=1.0e-4",
            // Adam moves a parameter by lr * g / (|g| + eps): at the default eps 1e-8 a parameter
            // whose gradient is near 1e-8 (a rare token's embedding row) moves by an amount that
            // the last bits of g, summed in another order over 2 ranks, shift by 1e-5 and more;
            // 1e-6 keeps the comparison about the sharding rather than about Adam's conditioning
            "optimizer.eps=1.0e-6",
            "optimizer.grad_clip=1.0",
            "micro_batch_tokens=96",
            "sft.lr=2.0e-4",
            "sft.epochs=1",
            "sft.batch_size=" + SFT_BATCH,
            "advantage.attribution=soft",
            "runs_dir=" + runs,
            "run_name=run",
            "gradient_checkpointing=" + (sharding == Sharding.FULL),
            "distributed.sharding=" + sharding.name().toLowerCase(java.util.Locale.ROOT)));
  }

  /** Writes {@code out}/sft, {@code out}/rl, the checkpoint and per rank the state sizes. */
  public static void run(Distributed dist, Sharding sharding, Path out) throws Exception {
    Files.createDirectories(out);
    TrainerConfig config = config(sharding, out.resolve("runs"));
    Checkpoints checkpoints = new Checkpoints(config.runDir());
    Path checkpoint;
    try (PolicyModel policy = PolicyModel.loadDefault();
        PolicyModel reference = PolicyModel.loadDefault()) {
      prepare(policy, reference, config, dist);
      SftTrainer.train(policy, sftRows(), config, out.resolve("sft_metrics.jsonl"), dist, false);
      dist.barrier();
      if (dist.isMaster()) policy.save(out.resolve("sft"), StorageType.F32);
      try (PolicyOptimizer optimizer =
          new PolicyOptimizer(policy.model(), config.optimizerConfig(), dist, sharding)) {
        update(policy, reference, optimizer, config, dist, 0);
        checkpoint =
            checkpoints.save(
                new Checkpoints.State(
                    1,
                    0,
                    config.algo(),
                    config.seed(),
                    optimizer.steps(),
                    dist.size(),
                    sharding.name().toLowerCase(java.util.Locale.ROOT)),
                policy,
                optimizer,
                config.toYaml(),
                dist);
        long[] archive = {0};
        try (OutputStream counter =
            new OutputStream() {
              @Override
              public void write(int b) {
                archive[0]++;
              }

              @Override
              public void write(byte[] b, int off, int len) {
                archive[0] += len;
              }
            }) {
          optimizer.save(counter);
        }
        Files.writeString(
            out.resolve("state-rank" + dist.rank() + ".txt"),
            optimizer.momentBytes() + " " + archive[0] + " " + optimizer.parameterBytes() + "\n");
      }
    }
    // resume: weights from the checkpoint's HF directory, this rank's optimizer shard
    Checkpoints.State state = Checkpoints.readState(checkpoint);
    try (PolicyModel policy =
            PolicyModel.load(checkpoint.resolve(Checkpoints.MODEL_DIR), RuntimeOptions.cpu());
        PolicyModel reference = prepare(policy, PolicyModel.loadDefault(), config, dist);
        PolicyOptimizer optimizer =
            new PolicyOptimizer(policy.model(), config.optimizerConfig(), dist, sharding)) {
      optimizer.load(
          checkpoint.resolve(Checkpoints.optimizerFile(sharding, dist.rank())),
          state.optimizerSteps());
      update(policy, reference, optimizer, config, dist, 1);
      dist.barrier();
      try (TransformerModel.Held whole = optimizer.gatheredWeights()) { // full: every rank
        if (dist.isMaster()) policy.save(out.resolve("rl"), StorageType.F32);
      }
    }
    dist.barrier();
  }

  /**
   * Under full sharding: gradient checkpointing on the policy, and the KL reference sharded as
   * RlTrainer shards it.
   */
  private static PolicyModel prepare(
      PolicyModel policy, PolicyModel reference, TrainerConfig config, Distributed dist) {
    policy.model().setGradientCheckpointing(config.gradientCheckpointing());
    if (config.sharding() == Sharding.FULL) ParameterShards.attach(reference.model(), dist);
    return reference;
  }

  private static void update(
      PolicyModel policy,
      PolicyModel reference,
      PolicyOptimizer optimizer,
      TrainerConfig config,
      Distributed dist,
      int step) {
    TokenBackprop backprop = new TokenBackprop(policy.model(), 1f, config.logitChunkTokens());
    RlUpdate update =
        new RlUpdate(
            backprop,
            new TokenBackprop(reference.model(), 1f, config.logitChunkTokens()),
            optimizer,
            config,
            dist);
    List<RolloutGroup> all = DataParallelRlRank.groups(new SplittableRandom(2000 + step));
    int[] share = dist.world().shard(all.size());
    update.update(all.subList(share[0], share[1]));
  }

  /** Random token rows with some masked spans (tool results). */
  static List<TrainingRow> sftRows() {
    SplittableRandom rng = new SplittableRandom(31);
    List<TrainingRow> rows = new ArrayList<>();
    for (int r = 0; r < SFT_ROWS; r++) {
      int n = 10 + rng.nextInt(20), start = 3 + rng.nextInt(4);
      int[] tokens = new int[n];
      for (int i = 0; i < n; i++) tokens[i] = rng.nextInt(256);
      float[] mask = new float[n - start];
      for (int i = 0; i < mask.length; i++) mask[i] = rng.nextInt(5) == 0 ? 0 : 1;
      rows.add(TrainingRow.supervised(tokens, start, mask));
    }
    return rows;
  }
}
