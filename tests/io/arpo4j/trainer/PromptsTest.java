package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.arpo4j.model.HfTokenizer;
import io.arpo4j.tools.TrajectoryFormat;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Questions become chat prompts through the model's real template, with a system message that
 * describes the registered tools; the expected texts are written out by hand from the Qwen2.5 and
 * Llama 3.1 prompt formats.
 */
class PromptsTest {
  static final TrajectoryFormat CALENDAR =
      new TrajectoryFormat(
          List.of("calendar", "python"), Map.of("calendar", "tells the date; input: a city"));
  static final String INSTRUCTIONS =
      "Think step by step inside <think> </think>. You can call a tool by writing its"
          + " input between its tags and then stopping; the tool's output comes back inside <result> </result>. Tools:\n"
          + "- calendar: <calendar> input </calendar> \u2014 tells the date; input: a city\n"
          + "- python: <python> input </python>\n"
          + "Give the final answer as <answer> \\boxed{...} </answer>.";
  static final Question QUESTION = new Question("q", "What day is it?", List.of("Monday"));

  /**
   * The embedded byte-level tokenizer with the chat template and special tokens of {@code model}.
   */
  static HfTokenizer tokenizer(String template, Map<String, String> special) throws Exception {
    ObjectMapper json = new ObjectMapper();
    ObjectNode config = json.createObjectNode();
    if (template != null) {
      config.put(
          "chat_template",
          Files.readString(Path.of("tests/fixtures/chat/templates/" + template + ".jinja")));
    }
    special.forEach(config::put);
    try (InputStream tok =
        PromptsTest.class.getResourceAsStream("/io/arpo4j/model/default/tokenizer.json")) {
      return HfTokenizer.fromBytes(tok.readAllBytes(), json.writeValueAsBytes(config));
    }
  }

  static TrainerConfig.Data data(String template, String format) {
    return new TrainerConfig.Data(null, null, template, format);
  }

  @Test
  void instructionsDescribeTheRegisteredTools() {
    assertEquals(INSTRUCTIONS, CALENDAR.instructions());
    assertEquals(
        "Think step by step inside <think> </think>. Give the final answer as <answer> \\boxed{...} </answer>.",
        TrajectoryFormat.of().instructions());
  }

  @Test
  void qwenChatPrompt() throws Exception {
    try (HfTokenizer tok =
        tokenizer("qwen2_5", Map.of("eos_token", "<|im_end|>", "pad_token", "<|endoftext|>"))) {
      Prompts prompts = Prompts.of(data(null, "auto"), tok, CALENDAR);
      assertEquals(Prompts.Format.CHAT, prompts.format());
      String expected =
          "<|im_start|>system\n"
              + INSTRUCTIONS
              + "<|im_end|>\n"
              + "<|im_start|>user\nWhat day is it?<|im_end|>\n<|im_start|>assistant\n";
      assertEquals(expected, prompts.text(QUESTION));
      assertArrayEquals(tok.encode(expected), prompts.prompt(QUESTION, Integer.MAX_VALUE).tokens());
      assertEquals(List.of("Monday"), prompts.prompt(QUESTION, Integer.MAX_VALUE).references());
      // a dataset's own system message replaces the generated one
      assertEquals(
          "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
          prompts.text(
              List.of(
                  Map.of("role", "system", "content", "Be brief."),
                  Map.of("role", "user", "content", "Hi"))));
    }
  }

  @Test
  void llamaChatPromptStartsWithBos() throws Exception {
    try (HfTokenizer tok =
        tokenizer(
            "llama3_1", Map.of("bos_token", "<|begin_of_text|>", "eos_token", "<|eot_id|>"))) {
      Prompts prompts = Prompts.of(data(null, "chat"), tok, CALENDAR);
      assertEquals(
          "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
              + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
              + INSTRUCTIONS
              + "<|eot_id|>"
              + "<|start_header_id|>user<|end_header_id|>\n\nWhat day is it?<|eot_id|>"
              + "<|start_header_id|>assistant<|end_header_id|>\n\n",
          prompts.text(QUESTION));
    }
  }

