package io.arpo4j.tools.browse;

import io.arpo4j.tools.Tool;
import io.arpo4j.tools.ToolContext;
import io.arpo4j.tools.ToolException;
import io.arpo4j.tools.search.SearchHit;
import io.arpo4j.tools.search.SearchIndex;
import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.zip.GZIPInputStream;
import java.util.zip.Inflater;
import java.util.zip.InflaterInputStream;
import java.util.zip.ZipException;
import org.jsoup.Jsoup;

/**
 * The {@code <browse>} tool: the input is an http(s) URL, whose page is fetched and reduced to
 * readable text (jsoup), or the id of a document of the local corpus. The answer is cut to {@link
 * BrowseConfig#maxChars()}.
 */
public final class BrowseTool implements Tool {
  private final BrowseConfig config;
  private final SearchIndex corpus;
  private final HttpClient client;

  /**
   * The host of a URL could not be reached: its name does not resolve, it refuses the connection,
   * or it does not answer within the timeout. The model sees the message; a caller that fetched a
   * URL for a user (the CLI) reports {@link #url()} and {@link #reason()} instead.
   */
  public static final class UnreachableException extends ToolException {
    private static final long serialVersionUID = 1L;
    private final String url;
    private final String reason;

    UnreachableException(String modelText, URI url, String reason) {
      super(modelText);
      this.url = url.toString();
      this.reason = reason;
    }

    /** The URL whose host could not be reached (after redirects, the hop that failed). */
    public String url() {
      return url;
    }

    /** Why, in a few words: {@code unknown host ...}, {@code connection refused}, ... */
    public String reason() {
      return reason;
    }
  }

  /**
   * @param corpus documents reachable by id, or null for URLs only; the tool does not close it (it
   *     usually belongs to the search tool too)
   */
  public BrowseTool(BrowseConfig config, SearchIndex corpus) {
    this.config = Objects.requireNonNull(config, "config");
    this.corpus = corpus;
    // redirects are followed by hand so that every hop passes the address check
    this.client =
        HttpClient.newBuilder()
            .connectTimeout(config.timeout())
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();
  }

  @Override
  public String tag() {
    return "browse";
  }

  @Override
  public String description() {
    return "returns the text of a page; input: a URL or a document id from a search result";
  }

  @Override
  public Duration timeout() {
    return config.timeout().plusSeconds(5);
  }

  @Override
  public String execute(String input, ToolContext context) throws Exception {
    String target = unwrap(input);
    String lower = target.toLowerCase(Locale.ROOT);
    if (lower.startsWith("http://") || lower.startsWith("https://")) {
      return truncate(fetch(target));
    }
    if (corpus == null) {
      throw new ToolException("Error: browse expects an http(s) URL.");
    }
    Optional<SearchHit> document = corpus.document(target);
    if (document.isEmpty()) {
      throw new ToolException("Error: no document with id '" + clip(target) + "'.");
    }
    SearchHit hit = document.get();
    String title = hit.title() == null ? "" : hit.title().strip();
    return truncate(title.isEmpty() ? hit.text().strip() : title + "\n\n" + hit.text().strip());
  }

  private String fetch(String url) throws Exception {
    long deadline = System.nanoTime() + config.timeout().toNanos();
    URI uri = parse(url);
    for (int hop = 0; hop <= config.maxRedirects(); hop++) {
      requireAllowedAddress(uri);
      Duration left = Duration.ofNanos(Math.max(deadline - System.nanoTime(), 1_000_000));
      HttpRequest request =
          HttpRequest.newBuilder(uri)
              .timeout(left)
              .header("User-Agent", config.userAgent())
              .header("Accept", "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5")
              .header("Accept-Encoding", "gzip, deflate")
              .GET()
              .build();
      HttpResponse<InputStream> response;
      try {
        response = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("browse interrupted");
      } catch (ConnectException | HttpConnectTimeoutException e) {
        throw unreachable(uri, e);
      }
      try (InputStream body = response.body()) {
        int status = response.statusCode();
        Optional<String> location = response.headers().firstValue("Location");
        if (status / 100 == 3 && location.isPresent()) {
          uri = parse(uri.resolve(location.get().strip()).toString());
          continue;
        }
        if (status / 100 != 2) {
          throw new ToolException("Error: HTTP " + status + " from " + uri.getHost() + ".");
        }
        String encoding = response.headers().firstValue("Content-Encoding").orElse("identity");
        byte[] bytes = readDecoded(body, encoding, config.maxBytes());
        String contentType = response.headers().firstValue("Content-Type").orElse("text/html");
        if (isGzipFileType(contentType) && textTypeOf(bytes) != null)
          contentType = textTypeOf(bytes);
        return toText(bytes, contentType, uri.toString());
      }
    }
    throw new ToolException("Error: too many redirects.");
  }

