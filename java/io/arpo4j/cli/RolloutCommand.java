package io.arpo4j.cli;

import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.RolloutRecorder;
import io.arpo4j.rollout.Trajectory;
import io.arpo4j.trainer.Question;
import io.arpo4j.trainer.Trainer;
import io.arpo4j.trainer.TrainerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "rollout",
    mixinStandardHelpOptions = true,
    description =
        "Roll out questions (ARPO tree or GRPO sampling) with tools and rewards; write the trees as JSONL.")
final class RolloutCommand implements Callable<Integer> {
  @Mixin RunOptions run;

  @Option(
      names = "--data",
      required = true,
      description =
          "questions: JSONL {\"question\", \"answers\"}, or verl/ARPO rows (.parquet, .json, .jsonl)")
  Path data;

  @Option(names = "--out", required = true, description = "directory for rollouts.jsonl")
  Path out;

  @Override
  public Integer call() throws Exception {
    TrainerConfig config = run.load();
    List<Question> questions = Question.load(data);
    Files.createDirectories(out);
    Path file = out.resolve("rollouts.jsonl");
    Files.deleteIfExists(file);
    long start = System.nanoTime();
    List<RolloutGroup> groups;
    try (Trainer trainer = Trainer.builder(config).resume(false).build();
        RolloutRecorder recorder = new RolloutRecorder(file)) {
      groups = trainer.rollout(questions);
      recorder.writeAll(groups);
    }
    int trajectories = 0, branches = 0, calls = 0;
    double reward = 0;
    for (RolloutGroup g : groups) {
      for (Trajectory t : g.trajectories()) {
        trajectories++;
        branches += t.origin() == Trajectory.Origin.BRANCH ? 1 : 0;
        calls += t.toolCalls().size();
        reward += t.reward();
      }
    }
    System.out.printf(
        "%d prompts, %d trajectories (%d branches), %.2f tool calls and reward %.3f per trajectory, %.1f s -> %s%n",
        groups.size(),
        trajectories,
        branches,
        calls / (double) trajectories,
        reward / trajectories,
        (System.nanoTime() - start) / 1e9,
        file);
    return 0;
  }
}
