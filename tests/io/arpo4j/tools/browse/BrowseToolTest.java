package io.arpo4j.tools.browse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.arpo4j.tools.ToolContext;
import io.arpo4j.tools.ToolException;
import io.arpo4j.tools.search.SearchIndex;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BrowseToolTest {
  static final ToolContext CONTEXT = new ToolContext("t", 0);
  static final String PAGE =
      "<!doctype html><html><head><title>Zorblat - Wiki</title>"
          + "<style>body { color: red }</style><script>var secret = 1;</script></head><body>"
          + "<nav><a href='/'>Home</a> | <a href='/x'>Menu</a></nav>"
          + "<h1>Zorblat</h1><p>Zorblat is the <b>capital</b>   of the province.</p>"
          + "<ul><li>Founded: 1204</li><li>Population: 3379</li></ul>"
          + "<div>Line one<br>Line two</div><footer>Copyright</footer></body></html>";

  static final String EXPECTED_PAGE_TEXT =
      "Zorblat - Wiki\n\nZorblat\nZorblat is the capital of the province.\n"
          + "Founded: 1204\nPopulation: 3379\nLine one\nLine two";

  HttpServer server;
  String base;
  volatile String lastAcceptEncoding;

  @BeforeEach
  void startServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 0);
    server.createContext("/page", e -> reply(e, 200, "text/html; charset=utf-8", PAGE));
    server.createContext(
        "/moved",
        e -> {
          e.getResponseHeaders().add("Location", "/page");
          reply(e, 302, "text/plain", "");
        });
    server.createContext(
        "/loop",
        e -> {
          e.getResponseHeaders().add("Location", "/loop");
          reply(e, 301, "text/plain", "");
        });
    server.createContext("/missing", e -> reply(e, 404, "text/html", "<p>nope</p>"));
    server.createContext("/plain", e -> reply(e, 200, "text/plain", "  just\n\n\n\ntext  "));
    server.createContext("/pdf", e -> reply(e, 200, "application/pdf", "%PDF-1.4"));
    server.createContext(
        "/long", e -> reply(e, 200, "text/html", "<p>" + "word ".repeat(5000) + "</p>"));
    byte[] page = PAGE.getBytes(StandardCharsets.UTF_8);
    server.createContext(
        "/gzip",
        e -> {
          lastAcceptEncoding = e.getRequestHeaders().getFirst("Accept-Encoding");
          replyBytes(e, "text/html; charset=utf-8", "gzip", gzip(page));
        });
    server.createContext(
        "/deflate-zlib", e -> replyBytes(e, "text/html", "deflate", deflate(page, false)));
    server.createContext(
        "/deflate-raw", e -> replyBytes(e, "text/html", "deflate", deflate(page, true)));
    server.createContext(
        "/gzip-twice", e -> replyBytes(e, "text/html", "gzip, gzip", gzip(gzip(page))));
    server.createContext("/gz-file", e -> replyBytes(e, "application/gzip", null, gzip(page)));
    server.createContext(
        "/gz-unlabelled", e -> replyBytes(e, "text/plain", null, gzip("plain words".getBytes())));
    server.createContext(
        "/gz-binary", e -> replyBytes(e, "application/x-gzip", null, gzip(new byte[] {1, 0, 2})));
    server.createContext("/brotli", e -> replyBytes(e, "text/html", "br", page));
    server.createContext(
        "/gzip-corrupt",
        e -> replyBytes(e, "text/html", "gzip", Arrays.copyOf(gzip(page), gzip(page).length / 2)));
    server.createContext(
        "/gzip-bomb",
        e -> {
          byte[] zeros = new byte[64 << 20];
          Arrays.fill(zeros, (byte) 'a');
          replyBytes(e, "text/plain", "gzip", gzip(zeros));
        });
    server.start();
    base = "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @AfterEach
  void stopServer() {
    server.stop(0);
  }

  private static void reply(HttpExchange exchange, int status, String type, String body)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().add("Content-Type", type);
    exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
    if (bytes.length > 0) {
      exchange.getResponseBody().write(bytes);
    }
    exchange.close();
  }

  private static void replyBytes(HttpExchange exchange, String type, String encoding, byte[] body)
      throws IOException {
    exchange.getResponseHeaders().add("Content-Type", type);
    if (encoding != null) exchange.getResponseHeaders().add("Content-Encoding", encoding);
    exchange.sendResponseHeaders(200, body.length);
    exchange.getResponseBody().write(body);
    exchange.close();
  }

  private static byte[] gzip(byte[] data) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(data);
    }
    return out.toByteArray();
  }

  private static byte[] deflate(byte[] data, boolean raw) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (DeflaterOutputStream d =
        new DeflaterOutputStream(out, new Deflater(Deflater.DEFAULT_COMPRESSION, raw))) {
      d.write(data);
    }
    return out.toByteArray();
  }

  BrowseTool localTool() {
    return new BrowseTool(BrowseConfig.defaults().withAllowPrivateAddresses(true), null);
  }

  @Test
  void pageBecomesReadableText() throws Exception {
    String text = localTool().execute(base + "/page", CONTEXT);
    assertEquals(EXPECTED_PAGE_TEXT, text);
  }

  @Test
  void compressedPagesAreDecoded() throws Exception {
    for (String path :
        new String[] {"/gzip", "/deflate-zlib", "/deflate-raw", "/gzip-twice", "/gz-file"}) {
      assertEquals(EXPECTED_PAGE_TEXT, localTool().execute(base + path, CONTEXT), path);
    }
    assertEquals("gzip, deflate", lastAcceptEncoding);
    assertEquals("plain words", localTool().execute(base + "/gz-unlabelled", CONTEXT));
  }

  @Test
  void undecodableBodiesAreShortErrors() {
    assertEquals(
        "Error: cannot decode content encoding br.",
        assertThrows(ToolException.class, () -> localTool().execute(base + "/brotli", CONTEXT))
            .getMessage());
    assertEquals(
        "Error: the page's compressed body is corrupt.",
        assertThrows(
                ToolException.class, () -> localTool().execute(base + "/gzip-corrupt", CONTEXT))
            .getMessage());
    assertEquals(
        "Error: cannot read content of type application/x-gzip.",
        assertThrows(ToolException.class, () -> localTool().execute(base + "/gz-binary", CONTEXT))
            .getMessage());
  }

  @Test
  void decodedBytesAreCappedAtMaxBytes() throws Exception {
    BrowseTool small =
        new BrowseTool(
            BrowseConfig.defaults().withAllowPrivateAddresses(true).withMaxChars(100), null);
    assertEquals(
        "a".repeat(100) + "\n... [page truncated]", small.execute(base + "/gzip-bomb", CONTEXT));
    // 8 MiB of zeros compress to 8 KiB: only maxBytes of what they decode to are read
    byte[] decoded =
        BrowseTool.readDecoded(new ByteArrayInputStream(gzip(new byte[8 << 20])), "gzip", 4096);
    assertEquals(4096, decoded.length);
  }

  @Test
  void followsRedirectsAndAcceptsWrappedUrls() throws Exception {
    assertTrue(localTool().execute("<" + base + "/moved>", CONTEXT).startsWith("Zorblat - Wiki"));
    assertTrue(localTool().execute("\"" + base + "/page\"", CONTEXT).startsWith("Zorblat"));
    ToolException loop =
        assertThrows(ToolException.class, () -> localTool().execute(base + "/loop", CONTEXT));
    assertEquals("Error: too many redirects.", loop.getMessage());
  }

  @Test
  void failuresAreShortErrors() {
    assertEquals(
        "Error: HTTP 404 from 127.0.0.1.",
        assertThrows(ToolException.class, () -> localTool().execute(base + "/missing", CONTEXT))
            .getMessage());
    assertEquals(
        "Error: cannot read content of type application/pdf.",
        assertThrows(ToolException.class, () -> localTool().execute(base + "/pdf", CONTEXT))
            .getMessage());
    assertEquals(
        "Error: browse expects an http(s) URL.",
        assertThrows(ToolException.class, () -> localTool().execute("file:///etc/passwd", CONTEXT))
            .getMessage());
  }

  @Test
  void unreachableHostsAreNamedForTheModelAndTheCaller() throws Exception {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = socket.getLocalPort();
    }
    String refused = "http://127.0.0.1:" + closedPort + "/page";
    BrowseTool.UnreachableException e =
        assertThrows(
            BrowseTool.UnreachableException.class, () -> localTool().execute(refused, CONTEXT));
    assertTrue(
        e.getMessage().startsWith("Error: cannot reach 127.0.0.1:" + closedPort + " ("),
        e.getMessage());
    assertEquals(refused, e.url());
    assertTrue(e.reason().contains("refused"), e.reason());

    // both paths to the resolver: the private-address check and the HTTP client itself
    for (BrowseTool tool : List.of(new BrowseTool(BrowseConfig.defaults(), null), localTool())) {
      BrowseTool.UnreachableException unknown =
          assertThrows(
              BrowseTool.UnreachableException.class,
              () -> tool.execute("http://no-such-host.invalid/x", CONTEXT));
      assertEquals("Error: unknown host no-such-host.invalid.", unknown.getMessage());
      assertEquals("http://no-such-host.invalid/x", unknown.url());
      assertEquals("unknown host no-such-host.invalid", unknown.reason());
    }
  }

  @Test
  void plainTextIsTidiedAndLongPagesAreCut() throws Exception {
    assertEquals("just\n\ntext", localTool().execute(base + "/plain", CONTEXT));
    BrowseTool small =
        new BrowseTool(
            BrowseConfig.defaults().withAllowPrivateAddresses(true).withMaxChars(100), null);
    String text = small.execute(base + "/long", CONTEXT);
    assertEquals("word ".repeat(20) + "\n... [page truncated]", text);
  }

  @Test
  void localAddressesAreRefusedByDefault() {
    BrowseTool guarded = new BrowseTool(BrowseConfig.defaults(), null);
    for (String url :
        new String[] {
          base + "/page", "http://localhost:" + server.getAddress().getPort() + "/page"
        }) {
      ToolException e = assertThrows(ToolException.class, () -> guarded.execute(url, CONTEXT));
      assertEquals("Error: refusing to browse a local or private address.", e.getMessage());
    }
  }

  @Test
  void classifiesPrivateAddresses() throws Exception {
    for (String address :
        new String[] {
          "127.0.0.1",
          "10.1.2.3",
          "172.16.0.9",
          "192.168.1.1",
          "169.254.169.254",
          "100.64.0.1",
          "0.0.0.0",
          "224.0.0.1",
          "::1",
          "fc00::1",
          "fd12::1",
          "fe80::1"
        }) {
      assertTrue(BrowseTool.isPrivate(InetAddress.getByName(address)), address);
    }
    for (String address :
        new String[] {"8.8.8.8", "100.128.0.1", "172.32.0.1", "1.1.1.1", "2001:4860:4860::8888"}) {
      assertFalse(BrowseTool.isPrivate(InetAddress.getByName(address)), address);
    }
  }

  @Test
  void opensCorpusDocumentsById(@TempDir Path dir) throws Exception {
    Path corpus =
        Files.writeString(
            dir.resolve("c.jsonl"),
            "{\"id\": \"z1\", \"title\": \"Zorblat\", \"text\": \"Zorblat is a city.\"}\n");
    SearchIndex.build(corpus, dir.resolve("idx"));
    try (SearchIndex index = SearchIndex.open(dir.resolve("idx"))) {
      BrowseTool tool = new BrowseTool(BrowseConfig.defaults(), index);
      assertEquals("Zorblat\n\nZorblat is a city.", tool.execute("z1", CONTEXT));
      assertEquals(
          "Error: no document with id 'z9'.",
          assertThrows(ToolException.class, () -> tool.execute("z9", CONTEXT)).getMessage());
    }
  }
}
