package io.arpo4j.trainer;

import io.arpo4j.distributed.Distributed;
import io.arpo4j.distributed.Sharding;
import io.arpo4j.distributed.World;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.StorageType;
import io.arpo4j.rollout.Prompt;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.StopReason;
import io.arpo4j.rollout.Trajectory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One rank of the data-parallel RL update check: fixed, seeded rollout groups (a deterministic
 * stand-in for rollouts, which sample per rank) trained with {@link RlUpdate} for a few steps. Each
 * rank takes its contiguous share of whole groups. Run as a separate JVM per rank ({@code main}),
 * or in-process as the single-process reference ({@link #train}).
 */
public final class DataParallelRlRank {
  static final int GROUPS = 5, STEPS = 1;

  private DataParallelRlRank() {}

  /** args: the directory rank 0 saves the trained model to. World from the environment. */
  public static void main(String[] args) throws Exception {
    World world = World.fromEnvironment();
    try (Distributed dist =
        Distributed.start(
            world,
            "cpu",
            new Distributed.Options(
                "gloo", Duration.ofSeconds(60), 64 << 10))) { // small buckets: several per step
      train(dist, Path.of(args[0]));
    }
    System.exit(0);
  }

  /**
   * REINFORCE++ advantages (batch std: needs every rank's rewards), a KL term to a local reference,
   * mini-batches of 3 groups (the first split across ranks, the second on rank 1 only), two PPO
   * epochs.
   */
  public static void train(Distributed dist, Path out) throws Exception {
    TrainerConfig config =
        TrainerConfig.load(
            null,
            List.of(
                "algo=reinforce++",
                "ppo_mini_batch_prompts=3",
                "ppo_epochs=2",
                "loss.kl_coef=0.05",
                "loss.entropy_coef=0.01",
                "optimizer.lr=2.0e-4",
                "micro_batch_tokens=96",
                "advantage.attribution=soft"));
    try (PolicyModel policy = PolicyModel.loadDefault();
        PolicyModel reference = PolicyModel.loadDefault();
        PolicyOptimizer optimizer =
            new PolicyOptimizer(policy.model(), config.optimizerConfig(), dist, Sharding.NONE)) {
      TokenBackprop backprop = new TokenBackprop(policy.model(), 1f, config.logitChunkTokens());
      RlUpdate update =
          new RlUpdate(
              backprop,
              new TokenBackprop(reference.model(), 1f, config.logitChunkTokens()),
              optimizer,
              config,
              dist);
      for (int step = 0; step < STEPS; step++) {
        List<RolloutGroup> all = groups(new SplittableRandom(1000 + step));
        int[] share = dist.world().shard(all.size());
        update.update(all.subList(share[0], share[1]));
      }
      dist.barrier();
      if (dist.isMaster()) policy.save(out, StorageType.F32);
    }
  }

  /**
   * Groups of 3 trajectories: two independent samples and a branch forked from the first, with
   * rewards.
   */
  static List<RolloutGroup> groups(SplittableRandom rng) {
    List<RolloutGroup> groups = new ArrayList<>();
    for (int p = 0; p < GROUPS; p++) {
      int[] prompt = tokens(rng, 3 + rng.nextInt(5));
      List<Trajectory> ts = new ArrayList<>();
      int[] first = tokens(rng, 6 + rng.nextInt(10));
      ts.add(trajectory(p, 0, -1, -1, first, rng));
      ts.add(trajectory(p, 1, -1, -1, tokens(rng, 4 + rng.nextInt(12)), rng));
      int fork = 2 + rng.nextInt(first.length - 2);
      int[] branch = java.util.Arrays.copyOf(first, fork + 3 + rng.nextInt(6));
      for (int i = fork; i < branch.length; i++) branch[i] = rng.nextInt(256);
      ts.add(trajectory(p, 2, 0, fork, branch, rng));
      groups.add(new RolloutGroup(p, new Prompt(prompt, "p" + p, List.of("x")), ts));
    }
    return groups;
  }

  private static Trajectory trajectory(
      int prompt, int id, int parent, int fork, int[] tokens, SplittableRandom rng) {
    int n = tokens.length;
    int[] mask = new int[n];
    for (int i = 0; i < n; i++) mask[i] = rng.nextInt(5) == 0 ? 0 : 1; // some tool-result tokens
    return new Trajectory(
        prompt,
        id,
        parent,
        fork,
        parent < 0 ? Trajectory.Origin.INITIAL : Trajectory.Origin.BRANCH,
        tokens,
        mask,
        new float[n],
        new float[n],
        "",
        0,
        List.of(),
        List.of(),
        StopReason.EOS,
        (double) rng.nextInt(3) / 2);
  }

  private static int[] tokens(SplittableRandom rng, int n) {
    int[] t = new int[n];
    for (int i = 0; i < n; i++) t[i] = rng.nextInt(256);
    return t;
  }
}
