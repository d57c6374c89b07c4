package io.arpo4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HfTokenizerTest {

  /** Every case of fixtures/tokenizers/qwen2-bpe-small/cases.json (made by HF tokenizers). */
  @Test
  void qwen2SmallMatchesHfTokenizersExactly() throws Exception {
    JsonNode cases = Fixtures.json("tokenizers/qwen2-bpe-small/cases.json").get("cases");
    try (HfTokenizer tok = HfTokenizer.load(Fixtures.path("tokenizers/qwen2-bpe-small"))) {
      assertTrue(cases.size() >= 10);
      for (JsonNode c : cases) {
        String text = c.get("text").asText();
        int[] expected = Fixtures.JSON.treeToValue(c.get("ids"), int[].class);
        assertArrayEquals(expected, tok.encode(text), "ids of " + text);
        assertEquals(c.get("decoded").asText(), tok.decode(expected), "decoded " + text);
      }
      // special tokens are kept on request
      int[] ids = tok.encode("x<|im_end|>y");
      assertEquals("x<|im_end|>y", tok.decode(ids, false));
      assertEquals(1, tok.tokenId("<|im_end|>").getAsInt());
    }
  }

  @Test
  void defaultTokenizerIsByteLevelWithTagsAsSingleTokens() throws Exception {
    try (HfTokenizer tok = DefaultModel.tokenizer()) {
      String text = "héllo 東京 😀\n\tend";
      int[] ids = tok.encode(text);
      byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
      assertEquals(utf8.length, ids.length);
      for (int i = 0; i < utf8.length; i++) {
        assertEquals(utf8[i] & 0xff, ids[i], "token " + i + " is byte " + i);
      }
      assertEquals(text, tok.decode(ids));
      for (String tag :
          List.of(
              "<think>",
              "</think>",
              "<python>",
              "</python>",
              "<search>",
              "</search>",
              "<result>",
              "</result>",
              "<answer>",
              "</answer>",
              "<|im_start|>",
              "<|im_end|>",
              "<|endoftext|>")) {
        int id = tok.tokenId(tag).getAsInt();
        assertTrue(id >= 256, tag);
        assertArrayEquals(new int[] {'a', id, 'b'}, tok.encode("a" + tag + "b"), tag);
      }
      int[] tagged = tok.encode("<think>x</think><|im_end|>");
      assertEquals("<think>x</think>", tok.decode(tagged)); // tags are text, im_end is special
      assertEquals(258, tok.eosTokenId().getAsInt());
      assertEquals(java.util.Set.of(256, 257, 258), tok.specialTokenIds());
      assertEquals(269, tok.vocabSize());
    }
  }

  @Test
  void chatTemplateOfTheDefaultTokenizerRendersSpecialTokensAsSingleIds() throws Exception {
    try (HfTokenizer tok = DefaultModel.tokenizer()) {
      String prompt =
          tok.applyChatTemplate(
              List.of(ChatTemplate.message("user", "2+2?")), null, true, Map.of());
      assertEquals("<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n", prompt);
      int[] ids = tok.encode(prompt);
      assertEquals(257, ids[0]);
      assertEquals(prompt, tok.decode(ids, false));
    }
  }

  @Test
  void badInputsFailClearly() throws Exception {
    try (HfTokenizer tok = DefaultModel.tokenizer()) {
      assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {-1}));
      assertThrows(IllegalArgumentException.class, () -> tok.encode(null));
    }
    assertThrows(
        IllegalArgumentException.class,
        () -> HfTokenizer.fromBytes("{not json".getBytes(StandardCharsets.UTF_8), null));
  }
}
