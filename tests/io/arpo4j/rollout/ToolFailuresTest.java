package io.arpo4j.rollout;

import static io.arpo4j.rollout.Fixtures.prompt;
import static io.arpo4j.rollout.ScriptedPolicy.script;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.reward.ScoringInput;
import io.arpo4j.tools.Tool;
import io.arpo4j.tools.ToolContext;
import io.arpo4j.tools.ToolException;
import io.arpo4j.tools.ToolExecutor;
import io.arpo4j.tools.ToolRegistry;
import io.arpo4j.tools.python.PythonSandboxConfig;
import io.arpo4j.tools.python.PythonTool;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A tool's failure is a failed call wherever the call is seen: a python traceback and a custom
 * tool's {@link ToolException} are {@code ok = false} in the trajectory, in its rollouts.jsonl
 * record and in what a reward sees ({@link ScoringInput#toolCalls()}), while their text still
 * reaches the model. (Before, the rollout marked every call with a non-blank output ok.)
 */
class ToolFailuresTest {
  /** A user's tool that fails on purpose for input {@code fail}. */
  static final class Calendar implements Tool {
    @Override
    public String tag() {
      return "calendar";
    }

    @Override
    public String execute(String input, ToolContext context) throws ToolException {
      if (input.equals("fail")) throw new ToolException("no calendar for that city");
      return "Monday";
    }
  }

  @Test
  void tracebacksAndToolExceptionsAreFailedCallsInRecordsAndScoringInputs() throws Exception {
    ScriptedPolicy policy =
        new ScriptedPolicy(
            name ->
                script(
                    "<python>1/0</python>",
                    1.0,
                    "a<python>print(6*7)</python>",
                    1.0,
                    "b<calendar>fail</calendar>",
                    1.0,
                    "c<calendar>Paris</calendar>",
                    1.0,
                    "<answer>x</answer>",
                    1.0));
    PythonSandboxConfig sandbox = PythonSandboxConfig.defaults().toBuilder().workers(1).build();
    try (ToolRegistry registry =
            new ToolRegistry().register(new PythonTool(sandbox)).register(new Calendar());
        ToolExecutor executor = new ToolExecutor(registry, 2)) {
      RolloutConfig config =
          RolloutConfig.builder()
              .globalSize(1)
              .initialSamples(1)
              .entropyWindow(2)
              .toolCallLimit(8)
              .build();
      RolloutGroup group =
          new RolloutEngine(policy, ToolCaller.of(registry, executor), config)
              .rollout(List.of(prompt("Q")))
              .get(0);
      Trajectory t = group.trajectory(0);

      List<ToolCall> calls = t.toolCalls();
      assertEquals(4, calls.size(), t.text());
      assertTrue(calls.get(0).output().contains("ZeroDivisionError"), calls.get(0).output());
      assertEquals("42", calls.get(1).output());
      assertEquals("no calendar for that city", calls.get(2).output());
      assertEquals("Monday", calls.get(3).output());
      List<Boolean> expected = List.of(false, true, false, true);
      assertEquals(expected, calls.stream().map(ToolCall::ok).toList(), "trajectory");

      JsonNode record = new ObjectMapper().readTree(RolloutRecorder.toJson(group));
      List<Boolean> recorded = new ArrayList<>();
      record
          .path("trajectories")
          .get(0)
          .path("toolCalls")
          .forEach(c -> recorded.add(c.path("ok").asBoolean()));
      assertEquals(expected, recorded, "rollouts.jsonl record: " + record);

      ScoringInput in = new ScoringInput("q", "Q", "Q", List.of("x"), null, Map.of(), t);
      assertEquals(expected, in.toolCalls().stream().map(ToolCall::ok).toList(), "ScoringInput");
    }
  }
}
