package io.arpo4j.reward;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Extracts {@code \boxed{...}} answers. Braces nest ({@code \boxed{\frac{1}{2}}} gives {@code
 * \frac{1}{2}}); escaped braces {@code \{ \}} do not count. {@code \fbox{...}} is read the same
 * way, and {@code \boxed 5} (a space, then one token) as in the reference's "\boxed " form.
 */
public final class BoxedAnswer {
  private static final String[] COMMANDS = {"\\boxed", "\\fbox"};

  private BoxedAnswer() {}

  /**
   * The content of the last box in {@code text}; empty when there is none, or when the last one is
   * not closed (as in the reference, an earlier complete box does not stand in for it).
   */
  public static Optional<String> last(String text) {
    int start = lastCommand(text, text.length());
    return start < 0 ? Optional.empty() : contentAt(text, start);
  }

  /** The contents of every complete box, in order. */
  public static List<String> all(String text) {
    List<String> found = new ArrayList<>();
    int from = 0;
    while (true) {
      int start = nextCommand(text, from);
      if (start < 0) {
        return found;
      }
      contentAt(text, start).ifPresent(found::add);
      from = start + 1;
    }
  }

  /** Start of the last box command beginning before {@code end}, or -1. */
  private static int lastCommand(String text, int end) {
    int best = -1;
    for (String command : COMMANDS) {
      int at = end;
      while ((at = text.lastIndexOf(command, at - 1)) >= 0) {
        if (isBoxStart(text, at, command)) {
          best = Math.max(best, at);
          break;
        }
      }
    }
    return best;
  }

  private static int nextCommand(String text, int from) {
    int best = -1;
    for (String command : COMMANDS) {
      int at = from - 1;
      while ((at = text.indexOf(command, at + 1)) >= 0) {
        if (isBoxStart(text, at, command)) {
          best = best < 0 ? at : Math.min(best, at);
          break;
        }
      }
    }
    return best;
  }

  /** A command followed by a brace or a space (not, say, {@code \boxedtext}). */
  private static boolean isBoxStart(String text, int at, String command) {
    int after = at + command.length();
    return after < text.length() && (text.charAt(after) == '{' || text.charAt(after) == ' ');
  }

  private static Optional<String> contentAt(String text, int start) {
    int i = text.charAt(start + 1) == 'b' ? start + "\\boxed".length() : start + "\\fbox".length();
    int afterSpaces = i;
    while (afterSpaces < text.length() && text.charAt(afterSpaces) == ' ') {
      afterSpaces++;
    }
    if (afterSpaces < text.length() && text.charAt(afterSpaces) == '{') {
      i = afterSpaces;
    } else {
      // "\boxed 5": one token, up to whitespace or '$'
      int end = afterSpaces;
      while (end < text.length()
          && !Character.isWhitespace(text.charAt(end))
          && text.charAt(end) != '$') {
        end++;
      }
      return end > afterSpaces ? Optional.of(text.substring(afterSpaces, end)) : Optional.empty();
    }
    int depth = 0;
    for (int j = i; j < text.length(); j++) {
      char c = text.charAt(j);
      if (c == '\\') {
        j++; // an escaped character, braces included
      } else if (c == '{') {
        depth++;
      } else if (c == '}' && --depth == 0) {
        return Optional.of(text.substring(i + 1, j));
      }
    }
    return Optional.empty();
  }
}
