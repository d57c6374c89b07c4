package io.arpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.testing.LogLines;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 17: {@code eval --config run.yaml} scored the base model, {@code --model .../latest} did
 * not exist, nothing was saved, and only the demo wrote a report. A one-step run on the embedded
 * model, then eval and report on it.
 */
class EvalCommandTest {
  record Run(int status, String out, String err) {}

  /** Runs the CLI in this JVM, with System.out and System.err captured as well. */
  static Run arpo4j(String... args) {
    PrintStream savedOut = System.out, savedErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
    StringWriter cliErr = new StringWriter();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    int status;
    try {
      status =
          Main.run(
              args,
              new PrintWriter(System.out, true, StandardCharsets.UTF_8),
              new PrintWriter(cliErr, true));
    } finally {
      System.setOut(savedOut);
      System.setErr(savedErr);
    }
    return new Run(
        status,
        out.toString(StandardCharsets.UTF_8),
        err.toString(StandardCharsets.UTF_8) + cliErr);
  }

  static String[] args(Path runs, String... command) {
    List<String> all = new ArrayList<>(List.of(command));
    all.addAll(
        List.of(
            "--set", "runs_dir=" + runs,
            "--set", "tools.python=false",
            "--set", "prompts_per_step=2",
            "--set", "ppo_mini_batch_prompts=2",
            "--set", "rollout.global_size=2",
            "--set", "rollout.initial_samples=2",
            "--set", "rollout.max_response_tokens=6"));
    return all.toArray(String[]::new);
  }

  @Test
  void evalOfARunScoresItsLatestCheckpointAndSavesEvalJson(@TempDir Path runs) throws Exception {
    Path data = runs.resolve("q.jsonl");
    Files.writeString(
        data,
        "{\"id\": \"a\", \"question\": \"1+1?\", \"answers\": [\"2\"]}\n"
            + "{\"id\": \"b\", \"question\": \"2+2?\", \"answers\": [\"4\"]}\n");
    Run train =
        arpo4j(
            args(
                runs,
                "train",
                "--algo",
                "grpo",
                "--run-name",
                "x",
                "--steps",
                "1",
                "--data",
                data.toString()));
    assertEquals(0, train.status(), train.err());
    Path checkpoint = runs.resolve("x/checkpoints/step-000001");
    assertTrue(Files.isDirectory(checkpoint), train.err());

    Run byName = arpo4j(args(runs, "eval", "--run", "x", "--data", data.toString()));
    assertEquals(0, byName.status(), byName.err());
    assertTrue(
        byName.err().contains("evaluating checkpoint " + checkpoint + " (step 1)"), byName.err());
    JsonNode saved = new ObjectMapper().readTree(runs.resolve("x/eval.json").toFile());
    assertEquals(checkpoint.toString(), saved.get("model").asText());
    assertEquals(2, saved.get("per_question").size());
    assertEquals("a", saved.get("per_question").get(0).get("id").asText());
    assertEquals(
        saved.get("pass_at_1").asDouble(),
        new ObjectMapper().readTree(byName.out()).get("pass_at_1").asDouble(),
        "what is printed is what is saved");

    Run byConfig =
        arpo4j(
            args(
                runs,
                "eval",
                "--config",
                runs.resolve("x/config.yaml").toString(),
                "--data",
                data.toString()));
    assertEquals(0, byConfig.status(), byConfig.err());
    assertTrue(byConfig.err().contains("evaluating checkpoint " + checkpoint), byConfig.err());

    Run byLatest =
        arpo4j(
            args(
                runs,
                "eval",
                "--model",
                runs.resolve("x/checkpoints/latest").toString(),
                "--run-name",
                "y",
                "--data",
                data.toString()));
    assertEquals(0, byLatest.status(), byLatest.err());
    Run byDir =
        arpo4j(
            args(
                runs,
                "eval",
                "--model",
                checkpoint.toString(),
                "--run-name",
                "y",
                "--data",
                data.toString()));
    assertEquals(0, byDir.status(), byDir.err());
    Run byDefault;
    List<String> warnings;
    try (LogLines log = LogLines.of(EvalCommand.class)) {
      byDefault =
          arpo4j(
              args(
                  runs,
                  "eval",
                  "--model",
                  "default",
                  "--run-name",
                  "z",
                  "--data",
                  data.toString()));
      warnings = log.messages();
    }
    assertEquals(0, byDefault.status(), byDefault.err());
    assertEquals(
        List.of(PolicyModel.DEFAULT_IS_UNTRAINED), warnings, "what eval of 'default' warns");
    Run noRun = arpo4j(args(runs, "eval", "--run", "nope", "--data", data.toString()));
    assertEquals(Main.BAD_INPUT, noRun.status());
    assertTrue(noRun.err().contains("no run 'nope'"), noRun.err());

    Run report = arpo4j("report", runs.resolve("x").toString());
    assertEquals(0, report.status(), report.err());
    String html = Files.readString(runs.resolve("x/report.html"));
    assertTrue(html.contains("arpo4j run x (grpo)"), "title");
    assertTrue(html.contains("Reward (mean per step)"), "the run's curves");
    assertTrue(html.contains("<h2 id=\"results\">"), "the results row from eval.json");

    Run notARun = arpo4j("report", runs.toString());
    assertEquals(Main.BAD_INPUT, notARun.status());
    assertTrue(notARun.err().contains("is not a run directory"), notARun.err());
  }
}
