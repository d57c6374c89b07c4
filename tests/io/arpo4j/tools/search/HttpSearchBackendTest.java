package io.arpo4j.tools.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Against a local stand-in for a search API on 127.0.0.1. */
class HttpSearchBackendTest {
  /** What the server saw of one request. */
  record Seen(String method, String query, String authorization, String body) {}

  HttpServer server;
  String base;
  final List<Seen> seen = new CopyOnWriteArrayList<>();

  @BeforeEach
  void startServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 0);
    server.createContext("/search", this::answer);
    server.createContext("/broken", exchange -> reply(exchange, 500, "{}"));
    server.createContext("/odd", exchange -> reply(exchange, 200, "{\"items\": 3}"));
    server.start();
    base = "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @AfterEach
  void stopServer() {
    server.stop(0);
  }

  private void answer(HttpExchange exchange) throws IOException {
    String rawQuery = exchange.getRequestURI().getRawQuery();
    String q =
        rawQuery == null
            ? ""
            : URLDecoder.decode(
                rawQuery.replaceFirst("^q=", "").replaceFirst("&.*", ""), StandardCharsets.UTF_8);
    String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
    seen.add(
        new Seen(
            exchange.getRequestMethod(),
            q,
            exchange.getRequestHeaders().getFirst("Authorization"),
            body));
    String subject =
        exchange.getRequestMethod().equals("POST")
            ? new ObjectMapper().readTree(body).path("q").asText()
            : q;
    ObjectMapper json = new ObjectMapper();
    ObjectNode root = json.createObjectNode();
    ArrayNode organic = root.putObject("data").putArray("organic");
    organic
        .addObject()
        .put("title", "About " + subject)
        .put("description", "First page on " + subject + ".")
        .put("link", "https://a.example/1");
    organic
        .addObject()
        .put("title", "Mirror") // same snippet: dropped
        .put("description", "First page on " + subject + ".")
        .put("link", "https://b.example/1");
    organic.addObject().put("title", "").put("description", ""); // empty: dropped
    organic
        .addObject()
        .put("title", "Second")
        .put("description", "More on " + subject + ".")
        .put("link", "https://c.example/2");
    organic.addObject().put("title", "Third").put("description", "Even more.");
    reply(exchange, 200, json.writeValueAsString(root));
  }

  private static void reply(HttpExchange exchange, int status, String json) throws IOException {
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().add("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, bytes.length);
    exchange.getResponseBody().write(bytes);
    exchange.close();
  }

  HttpSearchConfig config(String path) {
    return HttpSearchConfig.get(
            base + path + "?q={query}&n={k}", "/data/organic", "/title", "/description")
        .withIdPointer("/link");
  }

  @Test
  void getsResultsDropsDuplicateAndEmptyOnesAndKeepsK() throws IOException {
    HttpSearchBackend backend = new HttpSearchBackend(config("/search"));
    List<SearchHit> hits = backend.search("capital of Zorblat & co", 2);
    assertEquals("capital of Zorblat & co", seen.get(0).query());
    assertEquals(2, hits.size());
    assertEquals(
        new SearchHit(
            "https://a.example/1",
            "About capital of Zorblat & co",
            "First page on capital of Zorblat & co.",
            Double.NaN),
        hits.get(0));
    assertEquals("Second", hits.get(1).title());
    assertEquals(
        "Page 1: About capital of Zorblat & co\nFirst page on capital of Zorblat & co.\n"
            + "Page 2: Second\nMore on capital of Zorblat & co.",
        SearchTool.format(hits, 1000));
  }

  @Test
  void expandsEnvironmentReferencesInHeaders() throws IOException {
    HttpSearchBackend backend =
        new HttpSearchBackend(
            config("/search").withHeaders(Map.of("Authorization", "Bearer ${SEARCH_KEY}")),
            name -> name.equals("SEARCH_KEY") ? "s3cret" : null);
    backend.search("x", 1);
    assertEquals("Bearer s3cret", seen.get(0).authorization());
    IllegalArgumentException unset =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new HttpSearchBackend(
                    config("/search").withHeaders(Map.of("X-Key", "${NOPE}")), name -> null));
    assertTrue(unset.getMessage().contains("NOPE"), unset.getMessage());
  }

  @Test
  void postsAJsonBodyWithTheQueryEscaped() throws IOException {
    HttpSearchConfig post =
        HttpSearchConfig.get(base + "/search", "/data/organic", "/title", "/description")
            .withPost("{\"q\": \"{query}\", \"num\": {k}}");
    List<SearchHit> hits = new HttpSearchBackend(post).search("say \"hi\"\n", 3);
    assertEquals("POST", seen.get(0).method());
    assertEquals(
        "say \"hi\"\n", new ObjectMapper().readTree(seen.get(0).body()).path("q").asText());
    assertEquals(3, new ObjectMapper().readTree(seen.get(0).body()).path("num").asInt());
    assertEquals("About say \"hi\"", hits.get(0).title());
  }

  @Test
  void cachesResponsesByRequest(@TempDir Path cache) throws IOException {
    HttpSearchBackend backend = new HttpSearchBackend(config("/search").withCache(cache));
    List<SearchHit> first = backend.search("marmots", 3);
    List<SearchHit> again = backend.search("marmots", 3);
    assertEquals(1, seen.size(), "the second identical query must come from the cache");
    assertEquals(first, again);
    // a fresh backend over the same directory reuses the file
    assertEquals(
        first, new HttpSearchBackend(config("/search").withCache(cache)).search("marmots", 3));
    assertEquals(1, seen.size());
    try (Stream<Path> files = Files.list(cache)) {
      assertEquals(1, files.filter(p -> p.toString().endsWith(".json")).count());
    }
    backend.search("rivers", 3);
    assertEquals(2, seen.size());
  }

  @Test
  void failuresAreIoExceptionsAndAreNotCached(@TempDir Path cache) throws IOException {
    IOException status =
        assertThrows(
            IOException.class,
            () -> new HttpSearchBackend(config("/broken").withCache(cache)).search("x", 3));
    assertTrue(status.getMessage().contains("HTTP 500"), status.getMessage());
    HttpSearchConfig odd = HttpSearchConfig.get(base + "/odd?q={query}", "/items", "/t", "/s");
    IOException shape =
        assertThrows(
            IOException.class, () -> new HttpSearchBackend(odd.withCache(cache)).search("x", 3));
    assertTrue(shape.getMessage().contains("/items"), shape.getMessage());
    try (Stream<Path> files = Files.list(cache)) {
      assertEquals(0, files.count());
    }
  }

  @Test
  void rejectsBadConfigs() {
    assertThrows(
        IllegalArgumentException.class,
        () -> HttpSearchConfig.get("ftp://x/{query}", "/r", "/t", "/s"));
    assertThrows(
        IllegalArgumentException.class,
        () -> HttpSearchConfig.get("http://x/{query}", "r", "/t", "/s"));
    assertThrows(
        IllegalArgumentException.class,
        () -> HttpSearchConfig.get("http://x/{query}", "/r", "/t", ""));
  }
}
