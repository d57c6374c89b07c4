package io.arpo4j.model;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Python {@code str} and {@code dict} methods that HF chat templates call ({@code startswith},
 * {@code split}, {@code strip('\n')}, {@code items()}, ...), for Jinjava, which otherwise resolves
 * method calls against the Java classes ({@code String.split} takes a regex and drops trailing
 * empty strings; {@code Map} has no {@code items}). Placed before Jinjava's own resolver; it only
 * answers calls it implements and leaves everything else alone.
 */
final class PythonMethods extends ELResolver {

  @Override
  public Object invoke(
      ELContext context, Object base, Object method, Class<?>[] types, Object[] params) {
    if (method == null) {
      return null;
    }
    Object[] args = params == null ? new Object[0] : params;
    Object result = null;
    if (base instanceof String s) {
      result = stringMethod(s, method.toString(), args);
    } else if (base instanceof Map<?, ?> m) {
      result = mapMethod(m, method.toString(), args);
    }
    if (result != null) {
      context.setPropertyResolved(true);
    }
    return result;
  }

  private static Object stringMethod(String s, String name, Object[] a) {
    return switch (name) {
      case "startswith" -> a.length == 1 && a[0] != null ? s.startsWith(a[0].toString()) : null;
      case "endswith" -> a.length == 1 && a[0] != null ? s.endsWith(a[0].toString()) : null;
      case "strip" -> strip(s, chars(a), true, true);
      case "lstrip" -> strip(s, chars(a), true, false);
      case "rstrip" -> strip(s, chars(a), false, true);
      case "split" -> split(s, a);
      case "upper" -> a.length == 0 ? s.toUpperCase() : null;
      case "lower" -> a.length == 0 ? s.toLowerCase() : null;
      case "title" -> a.length == 0 ? title(s) : null;
      case "capitalize" -> a.length == 0 ? capitalize(s) : null;
      case "find" -> a.length == 1 && a[0] != null ? s.indexOf(a[0].toString()) : null;
      case "count" -> a.length == 1 && a[0] != null ? count(s, a[0].toString()) : null;
      case "join" -> a.length == 1 && a[0] instanceof Iterable<?> items ? join(s, items) : null;
      default -> null;
    };
  }

  private static Object mapMethod(Map<?, ?> m, String name, Object[] a) {
    return switch (name) {
      case "items" -> {
        if (a.length != 0) {
          yield null;
        }
        List<List<Object>> pairs = new ArrayList<>();
        m.forEach((k, v) -> pairs.add(Arrays.asList(k, v)));
        yield pairs;
      }
      case "keys" -> a.length == 0 ? new ArrayList<>(m.keySet()) : null;
      case "values" -> a.length == 0 ? new ArrayList<>(m.values()) : null;
      default -> null;
    };
  }

  /** Python's default strip set is whitespace; null means "use it". */
  private static String chars(Object[] a) {
    return a.length == 0 || a[0] == null ? null : a[0].toString();
  }

  static String strip(String s, String chars, boolean left, boolean right) {
    int begin = 0;
    int end = s.length();
    while (left && begin < end && strippable(s.charAt(begin), chars)) {
      begin++;
    }
    while (right && end > begin && strippable(s.charAt(end - 1), chars)) {
      end--;
    }
    return s.substring(begin, end);
  }

  private static boolean strippable(char c, String chars) {
    return chars == null ? Character.isWhitespace(c) : chars.indexOf(c) >= 0;
  }

  /**
   * str.split(sep=None, maxsplit=-1) with Python's semantics (keeps empty pieces for a given sep).
   */
  static List<String> split(String s, Object[] a) {
    String sep = a.length > 0 && a[0] != null ? a[0].toString() : null;
    int maxSplit = a.length > 1 && a[1] instanceof Number n ? n.intValue() : -1;
    List<String> out = new ArrayList<>();
    if (sep == null) {
      String rest = strip(s, null, true, false);
      while (!rest.isEmpty()) {
        if (maxSplit >= 0 && out.size() == maxSplit) {
          out.add(strip(rest, null, false, true));
          return out;
        }
        int i = 0;
        while (i < rest.length() && !Character.isWhitespace(rest.charAt(i))) {
          i++;
        }
        out.add(rest.substring(0, i));
        rest = strip(rest.substring(i), null, true, false);
      }
      return out;
    }
    if (sep.isEmpty()) {
      throw new IllegalArgumentException("empty separator");
    }
    int from = 0;
    int at;
    while ((maxSplit < 0 || out.size() < maxSplit) && (at = s.indexOf(sep, from)) >= 0) {
      out.add(s.substring(from, at));
      from = at + sep.length();
    }
    out.add(s.substring(from));
    return out;
  }

  private static String title(String s) {
    StringBuilder b = new StringBuilder(s.length());
    boolean previousLetter = false;
    for (char c : s.toCharArray()) {
      b.append(previousLetter ? Character.toLowerCase(c) : Character.toUpperCase(c));
      previousLetter = Character.isLetter(c);
    }
    return b.toString();
  }

  private static String capitalize(String s) {
    return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1).toLowerCase();
  }

  private static int count(String s, String sub) {
    if (sub.isEmpty()) {
      return s.length() + 1;
    }
    int n = 0;
    for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length())) {
      n++;
    }
    return n;
  }

  private static String join(String sep, Iterable<?> items) {
    StringBuilder b = new StringBuilder();
    Iterator<?> it = items.iterator();
    while (it.hasNext()) {
      b.append(it.next());
      if (it.hasNext()) {
        b.append(sep);
      }
    }
    return b.toString();
  }

  // Property access is left to Jinjava's resolvers.
  @Override
  public Object getValue(ELContext context, Object base, Object property) {
    return null;
  }

  @Override
  public Class<?> getType(ELContext context, Object base, Object property) {
    return null;
  }

  @Override
  public void setValue(ELContext context, Object base, Object property, Object value) {}

  @Override
  public boolean isReadOnly(ELContext context, Object base, Object property) {
    return true;
  }

  @Override
  public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
    return null;
  }

  @Override
  public Class<?> getCommonPropertyType(ELContext context, Object base) {
    return null;
  }
}
