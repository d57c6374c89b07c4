package io.arpo4j.tools.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class SearchToolTest {
  @Test
  void formatsNumberedPagesWithTitleLines() {
    List<SearchHit> hits =
        List.of(
            new SearchHit("a", "First  title", "Some\n text   here.", 2.0),
            new SearchHit("b", "", "Untitled snippet.", 1.0));
    assertEquals(
        "Page 1: First title\nSome text here.\nPage 2: Untitled snippet.",
        SearchTool.format(hits, 100));
  }

  @Test
  void noHitsIsTheReferenceText() {
    assertEquals("No search results found.", SearchTool.format(List.of(), 100));
  }

  @Test
  void snippetsAreCutAtAWordBoundaryNearTheLimit() {
    assertEquals("alpha beta gamma", SearchTool.snippet("alpha beta gamma delta", 20));
    assertEquals("alpha beta gamma delta", SearchTool.snippet("alpha beta gamma delta", 22));
    // no space close to the limit: hard cut
    assertEquals("abcdefghij", SearchTool.snippet("abcdefghijklmnop qr", 10));
  }

  @Test
  void rejectsBadSettings() {
    SearchBackend none = (query, k) -> List.of();
    assertThrows(
        IllegalArgumentException.class,
        () -> new SearchTool(none, 0, 100, java.time.Duration.ofSeconds(1)));
    assertThrows(
        IllegalArgumentException.class,
        () -> new SearchTool(none, 3, 5, java.time.Duration.ofSeconds(1)));
  }
}
