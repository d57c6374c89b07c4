package io.arpo4j.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.RolloutRecorder;
import io.arpo4j.trainer.Checkpoints;
import io.arpo4j.trainer.MetricsLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code launch --nproc 2 -- train}: the RL loop on two ranks, end to end. */
class DataParallelTrainTest {
  @Test
  void twoRanksSplitThePromptsIntoWholeGroupsAndRankZeroWritesTheRun(@TempDir Path dir)
      throws Exception {
    List<String> questions = new ArrayList<>();
    for (int i = 0; i < 6; i++)
      questions.add(
          "{\"question\": \"What is %d + 1?\", \"answers\": [\"%d\"]}".formatted(i, i + 1));
    Path data = dir.resolve("questions.jsonl");
    Files.write(data, questions);
    List<String> args =
        List.of(
            "launch",
            "--nproc",
            "2",
            "--",
            "train",
            "--data",
            data.toString(),
            "--model",
            "default",
            "--algo",
            "grpo",
            "--steps",
            "2",
            "--run-name",
            "rl",
            "--set",
            "runs_dir=" + dir.resolve("runs"),
            "--set",
            "tools.python=false",
            "--set",
            "prompts_per_step=3",
            "--set",
            "rollout.global_size=2",
            "--set",
            "rollout.max_response_tokens=12",
            "--set",
            "save_every=1",
            "--set",
            "distributed.timeout_s=60");
    Path log = dir.resolve("launch.log");
    Process launcher = RankProcesses.cli(args, Map.of(), log);
    assertTrue(
        launcher.waitFor(4, TimeUnit.MINUTES), "train did not finish: " + RankProcesses.tail(log));
    assertEquals(0, launcher.exitValue(), RankProcesses.tail(log));

    Path run = dir.resolve("runs/rl");
    List<Map<String, Object>> metrics = MetricsLog.read(run.resolve("metrics.jsonl"));
    assertEquals(2, metrics.size(), "rank 0 alone writes one line per step");
    for (Map<String, Object> m : metrics)
      assertEquals(3, ((Number) m.get("groups_trained")).intValue(), m.toString());
    // rank 0 rolled out 1 prompt per step (3 split as 1 + 2), rank 1 the other 2: whole groups of 2
    // trajectories
    List<RolloutGroup> rank0 = RolloutRecorder.read(run.resolve("rollouts.jsonl"));
    List<RolloutGroup> rank1 = RolloutRecorder.read(run.resolve("rollouts-rank1.jsonl"));
    assertEquals(2, rank0.size());
    assertEquals(4, rank1.size());
    Set<String> prompts = new HashSet<>();
    for (RolloutGroup g : rank0) {
      assertEquals(2, g.trajectories().size());
      prompts.add(g.prompt().text());
    }
    for (RolloutGroup g : rank1) {
      assertEquals(2, g.trajectories().size());
      prompts.add(g.prompt().text());
    }
    assertEquals(
        6,
        prompts.size(),
        "each of the 6 prompts of the 2 steps was rolled out by exactly one rank");
    Path latest = new Checkpoints(run).latest().orElseThrow();
    assertEquals(2, Checkpoints.readState(latest).step());
    try (PolicyModel model =
        PolicyModel.load(latest.resolve(Checkpoints.MODEL_DIR), RuntimeOptions.cpu())) {
      assertTrue(model.model().parameters().size() > 0);
    }
  }

  /**
   * {@code distributed.sharding: full} through the whole RL loop (rollouts from the gathered
   * weights, the KL reference sharded, the checkpoint gathered for writing) against plain data
   * parallelism on the same two ranks and seeds: the same rollouts, so the same step (the weights
   * are random, so no reward: the entropy term moves them).
   */
  @Test
  void fullShardingTakesTheStepOfPlainDataParallelism(@TempDir Path dir) throws Exception {
    Path data = dir.resolve("questions.jsonl");
    List<String> questions = new ArrayList<>();
    for (int i = 0; i < 3; i++)
      questions.add(
          "{\"question\": \"What is %d + 2?\", \"answers\": [\"%d\"]}".formatted(i, i + 2));
    Files.write(data, questions);
    for (String sharding : List.of("none", "full")) {
      List<String> args =
          List.of(
              "launch",
              "--nproc",
              "2",
              "--",
              "train",
              "--data",
              data.toString(),
              "--model",
              "default",
              "--algo",
              "grpo",
              "--steps",
              "1",
              "--run-name",
              sharding,
              "--set",
              "runs_dir=" + dir.resolve("runs"),
              "--set",
              "tools.python=false",
              "--set",
              "prompts_per_step=3",
              "--set",
              "rollout.global_size=2",
              "--set",
              "rollout.max_response_tokens=12",
              "--set",
              "loss.kl_coef=0.05",
              "--set",
              "loss.entropy_coef=0.01",
              "--set",
              "optimizer.lr=1.0e-3",
              "--set",
              "gradient_checkpointing=true",
              "--set",
              "distributed.sharding=" + sharding,
              "--set",
              "distributed.timeout_s=60");
      Path log = dir.resolve(sharding + ".log");
      Process launcher = RankProcesses.cli(args, Map.of(), log);
      assertTrue(
          launcher.waitFor(4, TimeUnit.MINUTES),
          sharding + " did not finish: " + RankProcesses.tail(log));
      assertEquals(0, launcher.exitValue(), RankProcesses.tail(log));
    }
    double maxDelta = 0, maxMoved = 0;
    try (PolicyModel plain = load(dir.resolve("runs/none"));
        PolicyModel full = load(dir.resolve("runs/full"));
        PolicyModel start = PolicyModel.loadDefault()) {
      for (String name : plain.model().parameters().keySet()) {
        var a = plain.model().parameters().get(name);
        var b = full.model().parameters().get(name);
        maxDelta = Math.max(maxDelta, a.sub(b).abs().max().item_double());
        maxMoved =
            Math.max(
                maxMoved, a.sub(start.model().parameters().get(name)).abs().max().item_double());
      }
    }
    System.out.printf(
        "RL step, 2 ranks, sharding full vs none: max |delta| %.3g (moved %.3g)%n",
        maxDelta, maxMoved);
    assertTrue(maxMoved > 3e-4, "the step must move the weights: " + maxMoved);
    assertTrue(maxDelta <= 1e-5, "max |delta| = " + maxDelta);
  }

  private static PolicyModel load(Path run) throws Exception {
    Path latest = new Checkpoints(run).latest().orElseThrow();
    return PolicyModel.load(latest.resolve(Checkpoints.MODEL_DIR), RuntimeOptions.cpu());
  }
}
