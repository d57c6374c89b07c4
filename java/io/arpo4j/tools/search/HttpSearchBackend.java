package io.arpo4j.tools.search;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Search through a web search API described by an {@link HttpSearchConfig}: one request per query,
 * results read from the response's JSON by pointers, duplicate snippets dropped (as the ARPO
 * reference does), and raw responses optionally cached on disk so repeated queries (frequent in RL
 * rollouts) cost nothing. Thread-safe.
 */
public final class HttpSearchBackend implements SearchBackend {
  /** Larger responses are refused. */
  public static final int MAX_RESPONSE_BYTES = 16 << 20;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern ENV_REFERENCE = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)}");

  private final HttpSearchConfig config;
  private final Map<String, String> headers;
  private final HttpClient client;

  public HttpSearchBackend(HttpSearchConfig config) {
    this(config, System::getenv);
  }

  /**
   * @param environment looks up the {@code ${NAME}} references in header values
   */
  HttpSearchBackend(HttpSearchConfig config, Function<String, String> environment) {
    this.config = config;
    this.headers = expandHeaders(config.headers(), environment);
    this.client =
        HttpClient.newBuilder()
            .connectTimeout(config.timeout())
            .followRedirects(HttpClient.Redirect.NORMAL)
            .build();
  }

  private static Map<String, String> expandHeaders(
      Map<String, String> raw, Function<String, String> environment) {
    Map<String, String> expanded = new LinkedHashMap<>();
    raw.forEach(
        (name, value) -> {
          Matcher m = ENV_REFERENCE.matcher(value);
          StringBuilder out = new StringBuilder();
          while (m.find()) {
            String resolved = environment.apply(m.group(1));
            if (resolved == null) {
              throw new IllegalArgumentException(
                  "headers: " + name + " refers to unset environment variable " + m.group(1));
            }
            m.appendReplacement(out, Matcher.quoteReplacement(resolved));
          }
          m.appendTail(out);
          expanded.put(name, out.toString());
        });
    return Map.copyOf(expanded);
  }

  @Override
  public List<SearchHit> search(String query, int k) throws IOException {
    if (k < 1) {
      throw new IllegalArgumentException("k must be >= 1, got " + k);
    }
    String url =
        config
            .urlTemplate()
            .replace("{query}", URLEncoder.encode(query, StandardCharsets.UTF_8))
            .replace("{k}", Integer.toString(k));
    String body =
        config
            .bodyTemplate()
            .replace("{query}", new String(JsonStringEncoder.getInstance().quoteAsString(query)))
            .replace("{k}", Integer.toString(k));
    Path cacheFile =
        config.cacheDir() == null
            ? null
            : config
                .cacheDir()
                .resolve(sha256(config.method() + "\n" + url + "\n" + body) + ".json");
    Optional<byte[]> cached =
        cacheFile != null && Files.isRegularFile(cacheFile)
            ? Optional.of(Files.readAllBytes(cacheFile))
            : Optional.empty();
    byte[] response = cached.isPresent() ? cached.get() : fetch(url, body);
    List<SearchHit> hits = parse(response, k);
    if (cacheFile != null && cached.isEmpty()) {
      store(cacheFile, response);
    }
    return hits;
  }

  private byte[] fetch(String url, String body) throws IOException {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create(url))
            .timeout(config.timeout())
            .header("Accept", "application/json");
    headers.forEach(request::header);
    if (config.method().equals("POST")) {
      request.header("Content-Type", "application/json");
      request.POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
    } else {
      request.GET();
    }
    try {
      HttpResponse<InputStream> response =
          client.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
      try (InputStream in = response.body()) {
        byte[] bytes = in.readNBytes(MAX_RESPONSE_BYTES + 1);
        if (response.statusCode() / 100 != 2) {
          throw new IOException("search endpoint answered HTTP " + response.statusCode());
        }
        if (bytes.length > MAX_RESPONSE_BYTES) {
          throw new IOException("search response larger than " + MAX_RESPONSE_BYTES + " bytes");
        }
        return bytes;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("search request interrupted");
    }
  }

  private List<SearchHit> parse(byte[] response, int k) throws IOException {
    JsonNode root = JSON.readTree(response);
    JsonNode results = root.at(config.resultsPointer());
    if (!results.isArray()) {
      throw new IOException("search response has no array at '" + config.resultsPointer() + "'");
    }
    List<SearchHit> hits = new ArrayList<>();
    Set<String> seenSnippets = new HashSet<>();
    for (JsonNode result : results) {
      String title = text(result, config.titlePointer());
      String snippet = text(result, config.snippetPointer());
      if ((snippet.isEmpty() && title.isEmpty()) || !seenSnippets.add(snippet)) {
        continue;
      }
      hits.add(new SearchHit(text(result, config.idPointer()), title, snippet, Double.NaN));
      if (hits.size() == k) {
        break;
      }
    }
    return hits;
  }

  private static String text(JsonNode node, String pointer) {
    if (pointer.isEmpty()) {
      return "";
    }
    JsonNode value = node.at(pointer);
    return value.isValueNode() ? value.asText().strip() : "";
  }

  /** Writes atomically, so a concurrent reader never sees half a response. */
  private static void store(Path file, byte[] response) throws IOException {
    Files.createDirectories(file.getParent());
    Path partial = Files.createTempFile(file.getParent(), ".partial-", ".json");
    try {
      Files.write(partial, response);
      Files.move(
          partial, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(partial);
    }
  }

  private static String sha256(String s) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
      StringBuilder hex = new StringBuilder();
      for (byte b : digest) {
        hex.append(String.format("%02x", b));
      }
      return hex.toString();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 unavailable", e);
    }
  }
}
