package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.*;

import io.arpo4j.model.TextCodec;
import io.arpo4j.testing.CharCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SftDataTest {
  static final TextCodec CHARS = CharCodec.INSTANCE;

  @Test
  void toolResultsAreMaskedAndEosTrains() {
    String prompt = "Q: 2+3?\n";
    String response =
        "<python> print(2+3) </python> <result>\n5\n</result>\n<answer> \\boxed{5} </answer>";
    TrainingRow row = SftData.row(prompt, response, CHARS, 7);
    assertEquals(prompt.length(), row.responseStart());
    assertEquals(response.length() + 1, row.responseLength());
    String result = " <result>\n5\n</result>";
    int start = response.indexOf(result);
    for (int i = 0; i < response.length(); i++) {
      boolean inResult = i >= start && i < start + result.length();
      assertEquals(
          inResult ? 0f : 1f, row.mask()[i], "char " + i + " '" + response.charAt(i) + "'");
    }
    assertEquals(7, row.tokens()[row.tokens().length - 1]);
    assertEquals(1f, row.mask()[row.responseLength() - 1], "EOS is trained");
    assertEquals(
        prompt + response,
        CHARS.decode(java.util.Arrays.copyOf(row.tokens(), row.tokens().length - 1)));
  }

  static final java.util.function.Function<List<java.util.Map<String, Object>>, String> NO_CHAT =
      m -> {
        throw new AssertionError("no chat records here");
      };

  @Test
  void chatMessagesBecomeAPromptAndATraceWithMaskedToolTurns(@TempDir Path dir) throws Exception {
    String messages =
        "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"2+2?\"},"
            + " {\"role\": \"assistant\", \"content\": \"<python>print(2+2)</python>\"}, {\"role\": \"tool\", \"content\": \"4\"},"
            + " {\"role\": \"assistant\", \"content\": \"<answer>\\\\boxed{4}</answer>\"}]}";
    String expectedResponse =
        "<python>print(2+2)</python> <result>\n4\n</result><answer>\\boxed{4}</answer>";
    List<List<java.util.Map<String, Object>>> prompts = new java.util.ArrayList<>();
    java.util.function.Function<List<java.util.Map<String, Object>>, String> render =
        m -> {
          prompts.add(m);
          return "P|" + m.get(m.size() - 1).get("content") + "|";
        };
    for (String name : List.of("chat.jsonl", "chat.json")) {
      Path file = dir.resolve(name);
      Files.writeString(file, name.endsWith(".json") ? "[" + messages + "]" : messages + "\n");
      TrainingRow row = SftData.load(file, CHARS, 7, render).get(0);
      assertEquals(
          SftData.row("P|2+2?|", expectedResponse, CHARS, 7).tokens().length,
          row.tokens().length,
          name);
      assertEquals(
          "P|2+2?|" + expectedResponse,
          CHARS.decode(java.util.Arrays.copyOf(row.tokens(), row.tokens().length - 1)));
      int start = expectedResponse.indexOf(" <result>"),
          end = expectedResponse.indexOf("</result>") + 9;
      for (int i = 0; i < expectedResponse.length(); i++) {
        assertEquals(i >= start && i < end ? 0f : 1f, row.mask()[i], name + " char " + i);
      }
    }
    assertEquals(
        List.of("system", "user"), prompts.get(0).stream().map(m -> m.get("role")).toList());

    Path bad = dir.resolve("bad.jsonl");
    Files.writeString(
        bad,
        "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"tool\", \"content\": \"x\"}]}\n");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> SftData.load(bad, CHARS, 7, render));
    assertTrue(
        e.getMessage().contains("bad.jsonl:1") && e.getMessage().contains("tool message before"),
        e.getMessage());
  }

  @Test
  void filesLoadAndErrorsNameTheLine(@TempDir Path dir) throws Exception {
    Path sft = dir.resolve("sft.jsonl");
    Files.writeString(
        sft,
        "{\"prompt\": \"a\", \"response\": \"b\"}\n\n{\"prompt\": \"c\", \"response\": \"d\"}\n");
    assertEquals(2, SftData.load(sft, CHARS, 0, NO_CHAT).size());
    Path bad = dir.resolve("bad.jsonl");
    Files.writeString(bad, "{\"prompt\": \"a\", \"response\": \"b\"}\n{\"prompt\": 3}\n");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> SftData.load(bad, CHARS, 0, NO_CHAT));
    assertTrue(
        e.getMessage().contains("bad.jsonl:2") && e.getMessage().contains("\"response\""),
        e.getMessage());
    Path qs = dir.resolve("q.jsonl");
    Files.writeString(
        qs,
        "{\"question\": \"x?\", \"answers\": [\"1\", \"one\"]}\n{\"id\": \"k\", \"question\": \"y?\", \"answer\": 2}\n",
        StandardCharsets.UTF_8);
    List<Question> loaded = Question.load(qs);
    assertEquals(List.of("1", "one"), loaded.get(0).answers());
    assertEquals("k", loaded.get(1).id());
    assertEquals(List.of("2"), loaded.get(1).answers());
    Files.writeString(qs, "{\"question\": \"x?\"}\n");
    e = assertThrows(IllegalArgumentException.class, () -> Question.load(qs));
    assertTrue(
        e.getMessage().contains("q.jsonl:1") && e.getMessage().contains("no answers"),
        e.getMessage());
    Files.writeString(qs, "not json\n");
    e = assertThrows(IllegalArgumentException.class, () -> Question.load(qs));
    assertTrue(e.getMessage().contains("not JSON"), e.getMessage());
  }

  @Test
  void anOverLongExampleIsRejectedByLineBeforeItIsEncoded(@TempDir Path dir) throws Exception {
    int[] encoded = {0};
    TextCodec counting = countingCharCodec(encoded);
    String ok = "{\"prompt\": \"q\", \"response\": \"" + "a".repeat(90) + "\"}\n";
    Path file =
        Files.writeString(
            dir.resolve("long.jsonl"),
            ok + "{\"prompt\": \"q\", \"response\": \"" + "x".repeat(1_000_000) + "\"}\n");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> SftData.load(file, counting, 0, NO_CHAT, 100, 4096));
    assertTrue(
        e.getMessage().contains("long.jsonl:2: ")
            && e.getMessage().contains("micro_batch_tokens = 100"),
        e.getMessage());
    assertEquals(91, encoded[0], "only the first line was encoded");

    // between the character bound and the token budget: encoded, then rejected by its token count
    Path tight =
        Files.writeString(
            dir.resolve("tight.jsonl"),
            "{\"prompt\": \"q\", \"response\": \"" + "y".repeat(300) + "\"}\n");
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> SftData.load(tight, counting, 0, NO_CHAT, 100, 4096));
    assertTrue(e.getMessage().contains("302 tokens"), e.getMessage());
  }

  @Test
  void anExampleOverTheModelsContextByTokensIsRejectedAfterEncodingNamingTheContext(
      @TempDir Path dir) throws Exception {
    int[] encoded = {0};
    TextCodec counting = countingCharCodec(encoded);
    // prompt "q", a response of n characters and EOS: n + 2 tokens, one per character; by its
    // characters alone (n + 1 of them, at 4 per token at most) any of these could fit in 100
    String fits = "{\"prompt\": \"q\", \"response\": \"" + "a".repeat(98) + "\"}\n";
    String overByOne = "{\"prompt\": \"q\", \"response\": \"" + "b".repeat(99) + "\"}\n";
    Path exactly = Files.writeString(dir.resolve("exactly.jsonl"), fits);
    assertEquals(
        100, SftData.load(exactly, counting, 0, NO_CHAT, 4096, 100).get(0).tokens().length);

    Path file = Files.writeString(dir.resolve("context.jsonl"), fits + overByOne);
    encoded[0] = 0;
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> SftData.load(file, counting, 0, NO_CHAT, 4096, 100));
    assertTrue(e.getMessage().contains("context.jsonl:2: "), e.getMessage());
    assertTrue(
        e.getMessage()
            .endsWith(
                "the example has 101 tokens, more than max_position_embeddings = 100 tokens"
                    + " (the model's context)"),
        e.getMessage());
    assertEquals(99 + 100, encoded[0], "both lines were encoded: the second only by its tokens");

    // the smaller limit binds and is the one named
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> SftData.load(file, counting, 0, NO_CHAT, 100, 4096));
    assertTrue(
        e.getMessage()
            .endsWith(
                "101 tokens, more than micro_batch_tokens = 100 tokens"
                    + " (the most one forward pass holds)"),
        e.getMessage());

    // over the context even by its characters: rejected before it is encoded
    Path huge =
        Files.writeString(
            dir.resolve("huge.jsonl"),
            "{\"prompt\": \"q\", \"response\": \"" + "x".repeat(1_000) + "\"}\n");
    encoded[0] = 0;
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> SftData.load(huge, counting, 0, NO_CHAT, 1_000_000, 100));
    assertTrue(
        e.getMessage()
            .endsWith(
                "huge.jsonl:1: the example has 1001 characters, more than fit in"
                    + " max_position_embeddings = 100 tokens (the model's context)"),
        e.getMessage());
    assertEquals(0, encoded[0], "nothing was encoded");
  }

  /** The one-token-per-character codec, adding the characters it encodes to {@code encoded[0]}. */
  private static TextCodec countingCharCodec(int[] encoded) {
    return new TextCodec() {
      @Override
      public int[] encode(String text) {
        encoded[0] += text.length();
        return CHARS.encode(text);
      }

      @Override
      public String decode(int[] ids) {
        return CHARS.decode(ids);
      }

      @Override
      public int maxTokenChars() {
        return 1;
      }
    };
  }

  /**
   * An assistant turn's OpenAI-style {@code tool_calls} become calls in the trajectory format after
   * its content, exactly as the policy writes them, so the trace trains the call and masks its
   * result; before, they were dropped without a word (the model learned the result, not the call).
   */
  @Test
  void assistantToolCallsBecomeTrajectoryFormatCalls(@TempDir Path dir) throws Exception {
    String messages =
        "{\"messages\": [{\"role\": \"user\", \"content\": \"2+2?\"},"
            + " {\"role\": \"assistant\", \"content\": \"<think>add</think>\", \"tool_calls\": [{\"type\":"
            + " \"function\", \"function\": {\"name\": \"python\", \"arguments\": \"{\\\"code\\\":"
            + " \\\"print(2+2)\\\"}\"}}]},"
            + " {\"role\": \"tool\", \"content\": \"4\"},"
            + " {\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": [{\"function\": {\"name\":"
            + " \"search\", \"arguments\": {\"query\": \"four\"}}}]},"
            + " {\"role\": \"tool\", \"content\": \"4 is four\"},"
            + " {\"role\": \"assistant\", \"content\": \"<answer>\\\\boxed{4}</answer>\"}]}";
    Path file = dir.resolve("calls.jsonl");
    Files.writeString(file, messages + "\n");
    TrainingRow row = SftData.load(file, CHARS, 7, m -> "P|").get(0);
    String expectedResponse =
        "<think>add</think><python>print(2+2)</python> <result>\n4\n</result>"
            + "<search>four</search> <result>\n4 is four\n</result><answer>\\boxed{4}</answer>";
    TrainingRow expected = SftData.row("P|", expectedResponse, CHARS, 7);
    assertArrayEquals(expected.tokens(), row.tokens(), CHARS.decode(row.tokens()));
    assertArrayEquals(expected.mask(), row.mask());
  }

  /** A call that one input cannot hold is refused in one line naming the file and line. */
  @Test
  void toolCallsWithSeveralArgumentsAreRefusedWithTheirLine(@TempDir Path dir) throws Exception {
    String ok =
        "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\","
            + " \"content\": \"a\"}]}";
    String bad =
        "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\","
            + " \"content\": \"\", \"tool_calls\": [{\"function\": {\"name\": \"search\","
            + " \"arguments\": {\"query\": \"x\", \"top_k\": 3}}}]}]}";
    Path file = dir.resolve("bad.jsonl");
    Files.writeString(file, ok + "\n" + bad + "\n");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> SftData.load(file, CHARS, 7, m -> "P|"));
    assertTrue(
        e.getMessage().startsWith(file + ":2: assistant tool_calls: the call to 'search'"),
        e.getMessage());
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
  }

  /**
   * Few-shot turns before the last user message belong to the prompt, as in a rollout's prompt; the
   * response is what follows the last user message.
   */
  @Test
  void turnsBeforeTheLastUserMessageAreThePrompt(@TempDir Path dir) throws Exception {
    String messages =
        "{\"messages\": [{\"role\": \"user\", \"content\": \"1+1?\"}, {\"role\": \"assistant\","
            + " \"content\": \"2\"}, {\"role\": \"user\", \"content\": \"2+2?\"},"
            + " {\"role\": \"assistant\", \"content\": \"4\"}]}";
    Path file = dir.resolve("fewshot.jsonl");
    Files.writeString(file, messages + "\n");
    List<List<java.util.Map<String, Object>>> prompts = new java.util.ArrayList<>();
    TrainingRow row =
        SftData.load(
                file,
                CHARS,
                7,
                m -> {
                  prompts.add(m);
                  return "P|";
                })
            .get(0);
    assertEquals(
        List.of("user:1+1?", "assistant:2", "user:2+2?"),
        prompts.get(0).stream().map(m -> m.get("role") + ":" + m.get("content")).toList());
    assertArrayEquals(SftData.row("P|", "4", CHARS, 7).tokens(), row.tokens());
  }
}
