package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.model.HfTokenizer;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.model.StorageType;
import io.arpo4j.rollout.ToolCaller;
import io.arpo4j.testing.LogLines;
import io.arpo4j.tools.Tool;
import io.arpo4j.tools.ToolContext;
import io.arpo4j.tools.ToolException;
import io.arpo4j.tools.ToolResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trainer's tools as the rollout calls them: a failure of the built-in python tool (a
 * traceback) or of a user's tool ({@link ToolException}) is a failed call ({@code ok = false}), not
 * only an error text (before, {@link Trainer#toolCaller()} kept the text and dropped {@code ok});
 * and a model without tokenizer_config.json is said to have no chat template, once.
 */
class TrainerToolsTest {
  /** A user's tool that always fails on purpose. */
  static final class Broken implements Tool {
    @Override
    public String tag() {
      return "calendar";
    }

    @Override
    public String execute(String input, ToolContext context) throws ToolException {
      throw new ToolException("no calendar for " + input);
    }
  }

  @Test
  void toolFailuresReachTheRolloutAsFailedCalls(@TempDir Path dir) throws Exception {
    Path model = dir.resolve("model");
    try (PolicyModel m = PolicyModel.load("default", RuntimeOptions.cpu())) {
      m.save(model, StorageType.F32);
    }
    Files.delete(model.resolve(HfTokenizer.CONFIG_FILE)); // no chat template: the plain prompt
    TrainerConfig config =
        TrainerConfig.load(
            List.of("tools.python=true"),
            null,
            List.of(
                "runs_dir=" + dir,
                "run_name=tools",
                "model=" + model,
                "tools.python_sandbox.workers=1",
                "tools.python_sandbox.preload=[]"));
    try (LogLines log = LogLines.of(Trainer.class);
        Trainer trainer = Trainer.builder(config).tool(new Broken()).build()) {
      List<String> notes = log.messages();
      assertEquals(1, notes.size(), notes.toString());
      assertTrue(
          notes.get(0).startsWith("the model's tokenizer has no chat template"), notes.get(0));

      ToolCaller tools = trainer.toolCaller();
      ToolResult traceback = call(tools, "python", "1/0");
      assertTrue(traceback.output().contains("ZeroDivisionError"), traceback.output());
      assertFalse(traceback.ok(), "a python traceback is a failed call");
      ToolResult printed = call(tools, "python", "print(6*7)");
      assertEquals("42", printed.output());
      assertTrue(printed.ok());
      ToolResult refused = call(tools, "calendar", "Paris");
      assertEquals("no calendar for Paris", refused.output());
      assertFalse(refused.ok(), "a ToolException is a failed call");
    }
  }

  private static ToolResult call(ToolCaller tools, String tag, String input) throws Exception {
    return tools.call(tag, input, new ToolContext("t", 0)).get(60, TimeUnit.SECONDS);
  }
}
