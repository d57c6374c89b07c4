package io.arpo4j.model;

import java.math.BigDecimal;
import java.util.Map;

/**
 * JSON text exactly as Python's {@code json.dumps(x, ensure_ascii=False, indent=...)} writes it,
 * which is what transformers' {@code tojson} filter produces inside chat templates: ", " and ": "
 * separators (or "," and ": " with an indent), non-ASCII kept, Python float formatting.
 */
final class PythonJson {

  private PythonJson() {}

  /**
   * @param indent null for one line; otherwise spaces per nesting level
   */
  static String dumps(Object value, Integer indent) {
    StringBuilder out = new StringBuilder();
    write(out, value, indent, 0);
    return out.toString();
  }

  private static void write(StringBuilder out, Object v, Integer indent, int depth) {
    if (v == null || v == PyNone.NONE) {
      out.append("null");
    } else if (v instanceof Boolean b) {
      out.append(b ? "true" : "false");
    } else if (v instanceof Double || v instanceof Float) {
      out.append(pythonFloat(((Number) v).doubleValue()));
    } else if (v instanceof BigDecimal d) {
      out.append(pythonFloat(d.doubleValue()));
    } else if (v instanceof Number n) {
      out.append(n.toString());
    } else if (v instanceof Map<?, ?> map) {
      writeContainer(
          out,
          '{',
          '}',
          map.entrySet(),
          indent,
          depth,
          (e, d) -> {
            Map.Entry<?, ?> entry = (Map.Entry<?, ?>) e;
            writeString(out, String.valueOf(entry.getKey()));
            out.append(": ");
            write(out, entry.getValue(), indent, d);
          });
    } else if (v instanceof Iterable<?> items) {
      writeContainer(out, '[', ']', items, indent, depth, (e, d) -> write(out, e, indent, d));
    } else if (v instanceof Object[] array) {
      writeContainer(
          out,
          '[',
          ']',
          java.util.Arrays.asList(array),
          indent,
          depth,
          (e, d) -> write(out, e, indent, d));
    } else {
      writeString(out, v.toString());
    }
  }

  private interface ElementWriter {
    void write(Object element, int depth);
  }

  private static void writeContainer(
      StringBuilder out,
      char open,
      char close,
      Iterable<?> items,
      Integer indent,
      int depth,
      ElementWriter element) {
    out.append(open);
    boolean first = true;
    for (Object item : items) {
      if (!first) {
        out.append(indent == null ? ", " : ",");
      }
      if (indent != null) {
        out.append('\n').append(" ".repeat(indent * (depth + 1)));
      }
      element.write(item, depth + 1);
      first = false;
    }
    if (indent != null && !first) {
      out.append('\n').append(" ".repeat(indent * depth));
    }
    out.append(close);
  }

  private static void writeString(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }

  /**
   * Python's repr of a float: shortest round-trip digits, exponent form below 1e-4 or from 1e16.
   */
  static String pythonFloat(double d) {
    if (Double.isNaN(d)) {
      return "NaN";
    }
    if (Double.isInfinite(d)) {
      return d > 0 ? "Infinity" : "-Infinity";
    }
    if (d == 0) {
      return (1 / d < 0) ? "-0.0" : "0.0";
    }
    BigDecimal exact = new BigDecimal(Double.toString(d)).stripTrailingZeros();
    String digits = exact.unscaledValue().abs().toString();
    int exponent = digits.length() - 1 - exact.scale(); // d = 0.digits * 10^(exponent+1)
    String sign = d < 0 ? "-" : "";
    if (exponent < -4 || exponent >= 16) {
      String mantissa =
          digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
      return sign
          + mantissa
          + "e"
          + (exponent < 0 ? "-" : "+")
          + String.format("%02d", Math.abs(exponent));
    }
    String plain = exact.abs().toPlainString();
    return sign + (plain.contains(".") ? plain : plain + ".0");
  }
}
