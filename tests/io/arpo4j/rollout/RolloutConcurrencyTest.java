package io.arpo4j.rollout;

import static io.arpo4j.rollout.Fixtures.prompt;
import static io.arpo4j.rollout.ScriptedPolicy.script;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.tools.ToolContext;
import io.arpo4j.tools.TrajectoryFormat;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Tool calls run beside decoding and beside each other. Proven with latches and barriers that only
 * open if the engine really overlaps the work (a generous timeout turns a hang into a failure; no
 * test depends on how fast anything is).
 */
class RolloutConcurrencyTest {
  private final ExecutorService threads = Executors.newCachedThreadPool();

  @AfterEach
  void stopThreads() {
    threads.shutdownNow();
  }

  @Test
  void otherPathsKeepDecodingWhileASlowToolRuns() {
    int stepsWanted = 10;
    CountDownLatch stepsDuringCall = new CountDownLatch(stepsWanted);
    AtomicBoolean slowCallInFlight = new AtomicBoolean();
    ScriptedPolicy policy =
        new ScriptedPolicy(
            name ->
                name.equals("Q#0")
                    ? script("<python>slow</python>", 1.0, "<answer>1</answer>", 1.0)
                    : script("x".repeat(60), 1.0));
    policy.afterStep =
        () -> {
          if (slowCallInFlight.get()) {
            stepsDuringCall.countDown();
          }
        };
    ToolCaller slowTool =
        ToolCaller.of(
            TrajectoryFormat.BUILT_IN,
            (String tag, String input, ToolContext context) -> {
              slowCallInFlight.set(true);
              return CompletableFuture.supplyAsync(
                      () -> {
                        try {
                          // returns only once the other path made progress: impossible if decoding
                          // waited on us
                          boolean progressed = stepsDuringCall.await(30, TimeUnit.SECONDS);
                          slowCallInFlight.set(false);
                          return progressed ? "waited" : "stalled";
                        } catch (InterruptedException e) {
                          return "interrupted";
                        }
                      },
                      threads)
                  .thenApply(output -> Fixtures.success(tag, input, output));
            });
    RolloutConfig config = RolloutConfig.builder().globalSize(2).initialSamples(2).build();

    RolloutGroup group =
        assertTimeoutPreemptively(
            Duration.ofSeconds(60),
            () -> new RolloutEngine(policy, slowTool, config).rollout(List.of(prompt("Q"))).get(0));
    Trajectory slow = group.trajectory(0);
    assertEquals("waited", slow.toolCalls().get(0).output());
    assertEquals(StopReason.EOS, slow.stopReason());
    assertEquals("x".repeat(60), group.trajectory(1).text());
  }

  @Test
  void toolCallsOfStoppedPathsRunAtTheSameTime() {
    int paths = 3;
    CyclicBarrier allInFlight = new CyclicBarrier(paths);
    ToolCaller tool =
        ToolCaller.of(
            TrajectoryFormat.BUILT_IN,
            (String tag, String input, ToolContext context) ->
                CompletableFuture.supplyAsync(
                        () -> {
                          try {
                            // every call waits here for the others: passes only if all are in
                            // flight
                            // together
                            allInFlight.await(30, TimeUnit.SECONDS);
                            return "together";
                          } catch (Exception e) {
                            return "alone";
                          }
                        },
                        threads)
                    .thenApply(output -> Fixtures.success(tag, input, output)));
    // stops at different steps, so each call starts while the others' are still pending
    ScriptedPolicy policy =
        new ScriptedPolicy(
            name ->
                script(
                    "<python>" + "1".repeat(1 + name.charAt(2) - '0') + "</python>",
                    1.0,
                    "<answer>1</answer>",
                    1.0));
    RolloutConfig config = RolloutConfig.builder().globalSize(paths).initialSamples(paths).build();

    RolloutGroup group =
        assertTimeoutPreemptively(
            Duration.ofSeconds(60),
            () -> new RolloutEngine(policy, tool, config).rollout(List.of(prompt("Q"))).get(0));
    for (Trajectory t : group.trajectories()) {
      assertEquals("together", t.toolCalls().get(0).output(), t.name());
    }
  }

  @Test
  void toolWaitCountsOnlyTheTimeWhenEveryPathWaitsForATool() {
    CountDownLatch otherPathFinished = new CountDownLatch(1);
    ScriptedPolicy policy =
        new ScriptedPolicy(
            name ->
                name.equals("Q#0")
                    ? script("<python>slow</python>", 1.0, "<answer>1</answer>", 1.0)
                    : script("x".repeat(60), 1.0));
    // answers once the other path has finished and the rollout thread is parked on the result:
    // the call overlaps decoding first, then is the only thing the rollout waits for
    ToolCaller slowTool =
        ToolCaller.of(
            TrajectoryFormat.BUILT_IN,
            (String tag, String input, ToolContext context) -> {
              Thread rolloutThread = Thread.currentThread();
              return CompletableFuture.supplyAsync(
                      () -> {
                        try {
                          otherPathFinished.await(30, TimeUnit.SECONDS);
                          while (rolloutThread.getState() != Thread.State.WAITING) {
                            Thread.sleep(1);
                          }
                          return "waited for";
                        } catch (InterruptedException e) {
                          return "interrupted";
                        }
                      },
                      threads)
                  .thenApply(output -> Fixtures.success(tag, input, output));
            });
    RolloutConfig config = RolloutConfig.builder().globalSize(2).initialSamples(2).build();
    List<RolloutProgress> reports = new ArrayList<>();

    List<RolloutGroup> groups =
        assertTimeoutPreemptively(
            Duration.ofSeconds(60),
            () ->
                new RolloutEngine(policy, slowTool, config)
                    .rollout(
                        List.of(prompt("Q")),
                        report -> {
                          reports.add(report);
                          if (report.finishedTrajectories() == 1) otherPathFinished.countDown();
                        }));
    RolloutProgress otherPathDone =
        reports.stream().filter(r -> r.finishedTrajectories() == 1).findFirst().orElseThrow();
    assertEquals(1, otherPathDone.pendingToolCalls(), "the call overlapped the other path");
    assertEquals(0, otherPathDone.toolWaitNanos(), "time overlapped by decoding is no wait");
    assertTrue(reports.get(reports.size() - 1).toolWaitNanos() > 0, "then the rollout waited");
    assertEquals(0, otherPathDone.resultTokens(), "no result had arrived yet");
    long resultTokens =
        groups.stream()
            .flatMap(g -> g.trajectories().stream())
            .flatMap(t -> t.toolCalls().stream())
            .mapToLong(ToolCall::resultTokens)
            .sum();
    assertTrue(resultTokens > 0, "the call's result was appended");
    assertEquals(
        resultTokens,
        reports.get(reports.size() - 1).resultTokens(),
        "result tokens reported after the last step");
  }
}
