package io.arpo4j.trainer;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.model.ChatTemplate;
import io.arpo4j.reward.Reward;
import io.arpo4j.reward.ScoringInput;
import io.arpo4j.rollout.Trajectory;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A question for RL or evaluation. Read from JSONL lines {@code {"id"?, "question": ..., "answers":
 * [...]}} (or {@code "answer"}), or from a verl/ARPO dataset row ({@link Datasets}): a chat {@code
 * prompt} (system, few-shot and user messages, all shown to the model; the last user message is the
 * question), {@code reward_model.ground_truth} (a string or a list), {@code data_source} and {@code
 * extra_info}. A row whose {@code prompt} is a list of messages is read in the verl layout even
 * when it also has a {@code question} column, which is then not used ({@link #load} says so once).
 *
 * @param question the question text: the last user message of a chat prompt
 * @param dataSource where the question comes from (verl's {@code data_source}, e.g. {@code gsm8k},
 *     {@code hotpotqa}); picks the reward under {@code reward.kind: auto}; null when not given
 * @param extraInfo the row's other fields ({@code extra_info}), for custom rewards; never null
 * @param messages the prompt as chat messages ({@code role}, {@code content}, ...), in order: a
 *     verl row's whole {@code prompt}, or one user message holding {@code question}
 */
public record Question(
    String id,
    String question,
    List<String> answers,
    String dataSource,
    Map<String, Object> extraInfo,
    List<Map<String, Object>> messages) {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final System.Logger LOG = System.getLogger(Question.class.getName());

  public Question {
    if (question == null || question.isBlank())
      throw new IllegalArgumentException("question must not be empty");
    if (answers == null || answers.isEmpty())
      throw new IllegalArgumentException("question '" + question + "' has no answers");
    answers = List.copyOf(answers);
    extraInfo =
        extraInfo == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(extraInfo));
    if (messages == null || messages.isEmpty()) {
      messages = List.of(ChatTemplate.message("user", question));
    } else {
      List<Map<String, Object>> copy = new ArrayList<>();
      for (Map<String, Object> m : messages)
        copy.add(Collections.unmodifiableMap(new LinkedHashMap<>(m)));
      messages = List.copyOf(copy);
    }
  }

  /** A question asked as one user message. */
  public Question(
      String id,
      String question,
      List<String> answers,
      String dataSource,
      Map<String, Object> extraInfo) {
    this(id, question, answers, dataSource, extraInfo, null);
  }

  public Question(String id, String question, List<String> answers) {
    this(id, question, answers, null, Map.of());
  }

  /** The characters of all message contents: what bounds the prompt's length before encoding. */
  long messagesChars() {
    long chars = 0;
    for (Map<String, Object> m : messages) {
      Object content = m.get("content");
      if (content != null) chars += content.toString().length();
    }
    return chars;
  }

  /**
   * What a {@link Reward} scores: trajectory {@code t} of this question, asked as {@code prompt}.
   */
  public ScoringInput scoringInput(String prompt, Trajectory t) {
    return new ScoringInput(id, question, prompt, answers, dataSource, extraInfo, t);
  }

  /**
   * Questions from {@code .jsonl} (either layout, one per line), {@code .json} or {@code .parquet}
   * (verl layout).
   */
  public static List<Question> load(Path file) throws IOException {
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    boolean[] both = {false};
    JsonLines.Parser<Question> parser =
        (n, row) -> {
          if (n.has("question") && n.path("prompt").isArray()) both[0] = true;
          return fromRecord(n, row);
        };
    List<Question> questions =
        name.endsWith(".jsonl")
            ? JsonLines.read(file, "question", parser)
            : Datasets.read(file, "question", parser);
    if (both[0]) {
      LOG.log(
          Level.WARNING,
          "{0}: rows have both \"question\" and a \"prompt\" message list: read in the verl layout"
              + " (prompt, reward_model.ground_truth); the question column is not used",
          file);
    }
    return questions;
  }

  /**
   * One record in either layout; {@code row} numbers it (from 1) for the default id. A {@code
   * prompt} that is a list of messages makes it a verl row.
   */
  static Question fromRecord(JsonNode n, int row) {
    if (!n.has("question") && (n.has("response") || n.has("messages"))) {
      throw new IllegalArgumentException(
          "this is SFT data (\"prompt\"/\"response\" or \"messages\"), not questions: use it with"
              + " 'arpo4j sft --data'; train, eval and rollout take {\"question\", \"answers\"} or"
              + " verl rows");
    }
    String id = n.path("id").isValueNode() ? n.get("id").asText() : null;
    if (!n.has("prompt") || (n.has("question") && !n.path("prompt").isArray())) {
      List<String> answers = new ArrayList<>();
      JsonNode a = n.path("answers");
      if (a.isArray()) a.forEach(x -> answers.add(x.asText()));
      else if (n.path("answer").isValueNode()) answers.add(n.get("answer").asText());
      return new Question(
          id != null ? id : "q" + row,
          n.path("question").asText(null),
          answers,
          textOrNull(n.get("data_source")),
          extraInfo(n));
    }
    JsonNode prompt = n.get("prompt");
    if (!prompt.isArray() || prompt.isEmpty()) {
      throw new IllegalArgumentException(
          "\"prompt\" must be a list of chat messages {role, content}");
    }
    List<Map<String, Object>> messages = new ArrayList<>();
    String question = null;
    for (JsonNode message : prompt) {
      if (!message.isObject() || !message.path("role").isTextual())
        throw new IllegalArgumentException(
            "\"prompt\" must be a list of chat messages {role, content}, got " + message);
      if (message.path("role").asText().equals("user"))
        question = message.path("content").asText(null);
      messages.add(JSON.convertValue(message, new TypeReference<Map<String, Object>>() {}));
    }
    if (question == null) throw new IllegalArgumentException("\"prompt\" has no user message");
    JsonNode truth = n.path("reward_model").path("ground_truth");
    List<String> answers = new ArrayList<>();
    if (truth.isArray()) {
      truth.forEach(x -> answers.add(x.asText()));
    } else if (truth.isValueNode() && !truth.isNull()) {
      answers.add(truth.asText());
    } else {
      throw new IllegalArgumentException(
          "needs \"reward_model\": {\"ground_truth\": a string or a list}");
    }
    Map<String, Object> extra = extraInfo(n);
    if (id == null && extra.get("index") != null) id = String.valueOf(extra.get("index"));
    return new Question(
        id != null ? id : "q" + row,
        question,
        answers,
        textOrNull(n.get("data_source")),
        extra,
        messages);
  }

  private static String textOrNull(JsonNode node) {
    return node == null || node.isNull() ? null : node.asText();
  }

  private static Map<String, Object> extraInfo(JsonNode n) {
    JsonNode extra = n.get("extra_info");
    return extra == null || !extra.isObject()
        ? Map.of()
        : JSON.convertValue(extra, new TypeReference<>() {});
  }
}
