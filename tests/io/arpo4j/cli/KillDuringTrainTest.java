package io.arpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.trainer.Checkpoints;
import io.arpo4j.trainer.MetricsLog;
import io.arpo4j.trainer.OptimizerConfig;
import io.arpo4j.trainer.PolicyOptimizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code arpo4j train} killed with SIGKILL, twice, then resumed to the end, each run its own JVM:
 * once a seeded random moment after a checkpoint, once as soon as a checkpoint starts being
 * written. After each kill {@code latest} names a complete checkpoint that loads; the resumed runs
 * keep the checkpoints before it untouched, clear the dead run's temporary directories, and end at
 * the configured step with each step's metrics and rollouts recorded exactly once, and with the
 * rollouts and weights of a run that was never interrupted.
 */
class KillDuringTrainTest {
  static final int STEPS = 8;
  static final int PROMPTS_PER_STEP = 2;

  /** The exit status of a process ended by SIGKILL: 128 + 9. */
  static final int KILLED = 137;

  /** Generous: a loaded 2-core machine; only a run that hangs or dies reaches it. */
  static final long DEADLINE_NANOS = TimeUnit.MINUTES.toNanos(5);

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Every training JVM started, so that a failed assertion leaves none running. */
  private final List<Process> children = new ArrayList<>();

  @AfterEach
  void killWhatIsLeft() {
    children.forEach(Process::destroyForcibly);
  }

  @Test
  void killedRunsLeaveALoadableCheckpointAndTheResumeRecordsEachStepOnce(@TempDir Path cwd)
      throws Exception {
    SplittableRandom rng = new SplittableRandom(Long.getLong("arpo4j.test.seed", 20251201L));
    StringBuilder questions = new StringBuilder();
    for (int i = 0; i < 8; i++)
      questions.append("{\"question\": \"say " + i + "\", \"answers\": [\"" + i + "\"]}\n");
    Path data = Files.writeString(cwd.resolve("questions.jsonl"), questions);
    Path run = cwd.resolve("runs").resolve("killed");
    Path checkpoints = run.resolve("checkpoints");

    Process first = train(cwd, "first", data);
    awaitCheckpoint(first, cwd, "first", checkpoints, 2);
    Thread.sleep(rng.nextInt(400)); // somewhere in the steps after it
    kill(first, cwd, "first");
    int firstLatest = assertLatestLoads(checkpoints);
    Map<Path, Object> kept = identities(checkpoints, firstLatest);

    Process second = train(cwd, "second", data);
    awaitCheckpoint(second, cwd, "second", checkpoints, firstLatest + 1);
    boolean caughtWriting = killWhenACheckpointWriteStarts(second, cwd, checkpoints);
    int secondLatest = assertLatestLoads(checkpoints);
    assertTrue(secondLatest > firstLatest, "the second run resumed and went on");
    List<String> leftByTheKill = temporaries(checkpoints);
    if (caughtWriting)
      System.out.println("killed while writing a checkpoint: left " + leftByTheKill);
    kept.putAll(identities(checkpoints, secondLatest));

    Process last = train(cwd, "last", data);
    awaitExit(last, cwd, "last");
    assertEquals(0, last.exitValue(), CliProcess.stderr(cwd, "last"));
    assertEquals(STEPS, assertLatestLoads(checkpoints));
    assertEquals(List.of(), temporaries(checkpoints), "temporary directories of the killed runs");
    assertEquals(kept, identities(checkpoints, secondLatest), "resumed runs redid saved steps");

    List<Integer> everyStep = IntStream.rangeClosed(1, STEPS).boxed().toList();
    List<Integer> metricSteps = new ArrayList<>();
    for (Map<String, Object> m : MetricsLog.read(run.resolve("metrics.jsonl")))
      metricSteps.add(((Number) m.get(MetricsLog.STEP)).intValue());
    assertEquals(everyStep, metricSteps, "metrics.jsonl: each step once, in order");

    List<String> rolloutLines = new ArrayList<>();
    for (String line : Files.readAllLines(run.resolve("rollouts.jsonl"))) {
      JsonNode group = JSON.readTree(line);
      rolloutLines.add(group.get("step").asInt() + "/" + group.get("promptIndex").asInt());
    }
    List<String> expected = new ArrayList<>();
    for (int step : everyStep)
      for (int prompt = 0; prompt < PROMPTS_PER_STEP; prompt++) expected.add(step + "/" + prompt);
    assertEquals(expected, rolloutLines, "rollouts.jsonl: each step's groups once, in order");

    // every random choice of step s derives from (seed, s): the kills change nothing
    Process straight = train(cwd, "straight", data, "straight");
    awaitExit(straight, cwd, "straight");
    assertEquals(0, straight.exitValue(), CliProcess.stderr(cwd, "straight"));
    Path uninterrupted = cwd.resolve("runs").resolve("straight");
    assertEquals(
        -1,
        Files.mismatch(uninterrupted.resolve("rollouts.jsonl"), run.resolve("rollouts.jsonl")),
        "rollouts differ from an uninterrupted run's");
    String weights = "checkpoints/step-%06d/model/model.safetensors".formatted(STEPS);
    assertEquals(
        -1,
        Files.mismatch(uninterrupted.resolve(weights), run.resolve(weights)),
        "final weights differ from an uninterrupted run's");

    for (Process p : List.of(first, second, last, straight))
      assertEquals(List.of(), CliProcess.crashLogs(cwd, p), "a JVM crashed");
  }

  private Process train(Path cwd, String log, Path data) throws IOException {
    return train(cwd, log, data, "killed");
  }

