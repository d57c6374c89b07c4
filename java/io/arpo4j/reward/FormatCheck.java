package io.arpo4j.reward;

import io.arpo4j.tools.TrajectoryFormat;
import java.util.Optional;

/**
 * The format rules of the ARPO reference reward ({@code deep_research.py}, {@code
 * validate_format}):
 *
 * <ul>
 *   <li>{@code <think>} and {@code </think>} appear equally often, at least once;
 *   <li>{@code <answer>} and {@code </answer>} appear exactly once each, in that order;
 *   <li>every {@code <tag>} of a tool is followed by its {@code </tag>}, then {@code <result>},
 *       then {@code </result>} (the reference checks {@code python} and {@code search}; here every
 *       tag of the {@link TrajectoryFormat}: the registered tools, or the built-in ones by
 *       default);
 *   <li>the answer holds a complete {@code \boxed{...}}.
 * </ul>
 *
 * <p>One difference: the text inside {@code <result>…</result>} is tool output, not model text, so
 * it is ignored when counting tags (a fetched web page containing {@code <answer>} does not break
 * the format). The reference counts tags over the whole response.
 */
public final class FormatCheck {
  /** The outcome: valid, or the first rule broken. */
  public record Result(boolean valid, String reason) {
    static final Result OK = new Result(true, "format is correct");

    static Result bad(String reason) {
      return new Result(false, reason);
    }
  }

  private final TrajectoryFormat format;

  /** Checks the built-in tools' calls (python, search, browse). */
  public FormatCheck() {
    this(TrajectoryFormat.BUILT_IN);
  }

  /** Checks the calls of the tools tagged {@code toolTags}. */
  public FormatCheck(java.util.Collection<String> toolTags) {
    this(new TrajectoryFormat(toolTags));
  }

  /** Checks the calls of {@code format}'s tools: pass the registry's format when training. */
  public FormatCheck(TrajectoryFormat format) {
    this.format = format;
  }

  public Result check(String response) {
    String text = TrajectoryFormat.withoutToolOutput(response);
    int thinkOpen = count(text, "<think>");
    if (thinkOpen != count(text, "</think>")) {
      return Result.bad("<think> </think> not paired");
    }
    if (thinkOpen == 0) {
      return Result.bad("<think> or </think> not found");
    }
    if (count(text, "<answer>") != 1 || count(text, "</answer>") != 1) {
      return Result.bad("<answer> or </answer> not found");
    }
    for (String tag : format.tags()) {
      Result calls = checkCalls(text, tag);
      if (!calls.valid()) {
        return calls;
      }
    }
    int answerStart = text.indexOf("<answer>");
    int answerEnd = text.indexOf("</answer>");
    if (answerStart > answerEnd) {
      return Result.bad("<answer> must be before </answer>");
    }
    if (BoxedAnswer.last(text.substring(answerStart, answerEnd)).isEmpty()) {
      return Result.bad("answer is missing \\boxed{} format");
    }
    return Result.OK;
  }

  /** The last box inside the answer of a well-formatted response. */
  public Optional<String> answer(String response) {
    if (!check(response).valid()) {
      return Optional.empty();
    }
    String text = TrajectoryFormat.withoutToolOutput(response);
    return BoxedAnswer.last(
        text.substring(text.indexOf("<answer>") + 8, text.indexOf("</answer>")));
  }

  private static Result checkCalls(String text, String tag) {
    String open = "<" + tag + ">";
    String close = "</" + tag + ">";
    int from = 0;
    while (true) {
      int callStart = text.indexOf(open, from);
      if (callStart < 0) {
        return Result.OK;
      }
      int callEnd = text.indexOf(close, callStart);
      int resultStart = text.indexOf("<result>", callStart);
      int resultEnd = resultStart < 0 ? -1 : text.indexOf("</result>", resultStart);
      if (callEnd < 0 || resultStart < 0 || resultEnd < 0) {
        return Result.bad(tag + "/result tags are incomplete");
      }
      if (!(callEnd < resultStart)) {
        return Result.bad(tag + "/result tags are nested in the wrong order");
      }
      from = resultEnd;
    }
  }

  private static int count(String text, String needle) {
    int n = 0;
    for (int at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length())) {
      n++;
    }
    return n;
  }
}
