package io.arpo4j.testing;

import io.arpo4j.model.TextCodec;

/** One token per character (its UTF-16 code): positions in the text are positions in the tokens. */
public final class CharCodec implements TextCodec {
  public static final CharCodec INSTANCE = new CharCodec();

  private CharCodec() {}

  @Override
  public int[] encode(String text) {
    return text.chars().toArray();
  }

  @Override
  public String decode(int[] ids) {
    StringBuilder s = new StringBuilder(ids.length);
    for (int id : ids) s.append((char) id);
    return s.toString();
  }
}
