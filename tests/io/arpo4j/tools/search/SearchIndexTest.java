package io.arpo4j.tools.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SearchIndexTest {
  record Doc(String id, String title, String text) {}

  static final List<Doc> CORPUS =
      List.of(
          new Doc(
              "z1",
              "Zorblat",
              "Zorblat is the capital of the Zorblat province, founded by Quenby."),
          new Doc("z2", "Zorblat province", "The province has a river and a capital city."),
          new Doc("q1", "Quenby", "Quenby was an explorer who mapped rivers and founded a city."),
          new Doc("m1", "Marmot", "The marmot is a large ground squirrel living in mountains."),
          new Doc(
              "m2",
              "Mountains of Zorblat",
              "High mountains surround the capital; marmot colonies "
                  + "live on every slope, and the river starts there."),
          new Doc("r1", "River Ulm", "A long river crossing three provinces before the sea."),
          new Doc(
              "c1",
              "Capital cities",
              "A capital is the seat of government of a country or "
                  + "province; every capital has a palace."));

  @TempDir static Path dir;
  static SearchIndex index;

  @BeforeAll
  static void build() throws IOException {
    StringBuilder jsonl = new StringBuilder();
    for (Doc d : CORPUS) {
      jsonl.append(
          String.format(
              "{\"id\": \"%s\", \"title\": \"%s\", \"text\": \"%s\"}%n",
              d.id(), d.title(), d.text()));
    }
    jsonl.append("\n"); // blank lines are skipped
    Path corpus = Files.writeString(dir.resolve("corpus.jsonl"), jsonl);
    SearchIndex.BuildStats stats = SearchIndex.build(corpus, dir.resolve("index"));
    assertEquals(CORPUS.size(), stats.documents());
    index = SearchIndex.open(dir.resolve("index"));
  }

  /** BM25 (Lucene's form: no (k1 + 1) factor) computed in double over the analyzed corpus. */
  static List<String> bm25Ranking(String query, int k) throws IOException {
    double k1 = 1.2;
    double b = 0.75;
    List<List<String>> docs = new ArrayList<>();
    for (Doc d : CORPUS) {
      docs.add(analyze(d.title() + "\n" + d.text()));
    }
    double avgdl = docs.stream().mapToInt(List::size).average().orElseThrow();
    Map<String, Double> scores = new HashMap<>();
    for (String term : new HashSet<>(analyze(query))) {
      long n = docs.stream().filter(tokens -> tokens.contains(term)).count();
      double idf = Math.log(1 + (CORPUS.size() - n + 0.5) / (n + 0.5));
      for (int i = 0; i < docs.size(); i++) {
        long tf = docs.get(i).stream().filter(term::equals).count();
        if (tf > 0) {
          double norm = k1 * (1 - b + b * docs.get(i).size() / avgdl);
          scores.merge(CORPUS.get(i).id(), idf * tf / (tf + norm), Double::sum);
        }
      }
    }
    return scores.entrySet().stream()
        .sorted(Map.Entry.<String, Double>comparingByValue(Comparator.reverseOrder()))
        .limit(k)
        .map(Map.Entry::getKey)
        .collect(Collectors.toList());
  }

  static List<String> analyze(String text) throws IOException {
    List<String> tokens = new ArrayList<>();
    try (EnglishAnalyzer analyzer = new EnglishAnalyzer();
        TokenStream stream = analyzer.tokenStream("contents", new StringReader(text))) {
      CharTermAttribute term = stream.addAttribute(CharTermAttribute.class);
      stream.reset();
      while (stream.incrementToken()) {
        tokens.add(term.toString());
      }
      stream.end();
    }
    return tokens;
  }

  @Test
  void ranksLikeBm25() throws IOException {
    for (String query :
        List.of(
            "capital of Zorblat",
            "marmot mountains",
            "river province",
            "who founded the city",
            "Quenby")) {
      List<String> expected = bm25Ranking(query, 3);
      assertTrue(expected.size() >= 2, "a query that tells documents apart: " + query);
      List<String> got = index.search(query, 3).stream().map(SearchHit::id).toList();
      assertEquals(expected, got, query);
    }
  }

  @Test
  void hitsCarryStoredFieldsAndDecreasingScores() throws IOException {
    List<SearchHit> hits = index.search("zorblat capital", 5);
    SearchHit first = hits.get(0);
    assertEquals("z1", first.id());
    assertEquals("Zorblat", first.title());
    assertEquals(CORPUS.get(0).text(), first.text());
    for (int i = 1; i < hits.size(); i++) {
      assertTrue(hits.get(i - 1).score() >= hits.get(i).score());
    }
  }

  @Test
  void queriesWithoutSearchableWordsFindNothing() throws IOException {
    assertEquals(List.of(), index.search("the of and ?!", 3));
    assertEquals(List.of(), index.search("unicorn", 3));
    assertThrows(IllegalArgumentException.class, () -> index.search("river", 0));
  }

  @Test
  void findsDocumentsById() throws IOException {
    assertEquals("Marmot", index.document("m1").orElseThrow().title());
    assertTrue(index.document("nope").isEmpty());
    assertEquals(CORPUS.size(), index.size());
  }

  @Test
  void acceptsThePyseriniContentsLayout(@TempDir Path tmp) throws IOException {
    Path corpus =
        Files.writeString(
            tmp.resolve("wiki.jsonl"),
            "{\"id\": 0, \"contents\": \"\\\"Aaron\\\"\\nAaron is a prophet.\"}\n"
                + "{\"id\": 1, \"contents\": \"Moses led the people.\"}\n");
    SearchIndex.build(corpus, tmp.resolve("idx"));
    try (SearchIndex wiki = SearchIndex.open(tmp.resolve("idx"))) {
      SearchHit aaron = wiki.search("prophet", 1).get(0);
      assertEquals(new SearchHit("0", "Aaron", "Aaron is a prophet.", aaron.score()), aaron);
      SearchHit moses = wiki.document("1").orElseThrow();
      assertEquals("", moses.title());
      assertEquals("Moses led the people.", moses.text());
    }
  }

  @Test
  void malformedLinesAreReportedWithTheirNumber(@TempDir Path tmp) throws IOException {
    Path corpus =
        Files.writeString(
            tmp.resolve("bad.jsonl"),
            "{\"id\": \"a\", \"text\": \"fine\"}\n{\"id\": \"b\", \"title\": \"no text\"}\n");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> SearchIndex.build(corpus, tmp.resolve("idx")));
    assertTrue(e.getMessage().contains("line 2"), e.getMessage());
    Path notJson = Files.writeString(tmp.resolve("nojson.jsonl"), "{\"id\": \"a\",\n");
    IllegalArgumentException e2 =
        assertThrows(
            IllegalArgumentException.class, () -> SearchIndex.build(notJson, tmp.resolve("idx2")));
    assertTrue(e2.getMessage().contains("line 1"), e2.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> SearchIndex.build(tmp.resolve("missing.jsonl"), tmp.resolve("idx3")));
  }

  @Test
  void searchToolFormatsPagesAsTheReference() throws Exception {
    SearchTool tool = new SearchTool(index, 2, 40, java.time.Duration.ofSeconds(5));
    String text = tool.execute("zorblat capital", new io.arpo4j.tools.ToolContext("t", 0));
    Set<String> ids = Set.copyOf(bm25Ranking("zorblat capital", 2));
    assertTrue(ids.contains("z1"));
    assertEquals(
        "Page 1: Zorblat\nZorblat is the capital of the Zorblat\n"
            + "Page 2: "
            + titleOf(bm25Ranking("zorblat capital", 2).get(1))
            + "\n"
            + SearchTool.snippet(textOf(bm25Ranking("zorblat capital", 2).get(1)), 40),
        text);
    assertEquals("No search results found.", tool.execute("unicorn", null));
  }

  static String titleOf(String id) {
    return CORPUS.stream().filter(d -> d.id().equals(id)).findFirst().orElseThrow().title();
  }

  static String textOf(String id) {
    return CORPUS.stream().filter(d -> d.id().equals(id)).findFirst().orElseThrow().text();
  }
}
