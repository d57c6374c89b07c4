package io.arpo4j.tools.browse;

import org.jsoup.nodes.Document;
import org.jsoup.nodes.Element;
import org.jsoup.nodes.Node;
import org.jsoup.nodes.TextNode;
import org.jsoup.select.NodeTraversor;
import org.jsoup.select.NodeVisitor;

/** Readable text of an HTML page: visible text only, one line per block element. */
final class HtmlText {
  private static final String INVISIBLE =
      "script, style, noscript, template, svg, iframe, object, canvas, nav, footer, form";

  private HtmlText() {}

  /** The page's title (if any), a blank line, then its body text. */
  static String extract(Document page) {
    page.select(INVISIBLE).remove();
    StringBuilder out = new StringBuilder();
    NodeTraversor.traverse(
        new NodeVisitor() {
          @Override
          public void head(Node node, int depth) {
            if (node instanceof TextNode text) {
              out.append(text.text());
            } else if (node instanceof Element element
                && (element.isBlock() || element.normalName().equals("br"))) {
              out.append('\n');
            }
          }

          @Override
          public void tail(Node node, int depth) {
            if (node instanceof Element element && element.isBlock()) {
              out.append('\n');
            }
          }
        },
        page.body());
    String body = tidy(out.toString(), false);
    String title = page.title().strip();
    return title.isEmpty() ? body : title + "\n\n" + body;
  }

  /**
   * Trims each line and collapses runs of spaces; blank lines are dropped, or kept one in a row
   * when {@code keepBlankLines}.
   */
  static String tidy(String text, boolean keepBlankLines) {
    StringBuilder out = new StringBuilder();
    int blankLines = 0;
    for (String line : text.split("\n", -1)) {
      String clean = line.strip().replaceAll("[ \\t\\x0B\\f\\r\\u00A0]+", " ");
      if (clean.isEmpty()) {
        blankLines++;
        continue;
      }
      if (out.length() > 0) {
        out.append(blankLines > 0 && keepBlankLines ? "\n\n" : "\n");
      }
      out.append(clean);
      blankLines = 0;
    }
    return out.toString();
  }
}
