package io.arpo4j.reward;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * SQuAD answer normalisation, as the official v1.1 script's {@code normalize_answer}: lowercase,
 * drop ASCII punctuation, replace the articles a/an/the by spaces, collapse whitespace.
 *
 * <p>"Whitespace" and "word character" follow Python's {@code str.split()} and {@code re}'s {@code
 * \b}, not Java's: the no-break spaces (U+00A0, U+2007, U+202F), U+0085 and the separators
 * U+001C–U+001F split tokens there, so they do here.
 */
public final class SquadNormalization {
  private static final String PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

  private SquadNormalization() {}

  public static String normalize(String s) {
    String lower = s.toLowerCase(Locale.ROOT);
    StringBuilder noPunctuation = new StringBuilder(lower.length());
    for (int i = 0; i < lower.length(); i++) {
      char c = lower.charAt(i);
      if (PUNCTUATION.indexOf(c) < 0) {
        noPunctuation.append(c);
      }
    }
    return String.join(" ", tokens(withoutArticles(noPunctuation.toString())));
  }

  /** The tokens of {@code s} split at Python whitespace, as {@code str.split()} gives them. */
  static List<String> tokens(String s) {
    List<String> tokens = new ArrayList<>();
    int start = -1;
    for (int i = 0; i < s.length(); ) {
      int cp = s.codePointAt(i);
      if (isPythonWhitespace(cp)) {
        if (start >= 0) {
          tokens.add(s.substring(start, i));
          start = -1;
        }
      } else if (start < 0) {
        start = i;
      }
      i += Character.charCount(cp);
    }
    if (start >= 0) {
      tokens.add(s.substring(start));
    }
    return tokens;
  }

  /** Python's {@code str.isspace()}: Unicode Zs/Zl/Zp, and bidi classes WS, B, S. */
  static boolean isPythonWhitespace(int cp) {
    return Character.isWhitespace(cp) || Character.isSpaceChar(cp) || cp == 0x85;
  }

  /** {@code re.sub(r'\b(a|an|the)\b', ' ', s)}: whole words a, an, the become one space. */
  private static String withoutArticles(String s) {
    StringBuilder out = new StringBuilder(s.length());
    int i = 0;
    while (i < s.length()) {
      int cp = s.codePointAt(i);
      if (!isPythonWordChar(cp)) {
        out.appendCodePoint(cp);
        i += Character.charCount(cp);
        continue;
      }
      int end = i;
      while (end < s.length() && isPythonWordChar(s.codePointAt(end))) {
        end += Character.charCount(s.codePointAt(end));
      }
      String word = s.substring(i, end);
      out.append(word.equals("a") || word.equals("an") || word.equals("the") ? " " : word);
      i = end;
    }
    return out.toString();
  }

  /** Python's {@code \w} on str patterns: {@code str.isalnum()} or the underscore. */
  private static boolean isPythonWordChar(int cp) {
    if (cp == '_' || Character.isLetter(cp)) {
      return true;
    }
    int type = Character.getType(cp);
    return type == Character.DECIMAL_DIGIT_NUMBER
        || type == Character.LETTER_NUMBER
        || type == Character.OTHER_NUMBER;
  }
}
