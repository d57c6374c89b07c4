package io.arpo4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Jinjava renders HF chat templates exactly as transformers (Jinja2) does, and fails where Jinja2
 * fails. The expected strings (or errors) in fixtures/chat/expected.json were rendered by Jinja2
 * 3.1.6 with transformers' settings (fixtures/chat/make_reference.py) from the real Qwen2.5, Qwen3
 * and Llama 3.1 templates (fixtures/chat/templates, provenance in its PROVENANCE.md).
 */
class ChatTemplateTest {

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (JsonNode c : Fixtures.json("chat/expected.json")) {
      out.add(Arguments.of(c.get("template").asText(), c.get("name").asText(), c));
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0}/{1}")
  @MethodSource("cases")
  void rendersLikeJinja2(String template, String name, JsonNode c) throws IOException {
    ChatTemplate chat = new ChatTemplate(templateSource(template));
    List<Map<String, Object>> messages =
        Fixtures.JSON.convertValue(c.get("messages"), new TypeReference<>() {});
    List<Map<String, Object>> tools =
        c.hasNonNull("tools")
            ? Fixtures.JSON.convertValue(c.get("tools"), new TypeReference<>() {})
            : null;
    Map<String, Object> variables =
        c.has("variables")
            ? Fixtures.JSON.convertValue(c.get("variables"), new TypeReference<>() {})
            : new java.util.HashMap<>();
    if (template.equals("llama3_1")) {
      variables.put("bos_token", "<|begin_of_text|>");
      variables.put("eos_token", "<|eot_id|>");
    } else {
      variables.put("eos_token", "<|im_end|>");
      variables.put("pad_token", "<|endoftext|>");
    }
    boolean generationPrompt = c.get("add_generation_prompt").asBoolean();
    if (c.has("error")) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> chat.render(messages, tools, generationPrompt, variables),
              "Jinja2 raised " + c.get("error").asText());
      assertTrue(e.getMessage().startsWith("chat template"), e.getMessage());
      return;
    }
    assertEquals(
        c.get("expected").asText(), chat.render(messages, tools, generationPrompt, variables));
  }

  @Test
  void raiseExceptionBecomesIllegalArgument() throws IOException {
    ChatTemplate chat = new ChatTemplate(templateSource("features"));
    List<Map<String, Object>> many = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      many.add(ChatTemplate.message("user", "Hi " + i));
    }
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                chat.render(
                    many, List.of(Map.of("function", Map.of("name", "x"))), false, Map.of()));
    assertTrue(e.getMessage().contains("too many"), e.getMessage());
  }

  @Test
  void keywordArgumentsAndReverseSliceAreRewritten() {
    assertEquals(
        " namespace(a=(xs|length - 1), b=(true)) ",
        ChatTemplate.adaptExpression(" namespace(a=xs|length - 1, b=true) "));
    assertEquals(
        " for m in messages|reverse ", ChatTemplate.adaptExpression(" for m in messages[::-1] "));
    assertEquals(
        " x == 1 and f('a=b', k=(1)) ", ChatTemplate.adaptExpression(" x == 1 and f('a=b', k=1) "));
  }

  static String templateSource(String name) throws IOException {
    return switch (name) {
      case "features" -> Files.readString(Fixtures.path("chat/features.jinja"));
      case "default" ->
          Fixtures.JSON
              .readTree(
                  ChatTemplateTest.class.getResourceAsStream(
                      "/io/arpo4j/model/default/tokenizer_config.json"))
              .get("chat_template")
              .asText();
      case "qwen2_5", "qwen3", "llama3_1" ->
          Files.readString(Fixtures.path("chat/templates/" + name + ".jinja"));
      default -> throw new IllegalArgumentException(name);
    };
  }
}
