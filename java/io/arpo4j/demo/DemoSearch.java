package io.arpo4j.demo;

import io.arpo4j.tools.Tool;
import io.arpo4j.tools.ToolContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * The demo's search tool (tag {@code search}): a tiny deterministic engine over the {@link
 * DemoCorpus}, so that the results inlined in the reference traces are exactly what the model sees
 * during RL.
 *
 * <p>Ranking: a document whose title is a word of the query scores 10, plus one per distinct
 * content word of the query found in the document; ties go to the earlier document. The best
 * document is returned as one page, cut to its sentence sharing the most content words with the
 * query (ties: the earlier sentence). One short page keeps the tiny model's context small; with the
 * corpus's sentence pattern, the query "population of Quenmar" returns:
 *
 * <pre>
 * Page 1: Quenmar
 * The population of Quenmar is 48213.
 * </pre>
 */
public final class DemoSearch implements Tool {
  /** One search hit as shown to the model. */
  public record Page(String title, String text) {
    public Page {
      Objects.requireNonNull(title, "title");
      Objects.requireNonNull(text, "text");
    }
  }

  /** Returned when no document shares a content word with the query. */
  public static final String NO_RESULTS = "No results.";

  private static final int TITLE_SCORE = 10;
  private static final Set<String> STOPWORDS =
      Set.of(
          "the", "of", "is", "a", "an", "in", "from", "what", "who", "when", "which", "was", "and");

  private final List<Indexed> docs;

  /** The documents by title word, in corpus order: the only candidates once a title matches. */
  private final Map<String, List<Indexed>> byTitle = new HashMap<>();

  /**
   * An index over {@code docs} (for instance {@link DemoCorpus#docs()} or a JSONL corpus read
   * back).
   */
  public DemoSearch(List<DemoCorpus.Doc> docs) {
    Objects.requireNonNull(docs, "docs");
    this.docs = IntStream.range(0, docs.size()).mapToObj(i -> new Indexed(docs.get(i), i)).toList();
    for (Indexed doc : this.docs) {
      byTitle.computeIfAbsent(doc.titleWord, t -> new ArrayList<>()).add(doc);
    }
  }

  @Override
  public String tag() {
    return "search";
  }

  @Override
  public String execute(String input, ToolContext context) {
    return search(input);
  }

  /** The result text for {@code query}, formatted by {@link #format}. */
  public String search(String query) {
    Set<String> words = contentWords(Objects.requireNonNull(query, "query"));
    Indexed best = null;
    int bestScore = 0;
    for (Indexed doc : candidates(words)) {
      int score = doc.score(words);
      if (score > bestScore) {
        best = doc;
        bestScore = score;
      }
    }
    if (best == null) {
      return NO_RESULTS;
    }
    return format(List.of(new Page(best.doc.title(), best.bestSentence(words))));
  }

  /**
   * The documents that can score best, in corpus order. A title match scores over {@value
   * #TITLE_SCORE}; a document without one scores at most the number of query words, so when the
   * query has fewer words than that only the title matches can win (a linear scan of a large corpus
   * per query would make generating the demo's traces slow).
   */
  private List<Indexed> candidates(Set<String> words) {
    if (words.size() >= TITLE_SCORE) {
      return docs;
    }
    List<Indexed> titled = new ArrayList<>();
    for (String word : words) {
      titled.addAll(byTitle.getOrDefault(word, List.of()));
    }
    if (titled.isEmpty()) {
      return docs;
    }
    titled.sort(Comparator.comparingInt(doc -> doc.position));
    return titled;
  }

  /**
   * How hits are shown to the model: "Page {i}: {title}\n{text}", pages separated by a newline.
   * This is the one place to change if the search result format changes.
   */
  public static String format(List<Page> pages) {
    List<String> parts = new ArrayList<>();
    for (int i = 0; i < pages.size(); i++) {
      parts.add("Page " + (i + 1) + ": " + pages.get(i).title() + "\n" + pages.get(i).text());
    }
    return String.join("\n", parts);
  }

  private static Set<String> contentWords(String text) {
    Set<String> words = new LinkedHashSet<>();
    for (String word : text.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}]+")) {
      if (!word.isEmpty() && !STOPWORDS.contains(word)) {
        words.add(word);
      }
    }
    return words;
  }

  /** A document with its words and sentences precomputed. */
  private static final class Indexed {
    final DemoCorpus.Doc doc;
    final int position;
    final String titleWord;
    final Set<String> words;
    final List<String> sentences;
    final List<Set<String>> sentenceWords;

    Indexed(DemoCorpus.Doc doc, int position) {
      this.doc = doc;
      this.position = position;
      this.titleWord = doc.title().toLowerCase(Locale.ROOT);
      this.words = contentWords(doc.text());
      this.sentences = Arrays.asList(doc.text().split("(?<=\\.)\\s+"));
      this.sentenceWords = sentences.stream().map(DemoSearch::contentWords).toList();
    }

    int score(Set<String> query) {
      int score = query.contains(titleWord) ? TITLE_SCORE : 0;
      for (String word : query) {
        if (words.contains(word)) {
          score++;
        }
      }
      return score;
    }

    String bestSentence(Set<String> query) {
      int best = 0;
      int bestOverlap = -1;
      for (int i = 0; i < sentences.size(); i++) {
        int overlap = 0;
        for (String word : query) {
          if (sentenceWords.get(i).contains(word)) {
            overlap++;
          }
        }
        if (overlap > bestOverlap) {
          best = i;
          bestOverlap = overlap;
        }
      }
      return sentences.get(best);
    }
  }
}
