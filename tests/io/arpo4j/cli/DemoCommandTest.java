package io.arpo4j.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.demo.DemoTask;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.RolloutRecorder;
import io.arpo4j.trainer.Evaluator;
import io.arpo4j.trainer.MetricsLog;
import io.arpo4j.trainer.report.ResultRow;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code arpo4j demo --quick} end to end: data, cold start, ARPO and GRPO, evaluation, summary,
 * report.
 */
class DemoCommandTest {
  @Test
  void quickDemoRunsThePipelineFromTheShippedCheckpoint(@TempDir Path runs) throws Exception {
    DemoCommand.Plan plan = DemoCommand.plan(true);
    DemoCommand.Result r =
        DemoCommand.run(plan, 3, false, runs, DemoCommand.variants(List.of("arpo", "grpo")), false);

    assertEquals(List.of("arpo", "grpo"), r.rows().stream().map(ResultRow::algo).toList());
    for (String file : List.of("corpus.jsonl", "sft.jsonl", "train.jsonl", "heldout.jsonl")) {
      assertTrue(Files.size(runs.resolve("demo/data").resolve(file)) > 0, file);
    }
    assertTrue(Files.isRegularFile(runs.resolve("demo/cold-start/model.safetensors")));
    // the shipped cold start answers held-out questions: the demo starts from a working policy
    assertTrue(r.start().accuracy() > 0.2, "cold-start held-out accuracy " + r.start().accuracy());
    for (String algo : List.of("arpo", "grpo")) {
      Path run = runs.resolve("demo-" + algo);
      List<Map<String, Object>> steps = MetricsLog.read(run.resolve("metrics.jsonl"));
      assertEquals(plan.steps(), steps.size(), algo + " metrics lines");
      List<RolloutGroup> groups = RolloutRecorder.read(run.resolve("rollouts.jsonl"));
      assertEquals(plan.steps() * plan.promptsPerStep(), groups.size(), algo + " rollout trees");
      for (RolloutGroup g : groups)
        assertEquals(plan.globalSize(), g.trajectories().size(), "M trajectories per prompt");
      // several optimizer steps per rollout batch (mini-batches of prompts), so the ratio leaves 1
      for (Map<String, Object> step : steps) {
        assertEquals(
            (double) plan.promptsPerStep() / plan.miniBatchPrompts(),
            ((Number) step.get(MetricsLog.OPTIMIZER_STEPS)).doubleValue(),
            algo + " optimizer steps per RL step");
      }
      assertTrue(
          Files.isDirectory(
              run.resolve("checkpoints").resolve("step-%06d".formatted(plan.steps()))));
    }
    JsonNode summary = new ObjectMapper().readTree(runs.resolve("demo/summary.json").toFile());
    assertEquals(r.start().accuracy(), summary.at("/start/accuracy").asDouble(), 0.0);
    assertEquals(
        r.start().accuracyByKind().get("LOOKUP"),
        summary.at("/start/accuracy_by_kind/LOOKUP").asDouble(),
        0.0);
    for (ResultRow row : r.rows()) {
      JsonNode a = summary.at("/algos/" + row.algo());
      assertEquals(row.accuracy(), a.get("accuracy").asDouble(), 0.0);
      assertEquals(row.toolCallsPerQuestion(), a.get("tool_calls_per_question").asDouble(), 0.0);
      assertEquals(row.seconds(), a.get("seconds").asDouble(), 0.0);
      assertEquals(
          row.trainToolCallsPerPrompt(), a.get("train_tool_calls_per_prompt").asDouble(), 0.0);
      assertTrue(row.trainToolCallsPerPrompt() > 0, row.algo() + " called tools in training");
      // a third of the questions of each kind, and accuracy is their mean
      Map<String, Double> kinds = row.accuracyByKind();
      assertEquals(
          row.accuracy(),
          kinds.values().stream().mapToDouble(Double::doubleValue).average().orElseThrow(),
          1e-12);
    }
    String html = Files.readString(r.report());
    assertTrue(
        html.contains("arpo") && html.contains("grpo") && html.contains("start"),
        "the report shows every policy");
    // the demo's report is RunReport's: each run's curves and trees, each run's eval.json
    assertTrue(html.contains("arpo, prompt ") && html.contains("grpo, prompt "), "trees per run");
    for (String algo : List.of("arpo", "grpo")) {
      JsonNode eval =
          new ObjectMapper()
              .readTree(runs.resolve("demo-" + algo).resolve(Evaluator.FILE_NAME).toFile());
      assertEquals(
          summary.at("/algos/" + algo + "/accuracy").asDouble(),
          eval.get("pass_at_1").asDouble(),
          1e-12);
    }
    assertTrue(r.table().contains("tool calls"));
  }

