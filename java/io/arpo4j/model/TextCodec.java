package io.arpo4j.model;

/** Text to token ids and back (a tokenizer, without chat templating). */
public interface TextCodec {
  int[] encode(String text);

  String decode(int[] ids);

  /**
   * The most characters of text one token can stand for (the longest vocabulary entry), {@link
   * Integer#MAX_VALUE} when unknown: it bounds the token count from below ({@link #fewestTokens}).
   */
  default int maxTokenChars() {
    return Integer.MAX_VALUE;
  }

  /**
   * The fewest tokens that {@code chars} characters of text can encode to, known before encoding: a
   * text whose bound is over a token limit can be refused without tokenizing it (tokenizing
   * millions of characters takes memory without bound). Unicode normalisation may merge up to a few
   * characters into one, hence a quarter of {@code chars / maxTokenChars()}.
   */
  default long fewestTokens(long chars) {
    return chars / (4L * maxTokenChars());
  }
}
