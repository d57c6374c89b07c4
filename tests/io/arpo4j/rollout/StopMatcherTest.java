package io.arpo4j.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.arpo4j.model.TextCodec;
import io.arpo4j.tools.TrajectoryFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

class StopMatcherTest {
  /** A codec whose tokens are multi-character pieces, the way a BPE vocabulary splits tags. */
  private static final List<String> PIECES =
      List.of(
          "<",
          "/",
          "python",
          ">",
          "</",
          "search",
          "></python>\n",
          "x = 1",
          "</result>",
          ">\n\n",
          "ab");

  private static final TextCodec CODEC =
      new TextCodec() {
        @Override
        public int[] encode(String text) {
          throw new UnsupportedOperationException();
        }

        @Override
        public String decode(int[] ids) {
          StringBuilder s = new StringBuilder();
          for (int id : ids) {
            s.append(PIECES.get(id));
          }
          return s.toString();
        }
      };

  private static String feedAll(StopMatcher matcher, String... pieces) {
    StringBuilder tail = new StringBuilder();
    String found = null;
    for (String piece : pieces) {
      found = matcher.feed(tail, PIECES.indexOf(piece));
      if (found != null) {
        return found;
      }
    }
    return found;
  }

  @Test
  void findsStopStringsAcrossAndInsideTokens() {
    StopMatcher m = new StopMatcher(CODEC, TrajectoryFormat.of("python", "search"), PIECES.size());
    assertEquals("python", feedAll(m, "x = 1", "<", "/", "python", ">"));
    assertEquals("search", feedAll(m, "ab", "</", "search", ">\n\n"));
    // one token closing a tag and carrying a newline after it
    assertEquals("python", feedAll(m, "<", "python", "></python>\n"));
    // </result> and an unfinished tag are not stops
    assertNull(feedAll(m, "</result>", "ab", "</", "python"));
    // the tail is bounded but still joins a tag split over many short tokens
    assertEquals("python", feedAll(m, "ab", "ab", "ab", "ab", "ab", "</", "python", ">"));
  }
}
