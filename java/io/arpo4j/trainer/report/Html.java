package io.arpo4j.trainer.report;

import java.util.Locale;

/** Escaping and number formatting shared by the report's parts. */
final class Html {
  private Html() {}

  /** {@code text} safe inside an element or a quoted attribute, in HTML and inline SVG. */
  static String escape(String text) {
    StringBuilder s = new StringBuilder(text.length() + 16);
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '&' -> s.append("&amp;");
        case '<' -> s.append("&lt;");
        case '>' -> s.append("&gt;");
        case '"' -> s.append("&quot;");
        case '\'' -> s.append("&#39;");
        default -> s.append(c);
      }
    }
    return s.toString();
  }

  /** {@code value} with {@code decimals} decimals, or an en dash when it is not a number. */
  static String fixed(double value, int decimals) {
    return Double.isFinite(value)
        ? String.format(Locale.ROOT, "%." + decimals + "f", value)
        : "\u2013";
  }

  /** {@code value} with an explicit sign, e.g. "+0.120". */
  static String signed(double value, int decimals) {
    return Double.isFinite(value)
        ? String.format(Locale.ROOT, "%+." + decimals + "f", value)
        : "\u2013";
  }
}
