package io.arpo4j.tools.search;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * How {@link HttpSearchBackend} talks to a web search API.
 *
 * @param urlTemplate the request URL; {@code {query}} is replaced by the URL-encoded query and
 *     {@code {k}} by the number of results wanted
 * @param method {@code GET} or {@code POST}
 * @param bodyTemplate the JSON body of a POST ({@code {query}} JSON-escaped, {@code {k}}), or ""
 * @param headers request headers; {@code ${NAME}} in a value is replaced by the environment
 *     variable NAME (keep API keys out of config files)
 * @param resultsPointer JSON Pointer (RFC 6901) to the array of results, e.g. {@code /organic}
 * @param titlePointer JSON Pointer to a result's title within one result, e.g. {@code /title}
 * @param snippetPointer JSON Pointer to a result's text, e.g. {@code /description}
 * @param idPointer JSON Pointer to a result's id or URL, e.g. {@code /link}, or "" for none
 * @param timeout limit of one HTTP request
 * @param cacheDir directory of the response cache (one file per request, named by the SHA-256 of
 *     method, URL and body), or null for no cache
 */
public record HttpSearchConfig(
    String urlTemplate,
    String method,
    String bodyTemplate,
    Map<String, String> headers,
    String resultsPointer,
    String titlePointer,
    String snippetPointer,
    String idPointer,
    Duration timeout,
    Path cacheDir) {

  public HttpSearchConfig {
    Objects.requireNonNull(urlTemplate, "urlTemplate");
    Objects.requireNonNull(bodyTemplate, "bodyTemplate");
    Objects.requireNonNull(timeout, "timeout");
    headers = Map.copyOf(headers);
    if (!urlTemplate.startsWith("http://") && !urlTemplate.startsWith("https://")) {
      throw new IllegalArgumentException("urlTemplate must be an http(s) URL, got " + urlTemplate);
    }
    if (!method.equals("GET") && !method.equals("POST")) {
      throw new IllegalArgumentException("method must be GET or POST, got " + method);
    }
    for (String pointer : new String[] {resultsPointer, titlePointer, snippetPointer, idPointer}) {
      if (!pointer.isEmpty() && !pointer.startsWith("/")) {
        throw new IllegalArgumentException("JSON pointers start with '/', got '" + pointer + "'");
      }
    }
    if (snippetPointer.isEmpty()) {
      throw new IllegalArgumentException("snippetPointer must not be empty");
    }
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive, got " + timeout);
    }
  }

  /** A GET endpoint without headers or cache, with a 30 s timeout and no id field. */
  public static HttpSearchConfig get(
      String urlTemplate, String resultsPointer, String titlePointer, String snippetPointer) {
    return new HttpSearchConfig(
        urlTemplate,
        "GET",
        "",
        Map.of(),
        resultsPointer,
        titlePointer,
        snippetPointer,
        "",
        Duration.ofSeconds(30),
        null);
  }

  public HttpSearchConfig withPost(String body) {
    return new HttpSearchConfig(
        urlTemplate,
        "POST",
        body,
        headers,
        resultsPointer,
        titlePointer,
        snippetPointer,
        idPointer,
        timeout,
        cacheDir);
  }

  public HttpSearchConfig withHeaders(Map<String, String> newHeaders) {
    return new HttpSearchConfig(
        urlTemplate,
        method,
        bodyTemplate,
        newHeaders,
        resultsPointer,
        titlePointer,
        snippetPointer,
        idPointer,
        timeout,
        cacheDir);
  }

  public HttpSearchConfig withIdPointer(String pointer) {
    return new HttpSearchConfig(
        urlTemplate,
        method,
        bodyTemplate,
        headers,
        resultsPointer,
        titlePointer,
        snippetPointer,
        pointer,
        timeout,
        cacheDir);
  }

  public HttpSearchConfig withCache(Path dir) {
    return new HttpSearchConfig(
        urlTemplate,
        method,
        bodyTemplate,
        headers,
        resultsPointer,
        titlePointer,
        snippetPointer,
        idPointer,
        timeout,
        dir);
  }

  public HttpSearchConfig withTimeout(Duration limit) {
    return new HttpSearchConfig(
        urlTemplate,
        method,
        bodyTemplate,
        headers,
        resultsPointer,
        titlePointer,
        snippetPointer,
        idPointer,
        limit,
        cacheDir);
  }
}
