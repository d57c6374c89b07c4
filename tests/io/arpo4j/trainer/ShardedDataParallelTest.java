package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.distributed.Distributed;
import io.arpo4j.distributed.RankProcesses;
import io.arpo4j.distributed.Sharding;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ZeRO-1 ({@code distributed.sharding: optimizer}), ZeRO-2 ({@code gradients}) and ZeRO-3 ({@code
 * full}, gradient checkpointing on, the KL reference sharded too) on two Gloo ranks (separate JVMs)
 * against one process without sharding, on the same global batches: the weights after SFT steps and
 * after RL updates, the checkpoint's HF directory, a resume from the rank-sharded checkpoint, and
 * the AdamW state each rank holds.
 */
class ShardedDataParallelTest {
  static final double TOLERANCE = 1e-5;
  static final List<String> STAGES = List.of("optimizer", "gradients", "full");

  @Test
  void twoShardedRanksTakeTheStepsOfOneProcess(@TempDir Path dir) throws Exception {
    ShardedRank.run(Distributed.single(), Sharding.NONE, dir.resolve("one"));

    int port = RankProcesses.freePort();
    List<String> args = new ArrayList<>(List.of(dir.resolve("two").toString()));
    args.addAll(STAGES);
    List<Process> ranks = new ArrayList<>();
    for (int rank = 0; rank < 2; rank++) {
      ranks.add(
          RankProcesses.java(
              ShardedRank.class.getName(),
              args,
              RankProcesses.rankEnvironment(rank, 2, port),
              dir.resolve("rank" + rank + ".log")));
    }
    try {
      for (int rank = 0; rank < 2; rank++) {
        Path log = dir.resolve("rank" + rank + ".log");
        Process p = ranks.get(rank);
        assertTrue(p.waitFor(4, TimeUnit.MINUTES), "rank " + rank + ": " + RankProcesses.tail(log));
        assertEquals(0, p.exitValue(), "rank " + rank + ": " + RankProcesses.tail(log));
      }
    } finally {
      ranks.forEach(Process::destroyForcibly);
    }

    Path one = dir.resolve("one");
    long[] oneState = state(one, 0);
    for (String stage : STAGES) {
      Path two = dir.resolve("two").resolve(stage);
      double sft = compare(one.resolve("sft"), two.resolve("sft"), stage + " SFT");
      double rl = compare(one.resolve("rl"), two.resolve("rl"), stage + " RL after resume");
      Path oneCheckpoint = one.resolve("runs/run/checkpoints/step-000001");
      Path twoCheckpoint = two.resolve("runs/run/checkpoints/step-000001");
      double exported =
          compare(
              oneCheckpoint.resolve(Checkpoints.MODEL_DIR),
              twoCheckpoint.resolve(Checkpoints.MODEL_DIR),
              stage + " checkpoint model");
      System.out.printf(
          "sharding %s, 2 ranks vs 1 process: max |delta| SFT %.3g, checkpoint %.3g, RL after"
              + " resume %.3g%n",
          stage, sft, exported, rl);
      // the checkpoint is one ordinary HF directory plus one optimizer file per rank
      assertEquals(
          fileNames(oneCheckpoint.resolve(Checkpoints.MODEL_DIR)),
          fileNames(twoCheckpoint.resolve(Checkpoints.MODEL_DIR)));
      assertArrayEquals(
          Files.readAllBytes(oneCheckpoint.resolve("model/config.json")),
          Files.readAllBytes(twoCheckpoint.resolve("model/config.json")));
      assertTrue(Files.isRegularFile(twoCheckpoint.resolve("optimizer-rank00000.bin")));
      assertTrue(Files.isRegularFile(twoCheckpoint.resolve("optimizer-rank00001.bin")));
      assertTrue(!Files.exists(twoCheckpoint.resolve(Checkpoints.OPTIMIZER_FILE)));

      // each rank holds half of the moments: one bucket's padding (N - 1 elements, 64 KiB
      // buckets; under full one per block: a decoder layer or the rest) at most above half
      long buckets =
          stage.equals("full")
              ? decoderLayers() + 1
              : (oneState[0] / 8 * 4 + (64 << 10) - 1) / (64 << 10);
      for (int rank = 0; rank < 2; rank++) {
        long[] s = state(two, rank);
        double half = oneState[0] / 2.0;
        System.out.printf(
            "sharding %s rank %d: AdamW moments %d B (1 process: %d B, ratio %.5f), archive %d B"
                + " (1 process: %d B, ratio %.4f)%n",
            stage,
            rank,
            s[0],
            oneState[0],
            s[0] / (double) oneState[0],
            s[1],
            oneState[1],
            s[1] / (double) oneState[1]);
        assertTrue(
            s[0] >= half && s[0] <= half + 8 * buckets,
            "moment bytes " + s[0] + " vs half of " + oneState[0]);
        // what is written (moments, step counts, archive keys) is about half too
        assertTrue(Math.abs(s[1] / (double) oneState[1] - 0.5) < 0.02, "archive bytes " + s[1]);
        if (stage.equals("full")) {
          // the weights too: parameters + moments held between steps, half and the padding
          long one1 = oneState[0] + oneState[2], two1 = s[0] + s[2];
          System.out.printf(
              "sharding full rank %d: parameters + AdamW moments %d B (1 process: %d B, ratio"
                  + " %.5f)%n",
              rank, two1, one1, two1 / (double) one1);
          assertTrue(
              two1 >= one1 / 2.0 && two1 <= one1 / 2.0 + 12 * buckets,
              "parameter + moment bytes " + two1 + " vs half of " + one1);
        }
      }
    }
  }

  /** {moment bytes, archive bytes, parameter bytes} that rank {@code rank} wrote. */
  private static long[] state(Path dir, int rank) throws Exception {
    String[] parts = Files.readString(dir.resolve("state-rank" + rank + ".txt")).trim().split(" ");
    return new long[] {
      Long.parseLong(parts[0]), Long.parseLong(parts[1]), Long.parseLong(parts[2])
    };
  }

  private static int decoderLayers() throws Exception {
    try (PolicyModel m = PolicyModel.loadDefault()) {
      return m.model().config().numLayers();
    }
  }

  private static List<String> fileNames(Path dir) throws Exception {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  /** Max |delta| of the parameters of two model directories; also checks training moved them. */
  private static double compare(Path a, Path b, String what) throws Exception {
    double maxDelta = 0, maxMoved = 0;
    try (PolicyModel x = PolicyModel.load(a, RuntimeOptions.cpu());
        PolicyModel y = PolicyModel.load(b, RuntimeOptions.cpu());
        PolicyModel start = PolicyModel.loadDefault()) {
      Map<String, Tensor> pa = x.model().parameters(),
          pb = y.model().parameters(),
          ps = start.model().parameters();
      assertEquals(pa.keySet(), pb.keySet());
      for (String name : pa.keySet()) {
        maxDelta = Math.max(maxDelta, pa.get(name).sub(pb.get(name)).abs().max().item_double());
        maxMoved = Math.max(maxMoved, pa.get(name).sub(ps.get(name)).abs().max().item_double());
      }
    }
    assertTrue(
        maxMoved > 30 * TOLERANCE, what + ": training must move the parameters: " + maxMoved);
    assertTrue(maxDelta <= TOLERANCE, what + ": max |delta| = " + maxDelta);
    return maxDelta;
  }
}
