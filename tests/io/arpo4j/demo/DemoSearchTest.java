package io.arpo4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.arpo4j.tools.ToolContext;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DemoSearchTest {
  private final DemoSearch search =
      new DemoSearch(
          List.of(
              new DemoCorpus.Doc(
                  "zorblat",
                  "Zorblat",
                  "Zorblat is a country. The capital of Zorblat is Quenmar. The population of Zorblat is 912345."),
              new DemoCorpus.Doc(
                  "quenmar",
                  "Quenmar",
                  "Quenmar is a city in Zorblat. The population of Quenmar is 48213. The river of Quenmar is Ossa."),
              new DemoCorpus.Doc(
                  "tilo",
                  "Tilo",
                  "Tilo is a person from Zorblat. The hometown of Tilo is Quenmar.")));

  @Test
  void titleMatchWinsAndTheMostRelevantSentenceIsShown() {
    // Zorblat's and Tilo's docs also mention Quenmar and population; the titled doc wins
    assertEquals(
        "Page 1: Quenmar\nThe population of Quenmar is 48213.",
        search.search("population of Quenmar"));
    assertEquals(
        "Page 1: Zorblat\nThe capital of Zorblat is Quenmar.",
        search.search(" capital of  ZORBLAT "));
    assertEquals(
        "Page 1: Tilo\nThe hometown of Tilo is Quenmar.",
        search.execute("hometown of Tilo", new ToolContext("t0", 0)));
  }

  @Test
  void withoutATitleTheMostOverlappingDocWinsAndTiesGoFirst() {
    // "river" and "ossa" only in Quenmar's doc
    assertEquals("Page 1: Quenmar\nThe river of Quenmar is Ossa.", search.search("river Ossa"));
    // "population" is in two docs once each: the earlier doc, its first matching sentence
    assertEquals(
        "Page 1: Zorblat\nThe population of Zorblat is 912345.", search.search("population"));
  }

  @Test
  void noOverlapGivesNoResults() {
    assertEquals(DemoSearch.NO_RESULTS, search.search("the of is"));
    assertEquals(DemoSearch.NO_RESULTS, search.search("Atlantis"));
    assertEquals("search", search.tag());
  }

  @Test
  void manySharedWordsCanOutscoreATitle() {
    String greek = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda";
    DemoSearch wordy =
        new DemoSearch(
            List.of(
                new DemoCorpus.Doc("x", "Glossary", "Glossary: " + greek + "."),
                new DemoCorpus.Doc(
                    "tilo", "Tilo", "Tilo is a person. The hometown of Tilo is Quenmar.")));
    // 11 shared words against 10 for the title + 1: the glossary wins
    assertEquals("Page 1: Glossary\nGlossary: " + greek + ".", wordy.search(greek + " zeta Tilo"));
    assertEquals("Page 1: Tilo\nTilo is a person.", wordy.search("alpha Tilo"));
  }

  /**
   * The ranking as documented, by brute force over every document, on queries over a generated
   * world.
   */
  @Test
  void rankingEqualsABruteForceScanOfTheCorpus() {
    List<DemoCorpus.Doc> docs = DemoCorpus.generate(5).docs();
    DemoSearch indexed = new DemoSearch(docs);
    List<Set<String>> docWords = docs.stream().map(d -> words(d.text())).toList();
    Random random = new Random(7);
    int mismatches = 0;
    String firstMismatch = null;
    for (int i = 0; i < 500; i++) {
      List<String> words = new ArrayList<>();
      for (int w = 0; w < 1 + random.nextInt(4); w++) {
        DemoCorpus.Doc doc = docs.get(random.nextInt(docs.size()));
        String[] tokens = doc.text().split("[^\\p{L}\\p{N}]+");
        words.add(random.nextBoolean() ? doc.title() : tokens[random.nextInt(tokens.length)]);
      }
      String query = String.join(" ", words);
      String expected = bruteForce(docs, docWords, query);
      if (!expected.equals(indexed.search(query))) {
        mismatches++;
        firstMismatch = firstMismatch == null ? query : firstMismatch;
      }
    }
    assertEquals(0, mismatches, "first mismatch: " + firstMismatch);
  }

  private static Set<String> words(String text) {
    return new HashSet<>(List.of(text.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}]+")));
  }

  private static String bruteForce(
      List<DemoCorpus.Doc> docs, List<Set<String>> docWords, String query) {
    Set<String> stop =
        Set.of(
            "the", "of", "is", "a", "an", "in", "from", "what", "who", "when", "which", "was",
            "and");
    Set<String> q = new LinkedHashSet<>();
    for (String w : query.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}]+")) {
      if (!w.isEmpty() && !stop.contains(w)) q.add(w);
    }
    DemoCorpus.Doc best = null;
    int bestScore = 0;
    for (int d = 0; d < docs.size(); d++) {
      DemoCorpus.Doc doc = docs.get(d);
      Set<String> dw = docWords.get(d);
      int score = q.contains(doc.title().toLowerCase(Locale.ROOT)) ? 10 : 0;
      for (String w : q) score += dw.contains(w) ? 1 : 0;
      if (score > bestScore) {
        best = doc;
        bestScore = score;
      }
    }
    if (best == null) return DemoSearch.NO_RESULTS;
    String bestSentence = null;
    int overlap = -1;
    for (String sentence : best.text().split("(?<=\\.)\\s+")) {
      Set<String> sw = words(sentence);
      int o = 0;
      for (String w : q) o += sw.contains(w) ? 1 : 0;
      if (o > overlap) {
        bestSentence = sentence;
        overlap = o;
      }
    }
    return "Page 1: " + best.title() + "\n" + bestSentence;
  }

  @Test
  void formatNumbersPagesFromOne() {
    assertEquals(
        "Page 1: A\none.\nPage 2: B\ntwo.",
        DemoSearch.format(
            List.of(new DemoSearch.Page("A", "one."), new DemoSearch.Page("B", "two."))));
  }
}
