package io.arpo4j.model;

import java.util.List;

/**
 * Detects stop strings in the text of tokens as they are generated, one token at a time. Only a
 * window of the most recent tokens is decoded per token, so the cost does not grow with the length
 * of the generation. Because generation stops at the first match, any occurrence in the window must
 * have just been completed: there is no need to remember earlier text.
 *
 * <p>The window ({@code 2 * longest stop + 16} tokens) is long enough because every token decodes
 * to at least one character of text, so a stop string of n characters spans at most n tokens; the
 * extra tokens absorb partial UTF-8 sequences at the window's start.
 */
public final class StopStringMatcher {

  private final TextCodec codec;
  private final List<String> stops;
  private final int window;
  private int[] tokens = new int[64];
  private int count;

  public StopStringMatcher(TextCodec codec, List<String> stopStrings) {
    for (String s : stopStrings) {
      if (s == null || s.isEmpty()) {
        throw new IllegalArgumentException("stop strings must be non-empty");
      }
    }
    this.codec = codec;
    this.stops = List.copyOf(stopStrings);
    this.window = 2 * stops.stream().mapToInt(String::length).max().orElse(0) + 16;
  }

  /** Adds one generated token; returns the stop string its text completed, or null. */
  public String accept(int token) {
    if (count == tokens.length) {
      tokens = java.util.Arrays.copyOf(tokens, count * 2);
    }
    tokens[count++] = token;
    if (stops.isEmpty()) {
      return null;
    }
    int from = Math.max(0, count - window);
    String text = codec.decode(java.util.Arrays.copyOfRange(tokens, from, count));
    String found = null;
    int foundAt = Integer.MAX_VALUE;
    for (String stop : stops) {
      int at = text.indexOf(stop);
      if (at >= 0 && at < foundAt) {
        found = stop;
        foundAt = at;
      }
    }
    return found;
  }
}
