package io.arpo4j.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rank that dies takes the job down: the survivors fail with a clear error, and the launcher
 * stops everything.
 */
class RankFailureTest {
  static final int TIMEOUT_S = 20;

  /** An SFT job far longer than the test, so that it is killed mid-training. */
  static List<String> longSft(Path dir) throws Exception {
    Path data = DataParallelSftTest.writeTraces(dir);
    List<String> args = new ArrayList<>(DataParallelSftTest.sftArgs(data, dir, "long"));
    args.addAll(
        List.of("--set", "sft.epochs=10000", "--set", "distributed.timeout_s=" + TIMEOUT_S));
    return args;
  }

  /**
   * Waits until rank 0 has logged a training step, i.e. both ranks are inside the training loop.
   */
  static void awaitFirstStep(Path dir, Path log, Process... alive) throws Exception {
    Path metrics = dir.resolve("runs/long/sft_metrics.jsonl");
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
    while (!Files.exists(metrics) || Files.size(metrics) == 0) {
      for (Process p : alive)
        assertTrue(
            p.isAlive(), "a process ended before training started: " + RankProcesses.tail(log));
      assertTrue(
          System.nanoTime() < deadline,
          "no training step within 3 minutes: " + RankProcesses.tail(log));
      Thread.sleep(200);
    }
  }

  @Test
  void killingOneRankMakesTheOtherExitNonZeroWithinTheTimeout(@TempDir Path dir) throws Exception {
    List<String> args = longSft(dir);
    int port = RankProcesses.freePort();
    Path log0 = dir.resolve("rank0.log"), log1 = dir.resolve("rank1.log");
    Process rank0 = RankProcesses.rank(0, 2, port, args, log0);
    Process rank1 = RankProcesses.rank(1, 2, port, args, log1);
    try {
      awaitFirstStep(dir, log0, rank0, rank1);
      rank1.destroyForcibly().waitFor();
      assertTrue(
          rank0.waitFor(TIMEOUT_S + 20, TimeUnit.SECONDS),
          "rank 0 still runs "
              + (TIMEOUT_S + 20)
              + " s after rank 1 died: "
              + RankProcesses.tail(log0));
      assertNotEquals(0, rank0.exitValue(), RankProcesses.tail(log0));
      assertTrue(
          Files.readString(log0).contains("rank 0 of 2"),
          "the error names the rank: " + RankProcesses.tail(log0));
    } finally {
      rank0.destroyForcibly();
      rank1.destroyForcibly();
    }
  }

  @Test
  void launchStopsTheOtherRanksAndExitsNonZeroWhenOneDies(@TempDir Path dir) throws Exception {
    List<String> args = new ArrayList<>(List.of("launch", "--nproc", "2", "--grace-s", "5", "--"));
    args.addAll(longSft(dir));
    Path log = dir.resolve("launch.log");
    Process launcher = RankProcesses.cli(args, Map.of(), log);
    try {
      awaitFirstStep(dir, log, launcher);
      List<ProcessHandle> ranks = launcher.children().toList();
      assertEquals(2, ranks.size());
      ranks.get(1).destroyForcibly();
      assertTrue(
          launcher.waitFor(TIMEOUT_S + 20, TimeUnit.SECONDS),
          "launch still runs: " + RankProcesses.tail(log));
      assertNotEquals(0, launcher.exitValue(), RankProcesses.tail(log));
      for (ProcessHandle r : ranks)
        assertFalse(r.isAlive(), "rank " + r.pid() + " outlived the launcher");
      assertTrue(
          Files.readString(log).contains("stopping the other ranks"), RankProcesses.tail(log));
    } finally {
      launcher.descendants().forEach(ProcessHandle::destroyForcibly);
      launcher.destroyForcibly();
    }
  }
}
