package io.arpo4j.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.cli.Main;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Data-parallel SFT over Gloo on 127.0.0.1: two rank processes started by {@code launch} take the
 * same steps as one process on the same global batches.
 */
class DataParallelSftTest {
  static final double TOLERANCE = 1e-5;

  /**
   * 7 traces with tool results (masked), batches of 3: shards of 2/1, and a last batch of 1 that
   * leaves rank 0 empty.
   */
  static Path writeTraces(Path dir) throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      int a = 3 + i, b = 11 * i + 2;
      lines.add(
          "{\"prompt\": \"Q: %d*%d?\", \"response\": \" <python>print(%d*%d)</python> <result>\\n%d\\n</result> "
                  .formatted(a, b, a, b, a * b)
              + "\\\\boxed{%d}\"}".formatted(a * b));
    }
    Path data = dir.resolve("traces.jsonl");
    Files.write(data, lines);
    return data;
  }

  static List<String> sftArgs(Path data, Path dir, String run) {
    return List.of(
        "sft",
        "--data",
        data.toString(),
        "--model",
        "default",
        "--seed",
        "7",
        "--run-name",
        run,
        "--out",
        dir.resolve(run + "-model").toString(),
        "--set",
        "runs_dir=" + dir.resolve("runs"),
        "--set",
        "tools.python=false",
        "--set",
        "sft.batch_size=3",
        "--set",
        "sft.epochs=2",
        "--set",
        "sft.lr=3.0e-4",
        "--set",
        "micro_batch_tokens=128",
        "--set",
        "distributed.timeout_s=60");
  }

  @Test
  void twoRanksTakeTheStepsOfOneProcess(@TempDir Path dir) throws Exception {
    Path data = writeTraces(dir);
    assertEquals(
        0, new CommandLine(new Main()).execute(sftArgs(data, dir, "one").toArray(new String[0])));

    List<String> launch = new ArrayList<>(List.of("launch", "--nproc", "2", "--"));
    launch.addAll(sftArgs(data, dir, "two"));
    Path log = dir.resolve("launch.log");
    Process launcher = RankProcesses.cli(launch, Map.of(), log);
    assertTrue(
        launcher.waitFor(5, TimeUnit.MINUTES), "launch did not finish: " + RankProcesses.tail(log));
    assertEquals(0, launcher.exitValue(), RankProcesses.tail(log));
    String out = Files.readString(log);
    assertTrue(out.contains("[rank 0] sft: 6 steps"), out);
    assertTrue(out.contains("[rank 1] "), "rank 1's output is forwarded with its prefix: " + out);
    // rank 0 alone writes the metrics: one line per step
    assertEquals(6, Files.readAllLines(dir.resolve("runs/two/sft_metrics.jsonl")).size());

    double maxDelta = 0, maxMoved = 0;
    try (PolicyModel one =
            PolicyModel.load(dir.resolve("one-model").toString(), RuntimeOptions.cpu());
        PolicyModel two =
            PolicyModel.load(dir.resolve("two-model").toString(), RuntimeOptions.cpu());
        PolicyModel start = PolicyModel.load("default", RuntimeOptions.cpu())) {
      Map<String, Tensor> a = one.model().parameters(),
          b = two.model().parameters(),
          s = start.model().parameters();
      assertEquals(a.keySet(), b.keySet());
      for (String name : a.keySet()) {
        maxDelta = Math.max(maxDelta, a.get(name).sub(b.get(name)).abs().max().item_double());
        maxMoved = Math.max(maxMoved, a.get(name).sub(s.get(name)).abs().max().item_double());
      }
    }
    System.out.printf(
        "2-rank vs 1-process SFT, 6 steps: max |delta| = %.3g (parameters moved up to %.3g)%n",
        maxDelta, maxMoved);
    assertTrue(
        maxMoved > 100 * TOLERANCE,
        "training must move the parameters well past the tolerance: " + maxMoved);
    // Rounding differences of the summation order become Adam steps of up to lr each (its
    // normalisation), so the gap scales with how far training moved the weights: 2.6e-6 to 1.04e-5
    // measured here with the same code under different BLAS thread counts, for moves of ~1.8e-3.
    assertTrue(
        maxDelta <= maxMoved / 100,
        "max |delta| = " + maxDelta + " exceeds 1% of the largest move, " + maxMoved);
  }
}
