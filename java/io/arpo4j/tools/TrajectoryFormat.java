package io.arpo4j.tools;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The one owner of the trajectory format of the spec (ARPO.md §1), for a set of tool tags:
 *
 * <pre>
 * &lt;think&gt; ... &lt;/think&gt;
 * &lt;python&gt; print(37*91+12) &lt;/python&gt; &lt;result&gt;
 * 3379
 * &lt;/result&gt;
 * &lt;answer&gt; \boxed{3379} &lt;/answer&gt;
 * </pre>
 *
 * Generation stops at {@code </tag>} for each tool tag ({@link #stopStrings}); the call's input is
 * the content of the <b>last</b> {@code <tag>} before that close ({@link #toolInput}); the tool's
 * output, bounded ({@link #truncate}), or an error text, is appended as {@code "
 * <result>\n{text}\n</result>"} ({@link #wrapResult}) and masked out of the losses ({@link
 * #resultSpans}). The rollout, the tool executor, SFT data, the format reward and the report all
 * use this class, so a tag registered once is a tag everywhere.
 */
public final class TrajectoryFormat {
  // first: the constants below are built with it
  private static final Pattern TAG = Pattern.compile("[a-z][a-z0-9_-]*");

  /** Tags the format itself uses; no tool may take them. */
  public static final List<String> RESERVED_TAGS = List.of("think", "answer", "result");

  /** The tags of the tools built into arpo4j, for rewards and checks made without a registry. */
  public static final TrajectoryFormat BUILT_IN =
      new TrajectoryFormat(List.of("python", "search", "browse"));

  /** Default bound on a tool output's length, in chars. */
  public static final int DEFAULT_MAX_OUTPUT_CHARS = 16_384;

  private static final String RESULT_OPEN = " <result>\n";
  private static final String RESULT_CLOSE = "\n</result>";
  private static final String TRUNCATION_NOTE = "\n... [output truncated]";
  private static final int MAX_DETAIL_CHARS = 200;

  /** The half-open char range {@code [start, end)} of one tool-result insert in a response. */
  public record Span(int start, int end) {}

  private final List<String> tags;
  private final Map<String, String> descriptions;

  /**
   * @param tags the tool tags, each {@code [a-z][a-z0-9_-]*}, none reserved; may be empty (no
   *     tools)
   */
  public TrajectoryFormat(Collection<String> tags) {
    this(tags, Map.of());
  }

  /**
   * @param tags the tool tags, each {@code [a-z][a-z0-9_-]*}, none reserved; may be empty (no
   *     tools)
   * @param descriptions one line per tag saying what the tool does and what its input is, for the
   *     system prompt ({@link #instructions}); a tag without one is listed by its name only
   */
  public TrajectoryFormat(Collection<String> tags, Map<String, String> descriptions) {
    for (String tag : tags) {
      checkTag(tag);
    }
    if (tags.stream().distinct().count() != tags.size()) {
      throw new IllegalArgumentException("tool tags: duplicate tag in " + tags);
    }
    this.tags = List.copyOf(tags);
    Map<String, String> described = new LinkedHashMap<>();
    for (String tag : this.tags) {
      String line = descriptions.getOrDefault(tag, "");
      if (line == null || line.contains("\n")) {
        throw new IllegalArgumentException(
            "tool '" + tag + "': the description must be one line, got " + line);
      }
      described.put(tag, line.strip());
    }
    this.descriptions = java.util.Collections.unmodifiableMap(described);
  }

  /**
   * The system prompt that teaches this format: think, call the tools by their tags (one line each,
   * from the tools' descriptions), read results, answer in a box. Chat-formatted prompts put it in
   * the system message.
   */
  public String instructions() {
    StringBuilder s = new StringBuilder("Think step by step inside <think> </think>.");
    if (!tags.isEmpty()) {
      s.append(
          " You can call a tool by writing its input between its tags and then stopping;"
              + " the tool's output comes back inside <result> </result>. Tools:");
      for (String tag : tags) {
        s.append("\n- ")
            .append(tag)
            .append(": ")
            .append(openTag(tag))
            .append(" input ")
            .append(closeTag(tag));
        String line = descriptions.get(tag);
        if (!line.isEmpty()) {
          s.append(" \u2014 ").append(line);
        }
      }
      s.append('\n');
    } else {
      s.append(' ');
    }
    return s.append("Give the final answer as <answer> \\boxed{...} </answer>.").toString();
  }

  /** The one-line description of each tag's tool ("" when it has none). */
  public Map<String, String> descriptions() {
    return descriptions;
  }

  public static TrajectoryFormat of(String... tags) {
    return new TrajectoryFormat(List.of(tags));
  }

  /** Throws a one-line error unless {@code tag} can name a tool. */
  public static void checkTag(String tag) {
    if (tag == null || !TAG.matcher(tag).matches()) {
      throw new IllegalArgumentException(
          "tool tag '" + tag + "' is not a tag name ([a-z][a-z0-9_-]*)");
    }
    if (RESERVED_TAGS.contains(tag)) {
      throw new IllegalArgumentException(
          "tool tag '" + tag + "' is reserved by the trajectory format");
    }
  }

  /** The tool tags, in registration order. */
  public List<String> tags() {
    return tags;
  }

  /** The stop strings that end a generation segment at a tool call: {@code </tag>} per tag. */
  public List<String> stopStrings() {
    return tags.stream().map(TrajectoryFormat::closeTag).toList();
  }

  public static String openTag(String tag) {
    return "<" + tag + ">";
  }

  public static String closeTag(String tag) {
    return "</" + tag + ">";
  }

  /**
   * The call that {@code text} ends with, or empty when it does not end (trailing whitespace aside)
   * with a tool's closing tag. A closing tag without an opening tag gives an empty input, which the
   * executor answers with an error text.
   */
  public Optional<ToolCall> callAtEnd(String text) {
    String body = text.stripTrailing();
    for (String tag : tags) {
      if (body.endsWith(closeTag(tag))) {
        // the segment after the previous close of this tag: its first close is the final one
        String close = closeTag(tag);
        int previous = body.lastIndexOf(close, body.length() - close.length() - 1);
        String segment = previous < 0 ? body : body.substring(previous + close.length());
        return Optional.of(new ToolCall(tag, toolInput(segment, tag).orElse("")));
      }
    }
    return Optional.empty();
  }

  /**
   * The tool input of a segment that stopped at {@code </tag>}: the content of the last {@code
   * <tag>} that ends before the first {@code </tag>}, trimmed (as the reference's {@code rindex});
   * empty when the segment has no such pair.
   */
  public static Optional<String> toolInput(String segment, String tag) {
    String open = openTag(tag);
    int close = segment.indexOf(closeTag(tag));
    int start = close < open.length() ? -1 : segment.lastIndexOf(open, close - open.length());
    return start < 0
        ? Optional.empty()
        : Optional.of(segment.substring(start + open.length(), close).strip());
  }

  /** The text appended to the trajectory after a call: {@code " <result>\n{text}\n</result>"}. */
  public static String wrapResult(String text) {
    return RESULT_OPEN + text + RESULT_CLOSE;
  }

  /**
   * The spans of the tool-result inserts in {@code response}: each starts at {@code " <result>\n"}
   * and ends after the next {@code "\n</result>"}. These tokens are masked out of the SFT and RL
   * losses (ARPO.md §1). An unclosed insert (cut by the length limit) runs to the end.
   */
  public static List<Span> resultSpans(String response) {
    List<Span> spans = new ArrayList<>();
    int from = 0;
    while (true) {
      int start = response.indexOf(RESULT_OPEN, from);
      if (start < 0) {
        return spans;
      }
      // the close's newline may be the open's own when the output is empty
      int close = response.indexOf(RESULT_CLOSE, start + RESULT_OPEN.length() - 1);
      int end = close < 0 ? response.length() : close + RESULT_CLOSE.length();
      spans.add(new Span(start, end));
      from = end;
    }
  }

  /**
   * {@code response} with the text between each {@code <result>} and its {@code </result>} removed:
   * tool output is not model text, so tags inside it (a fetched page holding {@code <answer>}) must
   * not count as the model's.
   */
  public static String withoutToolOutput(String response) {
    StringBuilder out = new StringBuilder(response.length());
    int from = 0;
    while (true) {
      int start = response.indexOf("<result>", from);
      int end = start < 0 ? -1 : response.indexOf("</result>", start + 8);
      if (end < 0) {
        return out.append(response, from, response.length()).toString();
      }
      out.append(response, from, start + 8);
      from = end;
    }
  }

  /** Whether the model itself closed a {@code tag} call somewhere in {@code response}. */
  public static boolean called(String response, String tag) {
    return withoutToolOutput(response).contains(closeTag(tag));
  }

  /**
   * {@code text} cut to {@code maxChars} (never inside a surrogate pair) with a truncation note.
   */
  public static String truncate(String text, int maxChars) {
    if (text.length() <= maxChars) {
      return text;
    }
    int cut = maxChars;
    if (Character.isHighSurrogate(text.charAt(cut - 1))) {
      cut--;
    }
    return text.substring(0, cut) + TRUNCATION_NOTE;
  }

  // The error texts the model sees inside <result> when a call goes wrong.

  public static String unknownToolError(String tag, List<String> available) {
    return "Error: unknown tool '"
        + clip(tag)
        + "'. Available tools: "
        + String.join(", ", available)
        + ".";
  }

  public static String emptyInputError(String tag) {
    return "Error: empty input for tool '" + tag + "'.";
  }

  public static String noOpeningTagError(String tag) {
    return "Error: no " + openTag(tag) + " tag before " + closeTag(tag) + ".";
  }

  public static String emptyOutputError(String tag) {
    return "Error: Tool(" + tag + ") returned empty output.";
  }

  public static String timeoutError(String tag, Duration timeout) {
    String after =
        timeout.toMillis() % 1000 == 0 ? timeout.toSeconds() + " s" : timeout.toMillis() + " ms";
    return "Error: Tool(" + tag + ") timed out after " + after + ".";
  }

  public static String cancelledError(String tag) {
    return "Error: Tool(" + tag + ") was cancelled.";
  }

  public static String interruptedError(String tag) {
    return "Error: Tool(" + tag + ") was interrupted.";
  }

  /**
   * A call that failed with {@code error}: its class and the first line of its message, clipped.
   */
  public static String failedError(String tag, Throwable error) {
    String message = error.getMessage();
    String detail =
        message == null || message.isBlank()
            ? error.getClass().getSimpleName()
            : error.getClass().getSimpleName()
                + ": "
                + message.strip().lines().findFirst().orElse("");
    return "Error: Tool(" + tag + ") failed: " + clip(detail);
  }

  /** A tool that failed without saying why. */
  public static String failedError(String tag) {
    return "Error: Tool(" + tag + ") failed.";
  }

  private static String clip(String s) {
    return s.length() <= MAX_DETAIL_CHARS ? s : s.substring(0, MAX_DETAIL_CHARS) + "...";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TrajectoryFormat other
        && other.tags.equals(tags)
        && other.descriptions.equals(descriptions);
  }

  @Override
  public int hashCode() {
    return tags.hashCode() * 31 + descriptions.hashCode();
  }

  @Override
  public String toString() {
    return "TrajectoryFormat" + tags;
  }
}
