package io.arpo4j.tools.search;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.LongConsumer;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.IndexWriterConfig.OpenMode;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.QueryBuilder;

/**
 * A local BM25 index (Apache Lucene, k1 = 1.2, b = 0.75, English analysis with stemming and stop
 * words) over a JSONL corpus. Each line is one document:
 *
 * <pre>{"id": "doc-1", "title": "Zorblat", "text": "Zorblat is a city ..."}</pre>
 *
 * {@code id} (string or number) and {@code text} are required, {@code title} is optional. The
 * Pyserini / Search-R1 layout {@code {"id", "contents"}} is accepted too: without a {@code title},
 * the first line of {@code contents} is the title (quotes removed) and the rest the text. Title and
 * text are searched together. Thread-safe for searches.
 */
public final class SearchIndex implements SearchBackend {
  /** Longer queries are cut: a query is a handful of words, and Lucene caps query clauses. */
  public static final int MAX_QUERY_CHARS = 1000;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String ID = "id";
  private static final String TITLE = "title";
  private static final String TEXT = "text";
  private static final String CONTENTS = "contents";
  private static final long PROGRESS_EVERY = 10_000;

  private final Directory directory;
  private final DirectoryReader reader;
  private final IndexSearcher searcher;
  private final Analyzer analyzer = new EnglishAnalyzer();

  /** What {@link #build} did. */
  public record BuildStats(long documents, Duration elapsed) {}

  private SearchIndex(Path indexDir) throws IOException {
    this.directory = FSDirectory.open(indexDir);
    try {
      this.reader = DirectoryReader.open(directory);
    } catch (IOException e) {
      directory.close();
      throw e;
    }
    this.searcher = new IndexSearcher(reader);
    searcher.setSimilarity(new BM25Similarity());
  }

  /** Opens an index written by {@link #build}. */
  public static SearchIndex open(Path indexDir) throws IOException {
    if (!Files.isDirectory(indexDir)) {
      throw new IllegalArgumentException(
          "search index not found: " + indexDir + " is not a directory");
    }
    try {
      return new SearchIndex(indexDir);
    } catch (org.apache.lucene.index.IndexNotFoundException e) {
      throw new IllegalArgumentException(
          indexDir + " holds no search index (build one with 'arpo4j index')", e);
    }
  }

  /** Builds (or replaces) the index in {@code indexDir} from a JSONL corpus. */
  public static BuildStats build(Path corpusJsonl, Path indexDir) throws IOException {
    return build(corpusJsonl, indexDir, count -> {});
  }

  /**
   * Builds (or replaces) the index in {@code indexDir} from a JSONL corpus, reporting the number of
   * documents indexed so far every 10,000 documents.
   *
   * @throws IllegalArgumentException for a missing corpus or a malformed line (with its number)
   */
  public static BuildStats build(Path corpusJsonl, Path indexDir, LongConsumer progress)
      throws IOException {
    if (!Files.isRegularFile(corpusJsonl)) {
      throw new IllegalArgumentException("corpusJsonl: no such file: " + corpusJsonl);
    }
    long start = System.nanoTime();
    Files.createDirectories(indexDir);
    IndexWriterConfig settings =
        new IndexWriterConfig(new EnglishAnalyzer())
            .setOpenMode(OpenMode.CREATE)
            .setSimilarity(new BM25Similarity())
            .setRAMBufferSizeMB(256);
    long documents = 0;
    try (Directory directory = FSDirectory.open(indexDir);
        IndexWriter writer = new IndexWriter(directory, settings);
        BufferedReader lines = Files.newBufferedReader(corpusJsonl, StandardCharsets.UTF_8)) {
      String line;
      long lineNumber = 0;
      while ((line = lines.readLine()) != null) {
        lineNumber++;
        if (line.isBlank()) {
          continue;
        }
        writer.addDocument(toDocument(line, lineNumber, corpusJsonl));
        if (++documents % PROGRESS_EVERY == 0) {
          progress.accept(documents);
        }
      }
      writer.commit();
    }
    return new BuildStats(documents, Duration.ofNanos(System.nanoTime() - start));
  }

  private static Document toDocument(String line, long lineNumber, Path corpus) {
    JsonNode node;
    try {
      node = JSON.readTree(line);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(
          corpus + " line " + lineNumber + ": not JSON: " + e.getOriginalMessage(), e);
    }
    if (!node.isObject()) {
      throw new IllegalArgumentException(corpus + " line " + lineNumber + ": not a JSON object");
    }
    JsonNode id = node.get(ID);
    if (id == null || !(id.isTextual() || id.isNumber())) {
      throw new IllegalArgumentException(corpus + " line " + lineNumber + ": no \"id\"");
    }
    String title = node.path(TITLE).asText("");
    String text;
    if (node.path(TEXT).isTextual()) {
      text = node.get(TEXT).asText();
    } else if (node.path(CONTENTS).isTextual()) {
      text = node.get(CONTENTS).asText();
      int newline = text.indexOf('\n');
      if (!node.has(TITLE) && newline > 0) {
        title = unquote(text.substring(0, newline).strip());
        text = text.substring(newline + 1);
      }
    } else {
      throw new IllegalArgumentException(
          corpus + " line " + lineNumber + ": no \"text\" (or \"contents\")");
    }
    Document document = new Document();
    document.add(new StringField(ID, id.asText(), Field.Store.YES));
    document.add(new StoredField(TITLE, title));
    document.add(new StoredField(TEXT, text));
    document.add(new TextField(CONTENTS, title + "\n" + text, Field.Store.NO));
    return document;
  }

  private static String unquote(String s) {
    return s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"")
        ? s.substring(1, s.length() - 1)
        : s;
  }

  /** Number of documents in the index. */
  public int size() {
    return reader.numDocs();
  }

  @Override
  public List<SearchHit> search(String query, int k) throws IOException {
    if (k < 1) {
      throw new IllegalArgumentException("k must be >= 1, got " + k);
    }
    String cut = query.length() > MAX_QUERY_CHARS ? query.substring(0, MAX_QUERY_CHARS) : query;
    Query parsed = new QueryBuilder(analyzer).createBooleanQuery(CONTENTS, cut);
    if (parsed == null) { // nothing searchable: only stop words or punctuation
      return List.of();
    }
    TopDocs top = searcher.search(parsed, k);
    StoredFields stored = searcher.storedFields();
    List<SearchHit> hits = new ArrayList<>();
    for (ScoreDoc scoreDoc : top.scoreDocs) {
      Document document = stored.document(scoreDoc.doc);
      hits.add(
          new SearchHit(document.get(ID), document.get(TITLE), document.get(TEXT), scoreDoc.score));
    }
    return hits;
  }

  /** The document with this id, if the corpus has one (the first, if several share it). */
  public Optional<SearchHit> document(String id) throws IOException {
    TopDocs top = searcher.search(new TermQuery(new Term(ID, id)), 1);
    if (top.scoreDocs.length == 0) {
      return Optional.empty();
    }
    Document document = searcher.storedFields().document(top.scoreDocs[0].doc);
    return Optional.of(new SearchHit(id, document.get(TITLE), document.get(TEXT), Double.NaN));
  }

  @Override
  public void close() {
    try {
      reader.close();
      directory.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
