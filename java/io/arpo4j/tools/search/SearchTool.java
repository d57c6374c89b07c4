package io.arpo4j.tools.search;

import io.arpo4j.tools.Tool;
import io.arpo4j.tools.ToolContext;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The {@code <search>} tool. Results are shown as in the ARPO reference, one numbered page per hit,
 * with the title (when there is one) on the page's first line:
 *
 * <pre>
 * Page 1: {title}
 * {snippet}
 * Page 2: ...
 * </pre>
 *
 * A snippet is the hit's text with whitespace collapsed, cut at a word boundary to at most {@code
 * snippetChars} chars (the reference cuts at 1000). No hit gives "No search results found."
 */
public final class SearchTool implements Tool {
  public static final int DEFAULT_TOP_K = 3;
  public static final int DEFAULT_SNIPPET_CHARS = 1000;
  public static final String NO_RESULTS = "No search results found.";

  private final SearchBackend backend;
  private final int topK;
  private final int snippetChars;
  private final Duration timeout;

  /** A tool with the default top-k, snippet length and a 30 s timeout. */
  public SearchTool(SearchBackend backend) {
    this(backend, DEFAULT_TOP_K, DEFAULT_SNIPPET_CHARS, Duration.ofSeconds(30));
  }

  /** The tool owns {@code backend} and closes it. */
  public SearchTool(SearchBackend backend, int topK, int snippetChars, Duration timeout) {
    if (topK < 1) {
      throw new IllegalArgumentException("topK must be >= 1, got " + topK);
    }
    if (snippetChars < 16) {
      throw new IllegalArgumentException("snippetChars must be >= 16, got " + snippetChars);
    }
    this.backend = Objects.requireNonNull(backend, "backend");
    this.topK = topK;
    this.snippetChars = snippetChars;
    this.timeout = Objects.requireNonNull(timeout, "timeout");
  }

  @Override
  public String tag() {
    return "search";
  }

  @Override
  public String description() {
    return "searches the document index and returns the top passages; input: a query";
  }

  @Override
  public Duration timeout() {
    return timeout;
  }

  @Override
  public String execute(String input, ToolContext context) throws Exception {
    return format(backend.search(input, topK), snippetChars);
  }

  /** The text the model sees for {@code hits}. */
  public static String format(List<SearchHit> hits, int snippetChars) {
    if (hits.isEmpty()) {
      return NO_RESULTS;
    }
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < hits.size(); i++) {
      SearchHit hit = hits.get(i);
      if (i > 0) {
        out.append('\n');
      }
      out.append("Page ").append(i + 1).append(": ");
      String title = collapseWhitespace(hit.title());
      if (!title.isEmpty()) {
        out.append(title).append('\n');
      }
      out.append(snippet(hit.text(), snippetChars));
    }
    return out.toString();
  }

  static String snippet(String text, int maxChars) {
    String flat = collapseWhitespace(text);
    if (flat.length() <= maxChars) {
      return flat;
    }
    int cut = flat.lastIndexOf(' ', maxChars);
    // a word boundary close enough to the limit, else a hard cut
    return cut >= maxChars * 4 / 5 ? flat.substring(0, cut) : flat.substring(0, maxChars);
  }

  private static String collapseWhitespace(String s) {
    return s == null ? "" : s.strip().replaceAll("\\s+", " ");
  }

  @Override
  public void close() {
    backend.close();
  }
}
