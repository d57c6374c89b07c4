package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.tools.Tool;
import io.arpo4j.tools.ToolContext;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a library caller may rely on: ownership, resuming, listeners, and no processes unasked. */
class TrainerContractTest {

  private static boolean isOpen(PolicyModel model) {
    return model.model().parameters().values().stream().noneMatch(t -> t.isNull());
  }

  private static long pythonWorkers() {
    return ProcessHandle.current()
        .descendants()
        .filter(p -> p.info().commandLine().orElse("").contains("arpo4j-python-worker"))
        .count();
  }

  /** A tool of the caller's, which records whether anyone closed it. */
  private static final class Echo implements Tool {
    boolean closed;

    @Override
    public String tag() {
      return "echo";
    }

    @Override
    public String execute(String input, ToolContext context) {
      return input;
    }

    @Override
    public void close() {
      closed = true;
    }
  }

  @Test
  void aResumeRedoesLostStepsOnceAndKeepsTheStartingPolicyAsKlReference(@TempDir Path runs)
      throws Exception {
    String[] kl = {"loss.kl_coef=0.1", "save_every=2"};
    TrainerConfig three = RlTrainerTest.config(runs, "kl", 3, kl);
    try (Trainer trainer =
        Trainer.builder(three).reward(RlTrainerTest.DIGITS).progress(false).build()) {
      trainer.train(RlTrainerTest.questions(10));
    }
    Path run = runs.resolve("kl");
    byte[] reference =
        Files.readAllBytes(run.resolve(RlTrainer.REFERENCE_DIR + "/model.safetensors"));
    try (PolicyModel start = PolicyModel.loadDefault()) {
      Path fresh = run.resolve("start");
      start.save(fresh, io.arpo4j.model.StorageType.F32);
      assertArrayEquals(
          Files.readAllBytes(fresh.resolve("model.safetensors")), reference, "the starting policy");
    }
    // the process "died" after step 3, before its checkpoint was written
    Checkpoints.deleteTree(run.resolve("checkpoints/step-000003"));
    Files.writeString(run.resolve("checkpoints/latest"), "step-000002\n");

    List<Map<String, Object>> seen = new ArrayList<>();
    TrainerConfig four = RlTrainerTest.config(runs, "kl", 4, kl);
    try (Trainer trainer =
        Trainer.builder(four)
            .reward(RlTrainerTest.DIGITS)
            .listener(seen::add)
            .progress(false)
            .build()) {
      trainer.train(RlTrainerTest.questions(10));
    }
    assertEquals(
        List.of(3, 4),
        seen.stream().map(m -> ((Number) m.get(MetricsLog.STEP)).intValue()).toList());
    assertArrayEquals(
        reference,
        Files.readAllBytes(run.resolve(RlTrainer.REFERENCE_DIR + "/model.safetensors")),
        "a resumed run keeps the starting policy as its KL reference, not the checkpoint");

    List<Integer> steps = new ArrayList<>();
    ObjectMapper json = new ObjectMapper();
    for (String line : Files.readAllLines(run.resolve("rollouts.jsonl")))
      steps.add(json.readTree(line).get("step").asInt());
    List<Integer> expected = new ArrayList<>();
    for (int s = 1; s <= 4; s++)
      for (int g = 0; g < 4; g++) expected.add(s); // prompts_per_step = 4
    assertEquals(expected, steps, "each step's rollouts once, in order");

    // warm-up resumes from the optimizer's step: 2 mini-batches (4 prompts / 2) per RL step
    Checkpoints.State state = Checkpoints.readState(new Checkpoints(run).latest().orElseThrow());
    assertEquals(4, state.step());
    assertEquals(8, state.optimizerSteps());
  }

  @Test
  void aModelPassedInIsNeverSilentlyReplacedNorClosed(@TempDir Path runs) throws Exception {
    TrainerConfig config = RlTrainerTest.config(runs, "mine", 1);
    try (Trainer trainer =
        Trainer.builder(config).reward(RlTrainerTest.DIGITS).progress(false).build()) {
      trainer.train(RlTrainerTest.questions(4)); // leaves checkpoints/latest
    }
    try (PolicyModel mine = PolicyModel.loadDefault()) {
      IllegalStateException e =
          assertThrows(
              IllegalStateException.class, () -> Trainer.builder(config).model(mine).build());
      assertTrue(e.getMessage().contains("resume(false)"), e.getMessage());
      Trainer trainer = Trainer.builder(config).model(mine).resume(false).build();
      assertTrue(trainer.model() == mine);
      trainer.close();
      assertTrue(isOpen(mine), "the caller's model stays open after the trainer closes");
    }
  }

