package io.arpo4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The real Qwen3 tokenizer (fetched by scripts/fetch-qwen3-tokenizer.sh; skipped with a message
 * when absent). Ids checked here are the published ones of the Qwen2/Qwen3 vocabulary.
 */
class Qwen3TokenizerTest {
  private static HfTokenizer tok;

  @BeforeAll
  static void load() throws Exception {
    Path dir = Qwen3Tokenizer.directory();
    tok = dir == null ? null : HfTokenizer.load(dir);
  }

  @BeforeEach
  void requireTokenizer() {
    Assumptions.assumeTrue(tok != null, Qwen3Tokenizer.ABSENT);
  }

  @AfterAll
  static void close() {
    if (tok != null) {
      tok.close();
    }
  }

  @Test
  void knownIdsAndSpecialTokens() {
    assertArrayEquals(new int[] {9707, 1879}, tok.encode("Hello world"));
    assertEquals(151643, tok.tokenId("<|endoftext|>").getAsInt());
    assertEquals(151644, tok.tokenId("<|im_start|>").getAsInt());
    assertEquals(151645, tok.tokenId("<|im_end|>").getAsInt());
    assertEquals(151667, tok.tokenId("<think>").getAsInt());
    assertEquals(151668, tok.tokenId("</think>").getAsInt());
    assertEquals(151645, tok.eosTokenId().getAsInt());
    assertEquals(151669, tok.vocabSize());
  }

  @Test
  void encodeDecodeRoundTrips() {
    List<String> texts =
        List.of(
            "Hello, world! 你好，世界。 Здравствуй, мир! 😀🚀",
            "def f(x):\n    return x ** 2  # square\n\n\tprint(f(3))",
            "  leading spaces, trailing spaces   ",
            "<think>\nLet me compute 37*91+12.\n</think>\n<python>print(37*91+12)</python>",
            "café naïve résumé — “quotes” and ‘apostrophes’ … 3.14159e-10",
            "");
    for (String text : texts) {
      int[] ids = tok.encode(text);
      assertEquals(text, tok.decode(ids, false), "round trip of " + text);
    }
    int[] chat = tok.encode("<|im_start|>user\nhi<|im_end|>");
    assertEquals(151644, chat[0]);
    assertEquals(151645, chat[chat.length - 1]);
    assertEquals("user\nhi", tok.decode(chat));
  }

  @Test
  void chatTemplateWithAndWithoutTools() {
    List<Map<String, Object>> messages =
        List.of(
            ChatTemplate.message("system", "You are helpful."),
            ChatTemplate.message("user", "What is 37*91+12?"));
    String plain = tok.applyChatTemplate(messages, null, true, Map.of());
    assertEquals(
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nWhat is 37*91+12?<|im_end|>\n"
            + "<|im_start|>assistant\n",
        plain);
    String noThinking =
        tok.applyChatTemplate(messages, null, true, Map.of("enable_thinking", false));
    assertTrue(noThinking.endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n"), noThinking);

    List<Map<String, Object>> tools =
        List.of(
            ordered(
                "type",
                "function",
                "function",
                ordered("name", "python", "description", "Run code")));
    String withTools = tok.applyChatTemplate(messages, tools, true, Map.of());
    assertTrue(
        withTools.startsWith("<|im_start|>system\nYou are helpful.\n\n# Tools\n"), withTools);
    assertTrue(
        withTools.contains(
            "<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"python\", "
                + "\"description\": \"Run code\"}}\n</tools>"),
        withTools);
    int[] ids = tok.encode(withTools);
    assertEquals(withTools, tok.decode(ids, false));
  }

  /** A map that keeps insertion order (tojson writes keys in map order, like Python dicts). */
  private static Map<String, Object> ordered(Object... keyValues) {
    Map<String, Object> m = new java.util.LinkedHashMap<>();
    for (int i = 0; i < keyValues.length; i += 2) {
      m.put((String) keyValues[i], keyValues[i + 1]);
    }
    return m;
  }
}
