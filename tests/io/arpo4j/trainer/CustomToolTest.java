package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.ToolCall;
import io.arpo4j.rollout.Trajectory;
import io.arpo4j.tools.Tool;
import io.arpo4j.tools.ToolContext;
import io.arpo4j.tools.TrajectoryFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tool whose tag no default knows ({@code calendar}) fires inside {@link Trainer#train}: the
 * rollout stops at the registry's tags and the format reward checks them. The embedded model is
 * first taught by SFT to open every answer with a calendar call.
 */
class CustomToolTest {
  static final String QUESTION = "what day is it";
  static final String CALL = "<calendar>today</calendar>";

  /** Answers every call with the same day and counts the calls it executed. */
  static final class CalendarTool implements Tool {
    final AtomicInteger executions = new AtomicInteger();
    final List<String> inputs = java.util.Collections.synchronizedList(new ArrayList<>());

    @Override
    public String tag() {
      return "calendar";
    }

    @Override
    public String execute(String input, ToolContext context) {
      executions.incrementAndGet();
      inputs.add(input);
      return "Monday";
    }
  }

  @Test
  void aCalendarToolFiresInsideTrain(@TempDir Path runs) throws Exception {
    Path sftData = runs.resolve("sft.jsonl");
    String prompt = "Question: " + QUESTION + "\nAnswer:";
    String response =
        "<think>day</think>"
            + CALL
            + TrajectoryFormat.wrapResult("Monday")
            + "<answer>\\boxed{Monday}</answer>";
    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < 16; i++) {
      lines
          .append("{\"prompt\": ")
          .append(json(prompt))
          .append(", \"response\": ")
          .append(json(response))
          .append("}\n");
    }
    Files.writeString(sftData, lines);
    TrainerConfig config = tinyRun(runs, "calendar");
    CalendarTool calendar = new CalendarTool();
    List<Question> questions =
        List.of(
            new Question("q0", QUESTION, List.of("Monday")),
            new Question("q1", QUESTION, List.of("Monday")));
    try (Trainer trainer = Trainer.builder(config).tool(calendar).build()) {
      assertEquals(List.of("</calendar>"), trainer.toolCaller().format().stopStrings());
      trainer.sft(sftData);

      trainer.train(questions);
      // 2 prompts x 4 trajectories; the tuned policy calls the calendar in (nearly) all of them
      assertTrue(
          calendar.executions.get() >= 4,
          "calendar executions in train: " + calendar.executions.get());
      assertTrue(calendar.inputs.stream().allMatch("today"::equals), calendar.inputs.toString());

      // the same in a rollout: the tool's output is in the trajectory, and a well-formed calendar
      // call scores as correct under the configured reward (its format check knows the tag)
      List<RolloutGroup> groups = trainer.rollout(questions);
      int called = 0, correct = 0;
      for (RolloutGroup g : groups) {
        for (Trajectory t : g.trajectories()) {
          for (ToolCall c : t.toolCalls()) {
            assertEquals("calendar", c.tag());
            assertTrue(c.ok());
            assertEquals("Monday", c.output());
            called++;
          }
          correct += t.reward() >= 1 ? 1 : 0;
        }
      }
      assertTrue(called >= 4, "calendar calls in rollout: " + called);
      assertTrue(correct >= 4, "correct trajectories: " + correct);
    }
    List<Map<String, Object>> steps = MetricsLog.read(runs.resolve("calendar/metrics.jsonl"));
    assertEquals(1, steps.size());
  }

  /**
   * One RL step of the embedded model on two prompts, after an SFT that teaches it the calendar
   * call; shared by the tests that train with a user's tool or reward.
   */
  static TrainerConfig tinyRun(Path runs, String runName) throws IOException {
    return TrainerConfig.load(
        null,
        List.of(
            "runs_dir=" + runs,
            "run_name=" + runName,
            "steps=1",
            "algo=grpo",
            "prompts_per_step=2",
            "ppo_mini_batch_prompts=2",
            "rollout.global_size=4",
            "rollout.max_response_tokens=64",
            "rollout.temperature=0.5",
            "tools.python=false",
            "seed=3",
            "sft.epochs=30",
            "sft.batch_size=8",
            "sft.lr=3e-3",
            "sft.warmup_steps=10",
            "reward.kind=exact",
            "data.prompt_format=template"));
  }

  private static String json(String s) throws Exception {
    return new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(s);
  }
}