  @Test
  void fromScratchRedoesTheColdStartSft(@TempDir Path runs) throws Exception {
    DemoCommand.Result r =
        DemoCommand.run(
            DemoCommand.plan(true), 3, true, runs, DemoCommand.variants(List.of("grpo")), true);
    assertNotNull(r.sft());
    assertTrue(
        r.sft().lastLoss() < r.sft().firstLoss(),
        "SFT must lower the loss: " + r.sft().firstLoss() + " -> " + r.sft().lastLoss());
    assertTrue(Files.isRegularFile(runs.resolve("demo/sft-model/model.safetensors")));
    assertTrue(Files.isRegularFile(runs.resolve("demo/summary.json")));
    // evaluated on the development split: its size, and the report says which questions
    assertEquals(
        DemoTask.DEVELOPMENT_QUESTIONS,
        Files.readAllLines(runs.resolve("demo/data/dev.jsonl")).size());
    String html = Files.readString(r.report());
    assertTrue(
        html.contains("development questions") && html.contains("300 (greedy decoding)"), html);
  }

  @Test
  void variantNamesBecomeAlgorithmsWithTheAepoPresetsSettings() {
    assertEquals(
        new DemoCommand.Variant("aepo", "aepo", List.of()), DemoCommand.Variant.parse("AEPO"));
    assertEquals(
        new DemoCommand.Variant(
            "arpo+split+penalty",
            "arpo",
            List.of("aepo.dynamic_split=true", "aepo.branch_penalty=0.05")),
        DemoCommand.Variant.parse("arpo+split+penalty"));
    assertEquals(
        List.of("loss.clip_mode=stop_gradient"),
        DemoCommand.Variant.parse("dapo+stopgrad").settings());
    assertEquals(
        List.of("aepo.entropy_advantage_coef=0.2"),
        DemoCommand.Variant.parse("grpo+entadv").settings());
    assertEquals(
        List.of("rollout.global_size=12"), DemoCommand.Variant.parse("grpo@12").settings());
    for (String bad : List.of("arpo+nope", "grpo@0", "grpo@x", "nosuch", "nosuch+split")) {
      assertThrows(IllegalArgumentException.class, () -> DemoCommand.variants(List.of(bad)), bad);
    }
  }

  @Test
  void grpoAtArpoCallsScalesMByTheRatioOfTrainingToolCalls() {
    DemoCommand.Plan plan = DemoCommand.plan(true); // M = 4
    List<ResultRow> done =
        List.of(
            new ResultRow("grpo", 0.5, Map.of(), 1, 2.0, 100, 10),
            new ResultRow("arpo", 0.5, Map.of(), 1, 1.3, 90, 10));
    // round(4 · 1.3 / 2.0) = round(2.6) = 3
    assertEquals(
        List.of("rollout.global_size=3"),
        DemoCommand.matchArpoCalls(DemoCommand.Variant.parse("grpo@arpo-calls"), plan, done)
            .settings());
    assertThrows(
        IllegalArgumentException.class,
        () ->
            DemoCommand.matchArpoCalls(
                DemoCommand.Variant.parse("grpo@arpo-calls"), plan, done.subList(0, 1)));
  }

  /** summary.json holds every number of the table: what demo-compare --collect reads back. */
  @Test
  void theSummaryReadsBackAsTheRowsItWasWrittenFrom(@TempDir Path dir) throws Exception {
    Map<String, Double> kinds = Map.of("ARITHMETIC", 0.95, "LOOKUP", 0.5, "TWO_HOP", 0.25);
    ResultRow start =
        new ResultRow("start", 0.497, kinds, 1.05, Double.NaN, Double.NaN, Double.NaN);
    List<ResultRow> rows =
        List.of(
            new ResultRow("arpo", 0.6, kinds, 1.33, 5.99, 214.5, 221.25),
            new ResultRow("grpo@5", 0.61, kinds, 1.32, 6.1, 180.0, 150.0));
    Path file = dir.resolve("summary.json");
    DemoCommand.writeSummary(file, new DemoCommand.Result(start, rows, null, null));

    List<ResultRow> read = DemoCommand.readSummary(file);
    assertEquals(3, read.size());
    assertEquals("start", read.get(0).algo());
    assertEquals(0.497, read.get(0).accuracy());
    assertTrue(Double.isNaN(read.get(0).seconds()), "the start row has no training time");
    assertEquals(rows, read.subList(1, 3));
  }
}