  @Test
  void aToolWithATakenTagFailsTheBuildAndIsNotClosed(@TempDir Path runs) throws Exception {
    Echo first = new Echo(), second = new Echo();
    TrainerConfig config = RlTrainerTest.config(runs, "tools", 1);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> Trainer.builder(config).tool(first).tool(second).build());
    assertTrue(e.getMessage().contains("'echo' is already registered"), e.getMessage());
    try (Trainer trainer = Trainer.builder(config).tool(first).build()) {
      assertEquals(1, trainer.model().eosTokenIds().length);
    }
    assertFalse(first.closed || second.closed, "tools passed in stay the caller's");
  }

  @Test
  void aFailingBuildClosesTheModelItLoaded(@TempDir Path runs) throws Exception {
    TrainerConfig config = RlTrainerTest.config(runs, "failing", 1);
    assertEquals(PolicyModel.DEFAULT_NAME, failingBuildLoadsAndCloses(config));

    try (Trainer trainer =
        Trainer.builder(config).reward(RlTrainerTest.DIGITS).progress(false).build()) {
      trainer.train(RlTrainerTest.questions(4)); // leaves checkpoints/latest
    }
    String resumed = failingBuildLoadsAndCloses(config);
    assertTrue(resumed.contains("checkpoints"), "the checkpoint's model: " + resumed);
  }

  /**
   * Builds with two tools of one tag, which fails after the model is loaded, and asserts that
   * build() loaded exactly one model and closed it before throwing; returns what it loaded.
   */
  private static String failingBuildLoadsAndCloses(TrainerConfig config) {
    List<PolicyModel> loaded = new ArrayList<>();
    List<String> dirs = new ArrayList<>();
    Trainer.Builder builder =
        Trainer.builder(config)
            .tool(new Echo())
            .tool(new Echo())
            .progress(false)
            .modelLoader(
                (dir, runtime) -> {
                  PolicyModel model = PolicyModel.load(dir, runtime);
                  loaded.add(model);
                  dirs.add(dir);
                  return model;
                });
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);
    assertTrue(e.getMessage().contains("'echo' is already registered"), e.getMessage());
    assertEquals(1, loaded.size(), "models build() loaded");
    boolean open = isOpen(loaded.get(0));
    if (open) loaded.get(0).close();
    assertFalse(open, "a failing build() closes the model it loaded (" + dirs.get(0) + ")");
    return dirs.get(0);
  }

  @Test
  void progressFalseKeepsTheConsoleSilent(@TempDir Path runs) throws Exception {
    Path data =
        Files.writeString(
            runs.resolve("sft.jsonl"), "{\"prompt\": \"2+3=\", \"response\": \"5\"}\n");
    String silent = consoleOfSftAndTraining(runs, "silent", false, data);
    assertEquals("", silent, "progress(false) prints nothing on stdout or stderr");
    String shown = consoleOfSftAndTraining(runs, "shown", true, data);
    assertTrue(shown.contains("sft  1/1"), "the SFT progress line: " + shown);
    assertTrue(shown.contains("grpo shown  1/1"), "the RL progress line: " + shown);
  }

  /** What one SFT step and one RL step print on System.out and System.err together. */
  private static String consoleOfSftAndTraining(
      Path runs, String name, boolean progress, Path sftData) throws Exception {
    TrainerConfig config = RlTrainerTest.config(runs, name, 1, "sft.epochs=1", "sft.batch_size=1");
    ByteArrayOutputStream console = new ByteArrayOutputStream();
    PrintStream out = System.out, err = System.err;
    try (PrintStream capture = new PrintStream(console, true, StandardCharsets.UTF_8)) {
      System.setOut(capture);
      System.setErr(capture);
      try (Trainer trainer =
          Trainer.builder(config).reward(RlTrainerTest.DIGITS).progress(progress).build()) {
        trainer.sft(sftData);
        trainer.train(RlTrainerTest.questions(4));
      }
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
    return console.toString(StandardCharsets.UTF_8);
  }

  @Test
  void sftStartsNoPythonWorkersAndTheLibraryDefaultIsOff(@TempDir Path runs) throws Exception {
    assertFalse(TrainerConfig.defaultConfig().tools().python(), "library users opt in to python");
    TrainerConfig config =
        RlTrainerTest.config(
            runs, "sft", 1, "tools.python=true", "sft.epochs=1", "sft.batch_size=2");
    Path data =
        Files.writeString(
            runs.resolve("sft.jsonl"),
            "{\"prompt\": \"2+3=\", \"response\": \"<python>print(2+3)</python> <result>\\n5\\n</result>\\n5\"}\n");
    try (Trainer trainer = Trainer.builder(config).resume(false).progress(false).build()) {
      trainer.sft(data);
      assertEquals(0, pythonWorkers(), "SFT calls no tool, so no python worker runs");
    }
  }

  @Test
  void trainingAtTemperatureZeroIsRefused(@TempDir Path runs) throws Exception {
    TrainerConfig config = RlTrainerTest.config(runs, "greedy", 1, "rollout.temperature=0");
    try (Trainer trainer = Trainer.builder(config).progress(false).build()) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class, () -> trainer.train(RlTrainerTest.questions(4)));
      assertTrue(e.getMessage().startsWith("rollout.temperature must be > 0"), e.getMessage());
    }
  }
}
