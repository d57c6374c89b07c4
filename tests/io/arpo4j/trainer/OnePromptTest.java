package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.tools.Tool;
import io.arpo4j.tools.ToolContext;
import io.arpo4j.tools.python.PythonTool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SFT, RL and evaluation show the model one prompt for one question: the same system message,
 * listing the same tools (the configured python tool and a user's tool, each with its description)
 * from the trainer's one registry, and a dataset's own system message where the row brings one. The
 * embedded default model has a chat template (Qwen style), so the prompts go through it. The config
 * is loaded as the CLI loads it ({@code tools.python=true} under the file).
 */
class OnePromptTest {
  static final String QUESTION = "What is 2+2?";

  /** A user's tool with a description; never called here. */
  static final class Calendar implements Tool {
    @Override
    public String tag() {
      return "calendar";
    }

    @Override
    public String description() {
      return "tells the date; input: a city";
    }

    @Override
    public String execute(String input, ToolContext context) {
      return "Monday";
    }
  }

  @Test
  void sftRlAndEvalRenderTheSamePrompt(@TempDir Path runs) throws Exception {
    ObjectMapper json = new ObjectMapper();
    // one plain question, and one verl row with its own system message and a few-shot turn
    String verlPrompt =
        "[{\"role\": \"system\", \"content\": \"You are terse.\"},"
            + " {\"role\": \"user\", \"content\": \"What is 1+1?\"},"
            + " {\"role\": \"assistant\", \"content\": \"<answer>\\\\boxed{2}</answer>\"},"
            + " {\"role\": \"user\", \"content\": \""
            + QUESTION
            + "\"}]";
    List<Question> questions =
        List.of(
            Question.fromRecord(
                json.readTree("{\"question\": \"" + QUESTION + "\", \"answers\": [\"4\"]}"), 1),
            Question.fromRecord(
                json.readTree(
                    "{\"data_source\": \"gsm8k\", \"prompt\": "
                        + verlPrompt
                        + ", \"reward_model\": {\"ground_truth\": \"4\"}}"),
                2));
    // the same questions as SFT traces: the prompt messages, then the answer
    Path sft = runs.resolve("sft.jsonl");
    String answer = "{\"role\": \"assistant\", \"content\": \"<answer>\\\\boxed{4}</answer>\"}";
    Files.writeString(
        sft,
        "{\"messages\": [{\"role\": \"user\", \"content\": \""
            + QUESTION
            + "\"}, "
            + answer
            + "]}\n"
            + "{\"messages\": "
            + verlPrompt.substring(0, verlPrompt.length() - 1)
            + ", "
            + answer
            + "]}\n");
    TrainerConfig config =
        TrainerConfig.load(
            List.of("tools.python=true"), // the CLI's defaults
            null,
            List.of(
                "runs_dir=" + runs,
                "run_name=one-prompt",
                "algo=grpo",
                "rollout.global_size=1",
                "rollout.max_response_tokens=2",
                "prompts_per_step=2",
                "ppo_mini_batch_prompts=2"));
    try (Trainer trainer = Trainer.builder(config).tool(new Calendar()).build()) {
      List<TrainingRow> rows = trainer.sftRows(sft);
      List<RolloutGroup> rl = trainer.rollout(questions);
      List<RolloutGroup> eval = trainer.evaluate(questions).groups();
      for (int i = 0; i < questions.size(); i++) {
        int[] sftPrompt = Arrays.copyOf(rows.get(i).tokens(), rows.get(i).responseStart());
        int[] rlPrompt = rl.get(i).prompt().tokens();
        String text = rl.get(i).prompt().text();
        assertArrayEquals(rlPrompt, sftPrompt, "SFT vs RL prompt of question " + i + ":\n" + text);
        assertArrayEquals(rlPrompt, eval.get(i).prompt().tokens(), "eval vs RL, question " + i);
        assertEquals(text, eval.get(i).prompt().text());
      }
      String plain = rl.get(0).prompt().text();
      assertTrue(
          plain.contains("- python: <python> input </python> \u2014 " + PythonTool.DESCRIPTION),
          plain);
      assertTrue(
          plain.contains("- calendar: <calendar> input </calendar> \u2014 tells the date"), plain);
      assertTrue(
          plain.endsWith("<|im_start|>user\n" + QUESTION + "<|im_end|>\n<|im_start|>assistant\n"),
          plain);
      // the verl row: its own system message, its few-shot turn and its question, in order
      assertEquals(
          "<|im_start|>system\nYou are terse.<|im_end|>\n"
              + "<|im_start|>user\nWhat is 1+1?<|im_end|>\n"
              + "<|im_start|>assistant\n<answer>\\boxed{2}</answer><|im_end|>\n"
              + "<|im_start|>user\n"
              + QUESTION
              + "<|im_end|>\n<|im_start|>assistant\n",
          rl.get(1).prompt().text());
    }
  }
}