  /**
   * The body with its Content-Encoding undone (gzip, deflate; several are applied in the order
   * listed), then a gzip stream inside it unwrapped too: servers send .gz files and pre-compressed
   * pages without saying so. At most {@code maxBytes} decoded bytes are read, so a compression bomb
   * costs no more than a plain page.
   */
  static byte[] readDecoded(InputStream body, String contentEncoding, int maxBytes)
      throws IOException, ToolException {
    InputStream in = body;
    String[] codings = contentEncoding.toLowerCase(Locale.ROOT).split(",");
    for (int i = codings.length - 1; i >= 0; i--) {
      String coding = codings[i].strip();
      switch (coding) {
        case "", "identity" -> {}
        case "gzip", "x-gzip" -> in = gunzip(in);
        // RFC 9110 deflate is zlib-wrapped; some servers send the raw stream, which the zlib header
        // check tells apart
        case "deflate" -> in = inflate(in);
        default ->
            throw new ToolException("Error: cannot decode content encoding " + clip(coding) + ".");
      }
    }
    in = new BufferedInputStream(in);
    in.mark(2);
    boolean gzipInside = in.read() == 0x1f && in.read() == 0x8b;
    in.reset();
    if (gzipInside) in = gunzip(in);
    try (InputStream decoded = in) {
      return decoded.readNBytes(maxBytes);
    } catch (ZipException | EOFException e) {
      throw new ToolException("Error: the page's compressed body is corrupt.");
    }
  }

  private static boolean isGzipFileType(String contentType) {
    String type = contentType.toLowerCase(Locale.ROOT).split(";")[0].strip();
    return type.equals("application/gzip") || type.equals("application/x-gzip");
  }

  /**
   * The type of an unwrapped .gz file: markup or other text, or null when it holds NUL bytes (not
   * text).
   */
  private static String textTypeOf(byte[] bytes) {
    for (byte b : bytes) {
      if (b == 0) return null;
    }
    String head =
        new String(bytes, 0, Math.min(bytes.length, 512), StandardCharsets.UTF_8).stripLeading();
    if (head.startsWith("\uFEFF")) head = head.substring(1).stripLeading();
    return head.startsWith("<") ? "text/html" : "text/plain";
  }

  private static InputStream gunzip(InputStream in) throws IOException, ToolException {
    try {
      return new GZIPInputStream(in);
    } catch (ZipException | EOFException e) {
      throw new ToolException("Error: the page's compressed body is corrupt.");
    }
  }

  private static InputStream inflate(InputStream in) throws IOException {
    BufferedInputStream buffered = new BufferedInputStream(in);
    buffered.mark(2);
    int cmf = buffered.read(), flg = buffered.read();
    buffered.reset();
    boolean zlibHeader = cmf >= 0 && flg >= 0 && (cmf & 0x0f) == 8 && ((cmf << 8) | flg) % 31 == 0;
    Inflater inflater = new Inflater(!zlibHeader);
    return new InflaterInputStream(buffered, inflater) {
      @Override
      public void close() throws IOException {
        try {
          super.close();
        } finally {
          inflater.end(); // a caller-supplied Inflater is not ended by close()
        }
      }
    };
  }

  private static String toText(byte[] bytes, String contentType, String url) throws ToolException {
    String type = contentType.toLowerCase(Locale.ROOT);
    Charset charset = charsetOf(type);
    if (type.contains("html") || type.contains("xml")) {
      // jsoup sniffs the charset from a BOM or <meta> when the header names none
      String name = type.contains("charset=") ? charset.name() : null;
      try {
        return HtmlText.extract(Jsoup.parse(new ByteArrayInputStream(bytes), name, url));
      } catch (IOException e) {
        throw new ToolException("Error: the page could not be read.");
      }
    }
    if (type.startsWith("text/") || type.contains("json")) {
      return HtmlText.tidy(new String(bytes, charset), true);
    }
    throw new ToolException("Error: cannot read content of type " + clip(contentType) + ".");
  }

