package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.rollout.RolloutProgress;
import io.arpo4j.rollout.RolloutRecorder;
import io.arpo4j.testing.LogLines;
import io.arpo4j.trainer.report.HtmlReport;
import io.arpo4j.trainer.report.RunReport;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 17's "first hour" findings on the embedded model, a step or two each: the random-weights
 * warning, "resumed from step N", question ids in rollouts.jsonl, eval_every, config.yaml of an SFT
 * run, SFT data given to train, rollout progress inside a step.
 */
class FirstHourTest {
  static final List<Question> QUESTIONS =
      List.of(
          new Question("apple", "1+1?", List.of("2")),
          new Question("pear", "2+2?", List.of("4")),
          new Question("plum", "3+3?", List.of("6")));

  static TrainerConfig config(Path runs, String name, int steps, String... extra) throws Exception {
    List<String> o =
        new ArrayList<>(
            List.of(
                "runs_dir=" + runs,
                "run_name=" + name,
                "steps=" + steps,
                "algo=grpo",
                "prompts_per_step=2",
                "ppo_mini_batch_prompts=2",
                "rollout.global_size=2",
                "rollout.max_response_tokens=6",
                "tools.python=false"));
    o.addAll(List.of(extra));
    return TrainerConfig.load(null, o);
  }

  /** Runs {@code body} with System.err captured; returns what it printed there. */
  static String stderrOf(Body body) throws Exception {
    PrintStream saved = System.err;
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    System.setErr(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    try {
      body.run();
    } finally {
      System.setErr(saved);
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }

  interface Body {
    void run() throws Exception;
  }

  @Test
  void randomWeightsAreSaidOnceThenAResumeSaysFromWhichStep(@TempDir Path runs) throws Exception {
    String first;
    try (LogLines log = LogLines.of(Trainer.class)) {
      first =
          stderrOf(
              () -> {
                try (Trainer t = Trainer.builder(config(runs, "r", 1)).build()) {
                  t.train(QUESTIONS);
                }
              });
      assertEquals(List.of(Trainer.RANDOM_WEIGHTS_WARNING), log.messages(), first);
    }
    assertFalse(first.contains("resumed from"), first);
    String second;
    try (LogLines log = LogLines.of(Trainer.class)) {
      second =
          stderrOf(
              () -> {
                try (Trainer t = Trainer.builder(config(runs, "r", 2)).build()) {
                  t.train(QUESTIONS);
                }
              });
      assertTrue(
          second.contains(
              "resumed from step 1 of 2 (" + runs.resolve("r/checkpoints/step-000001") + ")"),
          second);
      assertEquals(List.of(), log.messages(), "the checkpoint's weights are trained");
    }
    String ownModel;
    try (LogLines log = LogLines.of(Trainer.class)) {
      ownModel =
          stderrOf(
              () -> {
                try (PolicyModel m = PolicyModel.loadDefault();
                    Trainer t =
                        Trainer.builder(config(runs, "own", 1)).model(m).resume(false).build()) {
                  t.train(QUESTIONS);
                }
              });
      assertEquals(List.of(), log.messages(), "a model passed in is the caller's choice");
    }

    // every record names its question
    Set<String> ids = Set.of("apple", "pear", "plum");
    List<String> lines = Files.readAllLines(runs.resolve("r/rollouts.jsonl"));
    assertEquals(4, lines.size(), "2 steps x 2 prompts");
    for (String line : lines) {
      JsonNode record = new ObjectMapper().readTree(line);
      assertTrue(ids.contains(record.path(RolloutRecorder.QUESTION_ID).asText()), line);
      RolloutRecorder.fromJson(line); // still a rollout group
    }
  }

  @Test
  void evalEveryEvaluatesDuringTrainingAndTheReportDrawsIt(@TempDir Path runs) throws Exception {
    List<Question> heldOut = QUESTIONS.subList(0, 2);
    try (Trainer t =
        Trainer.builder(config(runs, "ev", 2, "eval_every=1")).progress(false).build()) {
      assertThrows(IllegalArgumentException.class, () -> t.train(QUESTIONS, List.of()));
      t.train(QUESTIONS, heldOut);
    }
    List<Map<String, Object>> steps = MetricsLog.read(runs.resolve("ev/metrics.jsonl"));
    assertEquals(2, steps.size());
    for (Map<String, Object> step : steps) {
      double pass = ((Number) step.get(MetricsLog.EVAL_PASS_AT_1)).doubleValue();
      assertTrue(pass >= 0 && pass <= 1, step.toString());
      assertTrue(step.containsKey("eval_tool_calls_per_answer"), step.toString());
    }
    Path html = RunReport.write(runs.resolve("ev"));
    assertEquals(runs.resolve("ev").resolve(HtmlReport.FILE_NAME), html);
    String report = Files.readString(html);
    assertTrue(report.contains("Held-out pass@1 (every eval_every steps)"), "the eval curve");
    assertFalse(report.contains("Not logged: " + MetricsLog.EVAL_PASS_AT_1), "it was logged");
    assertTrue(report.contains("grpo, prompt "), "rollout trees of the last step");
  }

  @Test
  void rolloutProgressCountsTrajectoriesOverAllBatches(@TempDir Path runs) throws Exception {
    TrainerConfig config = config(runs, "p", 1);
    List<RolloutProgress> seen = new ArrayList<>();
    try (Trainer t = Trainer.builder(config).progress(false).build()) {
      Rollouts.run(
          t.model(),
          t.toolCaller(),
          config.rolloutConfig(),
          in -> 0.0,
          QUESTIONS,
          config.data(),
          2,
          seen::add);
    }
    assertFalse(seen.isEmpty());
    RolloutProgress last = seen.get(seen.size() - 1);
    assertEquals(6, last.totalTrajectories(), "3 prompts x M = 2");
    assertEquals(6, last.finishedTrajectories());
    for (int i = 1; i < seen.size(); i++)
      assertTrue(seen.get(i).finishedTrajectories() >= seen.get(i - 1).finishedTrajectories());
  }

  @Test
  void anSftRunKeepsItsConfigAndSftDataIsNoQuestionFile(@TempDir Path runs) throws Exception {
    Path sft = runs.resolve("sft.jsonl");
    Files.writeString(
        sft,
        "{\"prompt\": \"1+1?\", \"response\": \"<answer>\\\\boxed{2}</answer>\"}\n"
            + "{\"prompt\": \"2+2?\", \"response\": \"<answer>\\\\boxed{4}</answer>\"}\n");
    TrainerConfig config = config(runs, "s", 1, "sft.epochs=1", "sft.batch_size=2");
    try (Trainer t = Trainer.builder(config).progress(false).build()) {
      t.sft(sft);
    }
    assertEquals(
        config.toYaml(), Files.readString(runs.resolve("s/config.yaml")), "the SFT run's config");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Question.load(sft));
    assertTrue(e.getMessage().contains("this is SFT data"), e.getMessage());
    assertTrue(e.getMessage().contains("arpo4j sft --data"), e.getMessage());
    assertEquals(1, e.getMessage().lines().count());
    Path chat = runs.resolve("chat.jsonl");
    Files.writeString(chat, "{\"messages\": [{\"role\": \"user\", \"content\": \"2+2?\"}]}\n");
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> Question.load(chat))
            .getMessage()
            .contains("this is SFT data"));
  }
}
