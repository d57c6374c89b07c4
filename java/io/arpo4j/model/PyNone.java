package io.arpo4j.model;

import com.hubspot.jinjava.objects.serialization.PyishSerializable;
import com.hubspot.jinjava.util.HasObjectTruthValue;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Python's None inside the data a chat template sees (a message's {@code "content": null}). Jinjava
 * has no such value: a null there would be "undefined", printed as nothing and joined to strings as
 * "null". Jinja2 prints None as {@code None}, treats it as false and as defined, and raises on
 * {@code "text" + None} and {@code "x" in None}; this value does the same. The raise: it is a
 * {@link CharSequence} whose every use as text throws, because that is the path Jinjava's {@code +}
 * and {@code in} take; its truth value (false) and printed form ({@code None}) come from Jinjava's
 * own hooks, which are checked first.
 */
final class PyNone implements HasObjectTruthValue, PyishSerializable, CharSequence {
  static final PyNone NONE = new PyNone();
  static final String TEXT = "None";
  static final String MISUSE = "a None value (a null in the messages) is used as a string";

  private PyNone() {}

  /** A deep copy of maps and lists with every null value replaced by {@link #NONE}. */
  @SuppressWarnings("unchecked")
  static <T> T wrapNulls(T value) {
    if (value instanceof Map<?, ?> map) {
      Map<Object, Object> copy = new LinkedHashMap<>();
      map.forEach((k, v) -> copy.put(k, v == null ? NONE : wrapNulls(v)));
      return (T) copy;
    }
    if (value instanceof List<?> list) {
      List<Object> copy = new ArrayList<>(list.size());
      list.forEach(v -> copy.add(v == null ? NONE : wrapNulls(v)));
      return (T) copy;
    }
    return value;
  }

  @Override
  public boolean getObjectTruthValue() {
    return false;
  }

  @Override
  public <T extends Appendable & CharSequence> T appendPyishString(T appendable)
      throws IOException {
    appendable.append(TEXT);
    return appendable;
  }

  /** Jinja2 raises where a template uses None as a string; so does this. */
  @Override
  public String toString() {
    throw usedAsText();
  }

  @Override
  public int length() {
    throw usedAsText();
  }

  @Override
  public char charAt(int index) {
    throw usedAsText();
  }

  @Override
  public CharSequence subSequence(int start, int end) {
    throw usedAsText();
  }

  private static IllegalArgumentException usedAsText() {
    return new IllegalArgumentException(MISUSE);
  }
}
