package io.arpo4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every package of the library says what it is for, in its package-info.java. */
class PackageInfoTest {
  private static final Path SOURCES = Path.of("java", "io", "arpo4j");

  /** The directories under {@code root} that hold Java sources but no package-info.java. */
  static List<Path> packagesWithoutPackageInfo(Path root) throws IOException {
    try (Stream<Path> dirs = Files.walk(root)) {
      return dirs.filter(Files::isDirectory)
          .filter(dir -> holdsJavaSources(dir) && !Files.exists(dir.resolve("package-info.java")))
          .map(root::relativize)
          .sorted()
          .toList();
    }
  }

  private static boolean holdsJavaSources(Path dir) {
    try (Stream<Path> files = Files.list(dir)) {
      return files.anyMatch(f -> f.getFileName().toString().endsWith(".java"));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void everyPackageHasAPackageInfo() throws IOException {
    assertTrue(Files.isDirectory(SOURCES), "run from the repository root: " + SOURCES);
    assertEquals(List.of(), packagesWithoutPackageInfo(SOURCES));
  }

  @Test
  void aPackageWithoutOneIsNamed(@TempDir Path root) throws IOException {
    Files.createDirectories(root.resolve("documented/empty"));
    Files.writeString(root.resolve("documented/A.java"), "package documented;");
    Files.writeString(root.resolve("documented/package-info.java"), "package documented;");
    Files.createDirectories(root.resolve("documented/bare"));
    Files.writeString(root.resolve("documented/bare/B.java"), "package documented.bare;");
    assertEquals(List.of(Path.of("documented/bare")), packagesWithoutPackageInfo(root));
  }
}
