package io.arpo4j.trainer;

import io.arpo4j.model.ChatTemplate;
import io.arpo4j.model.HfTokenizer;
import io.arpo4j.rollout.Prompt;
import io.arpo4j.tools.TrajectoryFormat;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How a question becomes the prompt the policy continues ({@code data.prompt_format}):
 *
 * <ul>
 *   <li>{@code template}: {@code data.prompt_template} with {@code {question}} filled in, tokenized
 *       as the tokenizer does by itself (its post-processor adds BOS where the model wants one);
 *   <li>{@code chat}: the model's chat template over a system message that describes the registered
 *       tools and the answer format ({@link TrajectoryFormat#instructions}) and the question as the
 *       user message, with the generation prompt: the response starts right after it. The template
 *       writes its own special tokens (BOS for Llama);
 *   <li>{@code auto} (the default): {@code chat} when the tokenizer has a chat template and {@code
 *       data.prompt_template} is not set, else {@code template}. The embedded demo model sets its
 *       plain template, so it keeps its plain prompt. A model without a chat template and no {@code
 *       data.prompt_template} falls back to {@link #DEFAULT_TEMPLATE}, which lists no tools: {@link
 *       #fallbackNote()} says so, and the trainer logs it once.
 * </ul>
 *
 * A question's prompt is its whole message list ({@link Question#messages()}: a verl row's system,
 * few-shot and user turns); in chat format it goes through the chat template as it is, after this
 * run's system message unless it brings its own; the template format can hold only one question,
 * the last user message.
 */
public final class Prompts {
  /** The plain prompt when {@code data.prompt_template} is not set. */
  public static final String DEFAULT_TEMPLATE = "Question: {question}\nAnswer:";

  public static final List<String> FORMATS = List.of("auto", "template", "chat");

  public enum Format {
    TEMPLATE,
    CHAT
  }

  private final Format format;
  private final String template;
  private final HfTokenizer tokenizer;
  private final String system;
  private final String fallbackNote;

  private Prompts(
      Format format, String template, HfTokenizer tokenizer, String system, String fallbackNote) {
    this.format = format;
    this.template = template;
    this.tokenizer = tokenizer;
    this.system = system;
    this.fallbackNote = fallbackNote;
  }

  /**
   * The prompts of {@code data} for a model with {@code tokenizer} and the tools of {@code tools}.
   */
  public static Prompts of(TrainerConfig.Data data, HfTokenizer tokenizer, TrajectoryFormat tools) {
    String chosen = data.promptFormat();
    boolean hasChat = tokenizer.chatTemplate().isPresent();
    Format format =
        switch (chosen) {
          case "template" -> Format.TEMPLATE;
          case "chat" -> {
            if (!hasChat) {
              throw new IllegalArgumentException(
                  "data.prompt_format is chat but the model's tokenizer_config.json has no chat_template");
            }
            yield Format.CHAT;
          }
          case "auto" -> hasChat && data.promptTemplate() == null ? Format.CHAT : Format.TEMPLATE;
          default ->
              throw new IllegalArgumentException(
                  "data.prompt_format must be one of " + FORMATS + ", got '" + chosen + "'");
        };
    String template = data.promptTemplate() != null ? data.promptTemplate() : DEFAULT_TEMPLATE;
    String note =
        chosen.equals("auto") && !hasChat && data.promptTemplate() == null
            ? "the model's tokenizer has no chat template (no chat_template in "
                + HfTokenizer.CONFIG_FILE
                + "): prompts use the plain template "
                + quoted(DEFAULT_TEMPLATE)
                + ", with no system message and no tool list; set data.prompt_template to choose"
                + " another"
            : null;
    return new Prompts(format, template, tokenizer, tools.instructions(), note);
  }

  private static String quoted(String text) {
    return '"' + text.replace("\n", "\\n") + '"';
  }

  public Format format() {
    return format;
  }

  /**
   * One line saying that the model has no chat template and what is used instead ({@link
   * #DEFAULT_TEMPLATE}, no tool list); empty when the format was chosen, not fallen back to.
   */
  public Optional<String> fallbackNote() {
    return Optional.ofNullable(fallbackNote);
  }

  /** The prompt text of {@code question}: its whole message list ({@link #text(List)}). */
  public String text(Question question) {
    return text(question.messages());
  }

  /**
   * The prompt text of a conversation's opening messages (a dataset's chat prompt): in chat format
   * the messages through the chat template, after this run's system message unless they bring their
   * own, with the generation prompt; in template format the template filled with the last user
   * message.
   */
  public String text(List<Map<String, Object>> messages) {
    if (format == Format.TEMPLATE) {
      Object question = null;
      for (Map<String, Object> m : messages) {
        if ("user".equals(m.get("role"))) question = m.get("content");
      }
      if (question == null)
        throw new IllegalArgumentException("the prompt messages have no user message");
      return template.replace("{question}", question.toString());
    }
    List<Map<String, Object>> conversation = new ArrayList<>();
    if (messages.isEmpty() || !"system".equals(messages.get(0).get("role"))) {
      conversation.add(ChatTemplate.message("system", system));
    }
    conversation.addAll(messages);
    return tokenizer.applyChatTemplate(conversation, null, true, Map.of());
  }

  /**
   * The rollout prompt of {@code question}: its tokens, text and reference answers.
   *
   * @param contextTokens the model's context (max_position_embeddings): a longer prompt is refused
   *     by the question's id, and one too long even for the longest tokens before it is encoded
   *     (tokenizing and prefilling millions of tokens takes memory and time without bound)
   */
  public Prompt prompt(Question question, int contextTokens) {
    requireFits(question, tokenizer, contextTokens);
    String text = text(question);
    if (tokenizer.fewestTokens(text.length()) > contextTokens)
      throw tooLong(question, text.length() + " characters, more than fit in", contextTokens);
    int[] tokens =
        format == Format.TEMPLATE
            ? tokenizer.encodeWithSpecialTokens(text)
            : tokenizer.encode(text);
    if (tokens.length > contextTokens)
      throw tooLong(question, tokens.length + " tokens, more than", contextTokens);
    return new Prompt(tokens, text, question.answers());
  }

  /**
   * Refuses {@code question} if its text alone cannot fit in {@code contextTokens} even in the
   * longest tokens of {@code tokenizer} ({@link io.arpo4j.model.TextCodec#fewestTokens}): a check
   * by length, before anything is encoded, for all of a run's questions at once.
   */
  public static void requireFits(Question question, HfTokenizer tokenizer, int contextTokens) {
    long chars = question.messagesChars();
    if (tokenizer.fewestTokens(chars) > contextTokens)
      throw tooLong(question, chars + " characters, more than fit in", contextTokens);
  }

  private static IllegalArgumentException tooLong(
      Question question, String size, int contextTokens) {
    return new IllegalArgumentException(
        "question '"
            + question.id()
            + "' is too long for the model: "
            + size
            + " max_position_embeddings = "
            + contextTokens
            + " tokens");
  }
}
