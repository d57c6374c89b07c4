package io.arpo4j.demo;

import io.arpo4j.tools.TrajectoryFormat;

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
 * TrajectoryFormat#wrapResult}), is what the rollout appends after running the tool; {@link
 * TrajectoryFormat#resultSpans} finds these inserts again.
 */
public final class DemoTrace {
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
    text.append('\n')
        .append('<')
        .append(tag)
        .append("> ")
        .append(input)
        .append(" </")
        .append(tag)
        .append('>')
        .append(TrajectoryFormat.wrapResult(result));
    return this;
  }

  /** Ends the response with the boxed answer. */
  String answer(String answer) {
    return text.append("\n<answer> \\boxed{").append(answer).append("} </answer>").toString();
  }
}