  private Process train(Path cwd, String log, Path data, String runName) throws IOException {
    Process p =
        CliProcess.start(
            cwd,
            log,
            List.of("-Xmx512m"),
            List.of(
                "train",
                "--data",
                data.toString(),
                "--set",
                "runs_dir=" + cwd.resolve("runs"),
                "--set",
                "run_name=" + runName,
                "--set",
                "steps=" + STEPS,
                "--set",
                "save_every=1",
                "--set",
                "algo=grpo",
                "--set",
                "prompts_per_step=" + PROMPTS_PER_STEP,
                "--set",
                "ppo_mini_batch_prompts=" + PROMPTS_PER_STEP,
                "--set",
                "rollout.global_size=2",
                "--set",
                "rollout.max_response_tokens=8",
                "--set",
                "tools.python=false",
                "--set",
                "seed=5"));
    children.add(p);
    return p;
  }

  /** The step {@code checkpoints/latest} names, or 0 while there is none. */
  private static int latestStep(Path checkpoints) throws IOException {
    Path latest = checkpoints.resolve("latest");
    if (!Files.isRegularFile(latest)) return 0;
    String name = Files.readString(latest, StandardCharsets.UTF_8).trim();
    assertTrue(name.matches("step-\\d{6}"), "latest names " + name);
    return Integer.parseInt(name.substring("step-".length()));
  }

  /** Polls until {@code latest} names step {@code step} or later; fails if the run ends first. */
  private static void awaitCheckpoint(Process p, Path cwd, String log, Path checkpoints, int step)
      throws Exception {
    long start = System.nanoTime();
    while (latestStep(checkpoints) < step) {
      if (!p.isAlive())
        fail(
            log
                + " ended ("
                + p.exitValue()
                + ") before checkpoint "
                + step
                + ": "
                + tail(cwd, log));
      if (System.nanoTime() - start > DEADLINE_NANOS)
        fail(log + ": no checkpoint " + step + " in time: " + tail(cwd, log));
      Thread.sleep(20);
    }
  }

  /**
   * Kills {@code p} as soon as a temporary checkpoint directory appears (inotify, so within a
   * fraction of the write); if none appears before the last step's, kills it anyway. Returns
   * whether the kill followed a write's start.
   */
  private static boolean killWhenACheckpointWriteStarts(Process p, Path cwd, Path checkpoints)
      throws Exception {
    long start = System.nanoTime();
    try (WatchService watcher = checkpoints.getFileSystem().newWatchService()) {
      checkpoints.register(watcher, StandardWatchEventKinds.ENTRY_CREATE);
      while (latestStep(checkpoints) < STEPS - 1) {
        if (!p.isAlive()) fail("second run ended (" + p.exitValue() + "): " + tail(cwd, "second"));
        if (System.nanoTime() - start > DEADLINE_NANOS) fail("second run: no checkpoint in time");
        WatchKey key = watcher.poll(20, TimeUnit.MILLISECONDS);
        if (key == null) continue;
        for (WatchEvent<?> event : key.pollEvents()) {
          if (event.context() instanceof Path created
              && created.toString().startsWith(".tmp-step-")) {
            kill(p, cwd, "second");
            return true;
          }
        }
        key.reset();
      }
    }
    kill(p, cwd, "second");
    return false;
  }

  private static void kill(Process p, Path cwd, String log) throws Exception {
    p.destroyForcibly(); // SIGKILL on Linux
    awaitExit(p, cwd, log);
    assertEquals(KILLED, p.exitValue(), log + " was not killed: " + tail(cwd, log));
  }

  private static void awaitExit(Process p, Path cwd, String log) throws Exception {
    if (!p.waitFor(DEADLINE_NANOS, TimeUnit.NANOSECONDS)) {
      p.destroyForcibly();
      fail(log + " did not end in time: " + tail(cwd, log));
    }
  }

  /**
   * Asserts that {@code latest} names a complete checkpoint: its state says the same step, and its
   * model and optimizer state load. Returns that step.
   */
  private static int assertLatestLoads(Path checkpoints) throws IOException {
    int step = latestStep(checkpoints);
    assertTrue(step > 0, "no checkpoint");
    Path dir = checkpoints.resolve("step-%06d".formatted(step));
    Checkpoints.State state = Checkpoints.readState(dir);
    assertEquals(step, state.step());
    try (PolicyModel model =
            PolicyModel.load(dir.resolve(Checkpoints.MODEL_DIR), RuntimeOptions.cpu());
        PolicyOptimizer optimizer =
            new PolicyOptimizer(model.model(), OptimizerConfig.defaults())) {
      optimizer.load(dir.resolve(Checkpoints.OPTIMIZER_FILE), state.optimizerSteps());
    }
    return step;
  }

  /** The names of temporary entries (a checkpoint or {@code latest} being written). */
  private static List<String> temporaries(Path checkpoints) throws IOException {
    try (Stream<Path> entries = Files.list(checkpoints)) {
      return entries
          .map(p -> p.getFileName().toString())
          .filter(name -> name.startsWith(".tmp-"))
          .sorted()
          .toList();
    }
  }

  /**
   * The file identity (device and inode) of each checkpoint directory up to {@code step}: a run
   * that redid a step would have replaced its directory.
   */
  private static Map<Path, Object> identities(Path checkpoints, int step) throws IOException {
    Map<Path, Object> keys = new HashMap<>();
    for (int s = 1; s <= step; s++) {
      Path dir = checkpoints.resolve("step-%06d".formatted(s));
      keys.put(dir, Files.readAttributes(dir, BasicFileAttributes.class).fileKey());
    }
    return keys;
  }

  private static String tail(Path cwd, String log) {
    try {
      String err = CliProcess.stderr(cwd, log);
      return err.length() > 3000 ? err.substring(err.length() - 3000) : err;
    } catch (IOException e) {
      return "(no stderr: " + e + ")";
    }
  }
}
