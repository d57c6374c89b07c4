package io.arpo4j.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ToolRegistryTest {
  /** Found through ServiceLoader in {@link #loadsToolsListedAsServices}. */
  public static final class EchoTool implements Tool {
    @Override
    public String tag() {
      return "echo";
    }

    @Override
    public String execute(String input, ToolContext context) {
      return input;
    }
  }

  static Tool tool(String tag, AtomicInteger closed) {
    return new Tool() {
      @Override
      public String tag() {
        return tag;
      }

      @Override
      public String execute(String input, ToolContext context) {
        return tag + ":" + input;
      }

      @Override
      public void close() {
        closed.incrementAndGet();
      }
    };
  }

  @Test
  void registersByTagAndClosesItsTools() {
    AtomicInteger closed = new AtomicInteger();
    ToolRegistry registry =
        new ToolRegistry().register(tool("python", closed)).register(tool("search", closed));
    assertEquals(List.of("python", "search"), registry.tags());
    assertEquals("search", registry.get("search").orElseThrow().tag());
    assertTrue(registry.get("browse").isEmpty());
    assertEquals(List.of("</python>", "</search>"), registry.format().stopStrings());
    registry.close();
    assertEquals(2, closed.get());
    assertTrue(registry.tags().isEmpty());
  }

  @Test
  void rejectsDuplicateAndInvalidTags() {
    AtomicInteger closed = new AtomicInteger();
    ToolRegistry registry = new ToolRegistry().register(tool("python", closed));
    IllegalArgumentException duplicate =
        assertThrows(
            IllegalArgumentException.class, () -> registry.register(tool("python", closed)));
    assertTrue(duplicate.getMessage().contains("already"), duplicate.getMessage());
    assertThrows(IllegalArgumentException.class, () -> registry.register(tool("Py thon", closed)));
    assertThrows(IllegalArgumentException.class, () -> registry.register(tool(null, closed)));
    IllegalArgumentException reserved =
        assertThrows(
            IllegalArgumentException.class, () -> registry.register(tool("answer", closed)));
    assertTrue(reserved.getMessage().contains("reserved"), reserved.getMessage());
  }

  @Test
  void loadsToolsListedAsServices(@TempDir Path dir) throws Exception {
    Path services = Files.createDirectories(dir.resolve("META-INF/services"));
    Files.writeString(services.resolve(Tool.class.getName()), EchoTool.class.getName() + "\n");
    try (URLClassLoader loader =
        new URLClassLoader(new URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
      ToolRegistry registry = new ToolRegistry();
      assertEquals(1, registry.registerServices(loader));
      assertEquals("hi", registry.get("echo").orElseThrow().execute("hi", new ToolContext("t", 0)));
    }
  }
}