  private static Charset charsetOf(String contentType) {
    int at = contentType.indexOf("charset=");
    if (at >= 0) {
      String name = contentType.substring(at + 8).split("[;\\s]")[0].replace("\"", "");
      try {
        return Charset.forName(name);
      } catch (RuntimeException e) {
        // unknown charset: fall through to UTF-8
      }
    }
    return StandardCharsets.UTF_8;
  }

  private static URI parse(String url) throws ToolException {
    try {
      URI uri = new URI(url);
      String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      if (!(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null) {
        throw new ToolException("Error: browse expects an http(s) URL.");
      }
      return uri;
    } catch (URISyntaxException e) {
      throw new ToolException("Error: invalid URL.");
    }
  }

  private void requireAllowedAddress(URI uri) throws ToolException {
    if (config.allowPrivateAddresses()) {
      return;
    }
    try {
      for (InetAddress address : InetAddress.getAllByName(uri.getHost())) {
        if (isPrivate(address)) {
          throw new ToolException("Error: refusing to browse a local or private address.");
        }
      }
    } catch (UnknownHostException e) {
      throw unknownHost(uri);
    }
  }

  private static UnreachableException unknownHost(URI uri) {
    return new UnreachableException(
        "Error: unknown host " + clip(uri.getHost()) + ".", uri, "unknown host " + uri.getHost());
  }

  /** Why a connection failed, taken from the first cause that says. */
  private UnreachableException unreachable(URI uri, IOException e) {
    String reason = null;
    for (Throwable t = e; t != null && reason == null; t = t.getCause()) {
      if (t instanceof UnresolvedAddressException) return unknownHost(uri);
      if (t instanceof HttpConnectTimeoutException) {
        reason = "no answer within " + config.timeout().toSeconds() + " s";
      } else if (t.getMessage() != null && !t.getMessage().isBlank()) {
        reason = t.getMessage().strip().toLowerCase(Locale.ROOT);
      }
    }
    // JDK 17's client says nothing else when a connect() fails: refused, or no route to the host
    if (reason == null) reason = "connection refused or no route to the host";
    String hostPort = uri.getPort() < 0 ? uri.getHost() : uri.getHost() + ":" + uri.getPort();
    return new UnreachableException(
        "Error: cannot reach " + clip(hostPort) + " (" + clip(reason) + ").", uri, reason);
  }

  /** Loopback, unspecified, link-local, private (RFC 1918, ULA), shared (CGNAT) or multicast. */
  static boolean isPrivate(InetAddress address) {
    if (address.isLoopbackAddress()
        || address.isAnyLocalAddress()
        || address.isLinkLocalAddress()
        || address.isSiteLocalAddress()
        || address.isMulticastAddress()) {
      return true;
    }
    byte[] b = address.getAddress();
    if (address instanceof Inet6Address) {
      return (b[0] & 0xfe) == 0xfc;
    }
    return address instanceof Inet4Address
        && ((b[0] & 0xff) == 100 && (b[1] & 0xc0) == 64 || (b[0] & 0xff) == 0);
  }

  private String truncate(String text) {
    if (text.isBlank()) {
      return "";
    }
    if (text.length() <= config.maxChars()) {
      return text;
    }
    int cut = config.maxChars();
    if (Character.isHighSurrogate(text.charAt(cut - 1))) {
      cut--;
    }
    return text.substring(0, cut) + "\n... [page truncated]";
  }

  /** Models often wrap a URL in quotes or angle brackets. */
  private static String unwrap(String input) {
    String s = input.strip();
    while (s.length() >= 2
        && "\"'<`".indexOf(s.charAt(0)) >= 0
        && s.charAt(s.length() - 1) == closing(s.charAt(0))) {
      s = s.substring(1, s.length() - 1).strip();
    }
    return s;
  }

  private static char closing(char open) {
    return open == '<' ? '>' : open;
  }

  private static String clip(String s) {
    return s.length() <= 100 ? s : s.substring(0, 100) + "...";
  }
}
