package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.distributed.Distributed;
import io.arpo4j.distributed.RankProcesses;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The RL update on two Gloo ranks (separate JVMs, whole groups per rank) equals one process on all
 * groups.
 */
class DataParallelRlTest {
  @Test
  void twoRanksTakeTheUpdatesOfOneProcess(@TempDir Path dir) throws Exception {
    DataParallelRlRank.train(Distributed.single(), dir.resolve("one"));

    int port = RankProcesses.freePort();
    List<Process> ranks = new ArrayList<>();
    for (int rank = 0; rank < 2; rank++) {
      ranks.add(
          RankProcesses.java(
              DataParallelRlRank.class.getName(),
              List.of(dir.resolve("two").toString()),
              RankProcesses.rankEnvironment(rank, 2, port),
              dir.resolve("rank" + rank + ".log")));
    }
    try {
      for (int rank = 0; rank < 2; rank++) {
        Process p = ranks.get(rank);
        String log = "rank " + rank + ": " + dir.resolve("rank" + rank + ".log");
        assertTrue(
            p.waitFor(3, TimeUnit.MINUTES),
            log + " did not finish: " + RankProcesses.tail(dir.resolve("rank" + rank + ".log")));
        assertEquals(0, p.exitValue(), RankProcesses.tail(dir.resolve("rank" + rank + ".log")));
      }
    } finally {
      ranks.forEach(Process::destroyForcibly);
    }

    double maxDelta = 0, maxMoved = 0;
    try (PolicyModel one = PolicyModel.load(dir.resolve("one"), RuntimeOptions.cpu());
        PolicyModel two = PolicyModel.load(dir.resolve("two"), RuntimeOptions.cpu());
        PolicyModel start = PolicyModel.loadDefault()) {
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
        "2-rank vs 1-process RL update, %d steps: max |delta| = %.3g (parameters moved up to %.3g)%n",
        DataParallelRlRank.STEPS, maxDelta, maxMoved);
    assertTrue(
        maxMoved > 30 * 1e-5,
        "the updates must move the parameters well past the tolerance: " + maxMoved);
    assertTrue(maxDelta <= 1e-5, "max |delta| = " + maxDelta);
  }
}
