package io.arpo4j.tools;

import java.util.Objects;

/**
 * One call the policy wrote: the tool's tag and the text between {@code <tag>} and {@code </tag>}.
 */
public record ToolCall(String tag, String input) {
  public ToolCall {
    Objects.requireNonNull(tag, "tag");
    Objects.requireNonNull(input, "input");
  }
}