  @Test
  void aSetTemplateOrNoChatTemplateKeepsThePlainPrompt() throws Exception {
    try (HfTokenizer chat = tokenizer("qwen2_5", Map.of());
        HfTokenizer plain = tokenizer(null, Map.of())) {
      Prompts set = Prompts.of(data("Q: {question}\nA:", "auto"), chat, CALENDAR);
      assertEquals(Prompts.Format.TEMPLATE, set.format());
      assertEquals("Q: What day is it?\nA:", set.text(QUESTION));
      Prompts none = Prompts.of(data(null, "auto"), plain, CALENDAR);
      assertEquals(Prompts.Format.TEMPLATE, none.format());
      assertEquals("Question: What day is it?\nAnswer:", none.text(QUESTION));
      assertArrayEquals(
          plain.encode("Question: What day is it?\nAnswer:"),
          none.prompt(QUESTION, Integer.MAX_VALUE).tokens());
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> Prompts.of(data(null, "chat"), plain, CALENDAR));
      assertTrue(e.getMessage().startsWith("data.prompt_format is chat"), e.getMessage());
      // falling back (no chat template, no template set) is said in one line; choosing is not
      assertEquals(
          "the model's tokenizer has no chat template (no chat_template in tokenizer_config.json):"
              + " prompts use the plain template \"Question: {question}\\nAnswer:\", with no system"
              + " message and no tool list; set data.prompt_template to choose another",
          none.fallbackNote().orElseThrow());
      assertTrue(set.fallbackNote().isEmpty());
      assertTrue(Prompts.of(data(null, "template"), plain, CALENDAR).fallbackNote().isEmpty());
      assertTrue(Prompts.of(data(null, "auto"), chat, CALENDAR).fallbackNote().isEmpty());
    }
  }

  @Test
  void aPromptLongerThanTheModelsContextIsRefusedByTheQuestionsId() throws Exception {
    try (HfTokenizer tok = tokenizer(null, Map.of())) {
      Prompts prompts = Prompts.of(data(null, "auto"), tok, CALENDAR);
      int tokens = prompts.prompt(QUESTION, Integer.MAX_VALUE).tokens().length;
      assertEquals(tokens, prompts.prompt(QUESTION, tokens).tokens().length, "exactly fits");
      IllegalArgumentException over =
          assertThrows(IllegalArgumentException.class, () -> prompts.prompt(QUESTION, tokens - 1));
      assertEquals(
          "question 'q' is too long for the model: "
              + tokens
              + " tokens, more than max_position_embeddings = "
              + (tokens - 1)
              + " tokens",
          over.getMessage());

      // not even in the longest tokens: refused by its length, before it is encoded
      int context = 100;
      long fitsNot = 4L * tok.maxTokenChars() * (context + 1);
      Question huge = new Question("q7", "x".repeat((int) fitsNot), List.of("1"));
      String expected =
          "question 'q7' is too long for the model: "
              + fitsNot
              + " characters, more than fit in max_position_embeddings = 100 tokens";
      assertEquals(
          expected,
          assertThrows(
                  IllegalArgumentException.class, () -> Prompts.requireFits(huge, tok, context))
              .getMessage());
      assertEquals(
          expected,
          assertThrows(IllegalArgumentException.class, () -> prompts.prompt(huge, context))
              .getMessage());
      Question fits =
          new Question("q8", "x".repeat(4 * tok.maxTokenChars() * context), List.of("1"));
      Prompts.requireFits(fits, tok, context); // a lower bound: this one may still be too long
    }
  }

  @Test
  void theEmbeddedDemoConfigKeepsItsPlainPrompt() throws Exception {
    // the demo sets data.prompt_template; the embedded tokenizer has a chat template
    TrainerConfig demo =
        TrainerConfig.load(
            null,
            List.of("data.prompt_template=\"Use tools.\\nQuestion: {question}\\nAnswer:\\n\""));
    try (HfTokenizer tok = io.arpo4j.model.DefaultModel.tokenizer()) {
      assertTrue(tok.chatTemplate().isPresent());
      assertEquals(Prompts.Format.TEMPLATE, Prompts.of(demo.data(), tok, CALENDAR).format());
      assertEquals(
          Prompts.Format.CHAT,
          Prompts.of(TrainerConfig.defaultConfig().data(), tok, CALENDAR).format());
    }
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> TrainerConfig.load(null, List.of("data.prompt_format=jinja")));
    assertTrue(e.getMessage().startsWith("data.prompt_format must be one of"), e.getMessage());
  }
}
