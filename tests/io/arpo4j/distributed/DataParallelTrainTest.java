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
}
