package io.arpo4j.demo;

import io.arpo4j.tools.ToolCallParser;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds a response in the spec's trajectory format (ARPO.md §1):
 *
 * <pre>
 * &lt;think&gt; calculate &lt;/think&gt;
 * &lt;python&gt; print(37*91+12) &lt;/python&gt; &lt;result&gt;
 * 3379
 * &lt;/result&gt;
 * &lt;answer&gt; \boxed{3379} &lt;/answer&gt;
 * </pre>
 *
 * The text after each closing tool tag, {@code " <result>\n{text}\n</result>"} ({@link
 * ToolCallParser#formatResult}), is what the rollout appends after running the tool; {@link
 * #resultSpans} finds these inserts again.
 */
public final class DemoTrace {
  // the two ends of ToolCallParser.formatResult's text
  private static final String RESULT_OPEN = " <result>\n";
  private static final String RESULT_CLOSE = "\n</result>";

  /** The half-open char range {@code [start, end)} of one tool-result insert in a response. */
  public record Span(int start, int end) {}

  private final StringBuilder text = new StringBuilder();

  private DemoTrace(String thought) {
    text.append("<think> ").append(thought).append(" </think>");
  }

  /** A trace that continues independently from this one's text so far. */
  DemoTrace copy() {
    DemoTrace c = new DemoTrace("");
    c.text.setLength(0);
    c.text.append(text);
    return c;
  }

  /** Starts a response with a short thought. */
  static DemoTrace think(String thought) {
    return new DemoTrace(thought);
  }

  /** Appends a tool call and the tool's result, as the rollout would. */
  DemoTrace call(String tag, String input, String result) {
    text.append('\n').append('<').append(tag).append("> ").append(input)
        .append(" </").append(tag).append('>')
        .append(ToolCallParser.formatResult(result));
    return this;
  }

  /** Ends the response with the boxed answer. */
  String answer(String answer) {
    return text.append("\n<answer> \\boxed{").append(answer).append("} </answer>").toString();
  }

  /**
   * The spans of the tool-result inserts in {@code response}: each starts at {@code " <result>\n"}
   * and ends after the next {@code "\n</result>"}. These tokens are masked out of the SFT and RL
   * losses (ARPO.md §1). An unclosed {@code <result>} runs to the end of the response.
   */
  public static List<Span> resultSpans(String response) {
    List<Span> spans = new ArrayList<>();
    int from = 0;
    while (true) {
      int start = response.indexOf(RESULT_OPEN, from);
      if (start < 0) {
        return spans;
      }
      int close = response.indexOf(RESULT_CLOSE, start + RESULT_OPEN.length() - 1);
      int end = close < 0 ? response.length() : close + RESULT_CLOSE.length();
      spans.add(new Span(start, end));
      from = end;
    }
  }
}
