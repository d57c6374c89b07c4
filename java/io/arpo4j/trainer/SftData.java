package io.arpo4j.trainer;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import io.arpo4j.model.TextCodec;
import io.arpo4j.tools.TrajectoryFormat;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Cold-start SFT data, one trace in the spec's format per record:
 *
 * <ul>
 *   <li>{@code {"prompt": ..., "response": ...}} (JSONL): the prompt text as given;
 *   <li>{@code {"messages": [{"role", "content"}, ...]}} (JSONL, or {@code .json}/{@code .parquet}
 *       read with DuckDB): the messages up to the last system or user message (few-shot turns
 *       included) are the prompt, rendered like a rollout's prompt ({@code data.prompt_format});
 *       the assistant turns after it are the model's text and each {@code tool} turn is the tool
 *       result the rollout would have appended ({@link TrajectoryFormat#wrapResult}). An assistant
 *       turn's {@code tool_calls} (OpenAI style: {@code {"function": {"name", "arguments"}}})
 *       become calls in the trajectory format after its content, {@code <name>input</name>}, as the
 *       policy writes them: the input is the arguments when they are a plain string, or their one
 *       field when they are an object of one string field; anything else is refused with its line.
 * </ul>
 *
 * Tool results ({@link TrajectoryFormat#resultSpans}) are tokenized as separate pieces, exactly as
 * the rollout appends them, and masked out of the loss; the model learns everything else, and the
 * end-of-sequence token after the response.
 */
public final class SftData {
  private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
      new com.fasterxml.jackson.databind.ObjectMapper();

  private SftData() {}

  /**
   * @param promptOf renders a record's prompt messages (up to its last system or user message) as
   *     prompt text
   */
  public static List<TrainingRow> load(
      Path file,
      TextCodec codec,
      int eosTokenId,
      Function<List<Map<String, Object>>, String> promptOf)
      throws IOException {
    return load(file, codec, eosTokenId, promptOf, Integer.MAX_VALUE, Integer.MAX_VALUE);
  }

  /**
   * As {@link #load(Path, TextCodec, int, Function)}, rejecting (with its line number) an example
   * of more tokens than the model's context ({@code contextTokens}, max_position_embeddings) or
   * than one forward pass holds ({@code microBatchTokens}), whichever is smaller: the message names
   * that limit. An example too long even for the codec's longest tokens ({@link
   * TextCodec#fewestTokens}) is rejected before it is encoded, so that memory stays bounded by the
   * limit, not by the line.
   */
  public static List<TrainingRow> load(
      Path file,
      TextCodec codec,
      int eosTokenId,
      Function<List<Map<String, Object>>, String> promptOf,
      int microBatchTokens,
      int contextTokens)
      throws IOException {
    TokenLimit limit =
        contextTokens <= microBatchTokens
            ? new TokenLimit("max_position_embeddings", contextTokens, "the model's context")
            : new TokenLimit(
                "micro_batch_tokens", microBatchTokens, "the most one forward pass holds");
    JsonLines.Parser<TrainingRow> parser =
        (node, lineNo) -> {
          Trace trace = parse(node, promptOf);
          long chars = (long) trace.prompt().length() + trace.response().length();
          if (codec.fewestTokens(chars) > limit.tokens())
            throw limit.exceeded(chars + " characters, more than fit in");
          TrainingRow row = row(trace.prompt(), trace.response(), codec, eosTokenId);
          if (row.tokens().length > limit.tokens())
            throw limit.exceeded(row.tokens().length + " tokens, more than");
          return row;
        };
    String name = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
    return name.endsWith(".jsonl")
        ? JsonLines.read(file, "SFT data", parser)
        : Datasets.read(file, "SFT data", parser);
  }

  /** The smaller of the limits on an example's tokens: its config key, value and meaning. */
  private record TokenLimit(String key, int tokens, String meaning) {
    IllegalArgumentException exceeded(String size) {
      return new IllegalArgumentException(
          "the example has " + size + " " + key + " = " + tokens + " tokens (" + meaning + ")");
    }
  }

  /** An example's text before encoding: its rendered prompt and the response the model learns. */
  private record Trace(String prompt, String response) {}

  private static Trace parse(JsonNode node, Function<List<Map<String, Object>>, String> promptOf) {
    if (node.path("messages").isArray()) {
      return fromMessages(node.get("messages"), promptOf);
    }
    if (!node.path("prompt").isTextual() || !node.path("response").isTextual()) {
      throw new IllegalArgumentException(
          "needs string fields \"prompt\" and \"response\", or a \"messages\" list");
    }
    return new Trace(node.get("prompt").asText(), node.get("response").asText());
  }

  private static Trace fromMessages(
      JsonNode messages, Function<List<Map<String, Object>>, String> promptOf) {
    int lastAsked = -1; // the last system or user message: the prompt ends there
    for (int i = 0; i < messages.size(); i++) {
      String role = messages.get(i).path("role").asText();
      if (role.equals("system") || role.equals("user")) lastAsked = i;
    }
    List<Map<String, Object>> prompt = new ArrayList<>();
    StringBuilder response = new StringBuilder();
    boolean answering = false;
    for (int i = 0; i < messages.size(); i++) {
      JsonNode m = messages.get(i);
      String role = m.path("role").asText();
      if (!List.of("system", "user", "assistant", "tool").contains(role))
        throw new IllegalArgumentException(
            "unknown role '" + role + "' (system, user, assistant, tool)");
      if (i <= lastAsked) { // earlier turns (few-shot examples, history) belong to the prompt
        prompt.add(JSON.convertValue(m, new TypeReference<Map<String, Object>>() {}));
        continue;
      }
      String content = m.path("content").isNull() ? "" : m.path("content").asText();
      if (role.equals("assistant")) {
        answering = true;
        response.append(content);
        JsonNode calls = m.path("tool_calls");
        if (calls.isArray()) {
          for (JsonNode call : calls) response.append(toolCall(call));
        } else if (!calls.isMissingNode() && !calls.isNull()) {
          throw new IllegalArgumentException("assistant \"tool_calls\" must be a list");
        }
      } else if (!answering) {
        throw new IllegalArgumentException("a tool message before the first assistant turn");
      } else {
        response.append(TrajectoryFormat.wrapResult(content));
      }
    }
    if (!answering)
      throw new IllegalArgumentException(
          "\"messages\" has no assistant turn after its last system or user message");
    return new Trace(promptOf.apply(prompt), response.toString());
  }

  /**
   * One OpenAI-style tool call, {@code {"function": {"name", "arguments"}}}, in the trajectory
   * format: {@code <name>input</name>}.
   */
  private static String toolCall(JsonNode call) {
    JsonNode function = call.has("function") ? call.get("function") : call;
    String name = function.path("name").asText("");
    try {
      TrajectoryFormat.checkTag(name);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("assistant tool_calls: " + e.getMessage());
    }
    JsonNode arguments = function.path("arguments");
    if (arguments.isTextual()) {
      try {
        JsonNode parsed = JSON.readTree(arguments.asText());
        if (parsed != null && parsed.isObject()) arguments = parsed;
      } catch (com.fasterxml.jackson.core.JsonProcessingException notJson) {
        // a plain string is the input itself
      }
    }
    String input;
    if (arguments.isTextual()) {
      input = arguments.asText();
    } else if (arguments.isObject()
        && arguments.size() == 1
        && arguments.elements().next().isTextual()) {
      input = arguments.elements().next().asText();
    } else {
      throw new IllegalArgumentException(
          "assistant tool_calls: the call to '"
              + name
              + "' has arguments "
              + arguments
              + "; a call in the trajectory format has one input (<"
              + name
              + ">input</"
              + name
              + ">): give a string or an object of one string field, or write the call into the"
              + " content");
    }
    return TrajectoryFormat.openTag(name) + input + TrajectoryFormat.closeTag(name);
  }

  /**
   * Prompt and response tokens; response pieces alternate model text (mask 1) and tool results
   * (mask 0).
   */
  public static TrainingRow row(String prompt, String response, TextCodec codec, int eosTokenId) {
    int[] promptIds = codec.encode(prompt);
    List<int[]> pieces = new ArrayList<>();
    List<Boolean> trains = new ArrayList<>();
    int at = 0;
    for (TrajectoryFormat.Span result : TrajectoryFormat.resultSpans(response)) {
      if (result.start() > at) {
        pieces.add(codec.encode(response.substring(at, result.start())));
        trains.add(true);
      }
      pieces.add(codec.encode(response.substring(result.start(), result.end())));
      trains.add(false);
      at = result.end();
    }
    if (at < response.length()) {
      pieces.add(codec.encode(response.substring(at)));
      trains.add(true);
    }
    pieces.add(new int[] {eosTokenId});
    trains.add(true);
    int n = pieces.stream().mapToInt(p -> p.length).sum();
    int[] tokens = new int[promptIds.length + n];
    float[] mask = new float[n];
    System.arraycopy(promptIds, 0, tokens, 0, promptIds.length);
    int k = 0;
    for (int i = 0; i < pieces.size(); i++) {
      for (int id : pieces.get(i)) {
        tokens[promptIds.length + k] = id;
        mask[k++] = trains.get(i) ? 1f : 0f;
      }
    }
    return TrainingRow.supervised(tokens, promptIds.length, mask);
  }
}
