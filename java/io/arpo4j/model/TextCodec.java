package io.arpo4j.model;

/** Text to token ids and back (a tokenizer, without chat templating). */
public interface TextCodec {
  int[] encode(String text);

  String decode(int[] ids);

  /**
   * The most characters of text one token can stand for (the longest vocabulary entry), so that
   * {@code text.length() / maxTokenChars()} bounds the token count from below before encoding;
   * {@link Integer#MAX_VALUE} when unknown.
   */
  default int maxTokenChars() {
    return Integer.MAX_VALUE;
  }
}
