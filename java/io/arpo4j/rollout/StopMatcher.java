package io.arpo4j.rollout;

import io.arpo4j.model.TextCodec;
import io.arpo4j.tools.TrajectoryFormat;
import java.util.List;

/**
 * Finds the tool stop strings of a {@link TrajectoryFormat} ({@code </python>}, ...) in a path's
 * token stream.
 *
 * <p>Decoding a path's whole segment after every token would cost O(length) per token, so each
 * token's text is decoded once (cached per id) and a path keeps only the last few characters of its
 * current segment. Decoding a token on its own is exact for what we look for: stop strings are
 * ASCII, and an ASCII byte decodes to the same character in or out of context (a token that is only
 * part of a multi-byte character decodes to a replacement character, which no stop string
 * contains).
 */
final class StopMatcher {
  private final TextCodec codec;
  private final List<String> tags;
  private final List<String> stops;
  private final int keep;
  private final String[] tokenText;

  StopMatcher(TextCodec codec, TrajectoryFormat format, int vocabSize) {
    this.codec = codec;
    this.tags = format.tags();
    this.stops = format.stopStrings();
    // A stop string completed by the next token starts at most (longest - 1) characters back.
    this.keep = Math.max(0, stops.stream().mapToInt(String::length).max().orElse(1) - 1);
    this.tokenText = new String[vocabSize];
  }

  /**
   * Feeds one generated token into a path's segment tail. Returns the tag whose stop string the
   * token completed (the earliest one in the text), or null. {@code tail} is updated in place.
   */
  String feed(StringBuilder tail, int token) {
    tail.append(text(token));
    String found = null;
    int at = Integer.MAX_VALUE;
    for (int i = 0; i < stops.size(); i++) {
      int index = tail.indexOf(stops.get(i));
      if (index >= 0 && index < at) {
        at = index;
        found = tags.get(i);
      }
    }
    if (tail.length() > keep) {
      tail.delete(0, tail.length() - keep);
    }
    return found;
  }

  private String text(int token) {
    if (token < 0 || token >= tokenText.length) {
      throw new IllegalStateException(
          "policy sampled token " + token + " outside its vocabulary of " + tokenText.length);
    }
    String text = tokenText[token];
    if (text == null) {
      text = codec.decode(new int[] {token});
      tokenText[token] = text;
    }
    return text;
  }
}
