package io.arpo4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.trainer.Trainer;
import java.io.IOException;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code ```java} block of README.md and docs/*.md compiles against the library (README once
 * showed a {@code PolicyModel.load(dir)} that does not exist).
 *
 * <p>The convention: a block is the body of a method that may throw any exception, with every
 * arpo4j package and {@link #JDK_IMPORTS} imported on demand; import lines at its top are added to
 * those (to pick one of two classes of one name, e.g. {@code io.arpo4j.tools.ToolCall}). A block
 * that declares a type ({@code class}, {@code record}, ...) after its imports is a compilation unit
 * of its own. Names a block assumes (the user's own tool, a variable from the surrounding text) are
 * declared in an HTML comment right above its fence, invisible on the rendered page:
 *
 * <pre>
 * &lt;!-- java context: int seed = 1; class MyTool implements Tool { ... } --&gt;
 * </pre>
 *
 * Its text becomes members of the class around the method; it may not declare a type that arpo4j
 * has, so it cannot stand in for the library.
 */
class ReadmeSnippetsTest {
  static final List<String> JDK_IMPORTS =
      List.of("java.util", "java.util.function", "java.util.concurrent", "java.nio.file");

  private static final Pattern FENCE_OPEN = Pattern.compile("^\\s*```java\\s*$");
  private static final Pattern FENCE_CLOSE = Pattern.compile("^\\s*```\\s*$");
  private static final String CONTEXT_OPEN = "<!-- java context:";
  private static final Pattern TYPE_DECLARATION =
      Pattern.compile(
          "^(?:(?:public|final|abstract|sealed|static)\\s+)*(?:class|record|interface|enum)\\s+(\\w+)");
  private static final Pattern DECLARED_TYPE =
      Pattern.compile("\\b(?:class|record|interface|enum)\\s+(\\w+)");

  /** One {@code ```java} block: where it is, its lines, and the context declared above it. */
  record Block(String file, int fenceLine, List<String> lines, String context) {
    String where() {
      return file + ":" + (fenceLine + 1);
    }
  }

  @Test
  void everyJavaBlockOfTheDocsCompiles() throws IOException {
    Path root = Path.of(System.getProperty("user.dir"));
    List<Block> blocks = new ArrayList<>(blocks(root, root.resolve("README.md")));
    try (Stream<Path> docs = Files.list(root.resolve("docs"))) {
      for (Path doc : docs.filter(p -> p.toString().endsWith(".md")).sorted().toList()) {
        blocks.addAll(blocks(root, doc));
      }
    }
    assertTrue(
        blocks.stream().anyMatch(b -> b.file().equals("README.md")),
        "README.md has a java block: " + blocks);
    List<String> errors = compile(blocks);
    assertTrue(errors.isEmpty(), "java blocks that do not compile:\n" + String.join("\n", errors));
  }

  @Test
  void aCallOfAMethodTheLibraryLacksIsNamedWithItsLine(@TempDir Path dir) throws IOException {
    Path doc =
        Files.writeString(
            dir.resolve("DOC.md"),
            String.join(
                "\n",
                "# Use",
                "<!-- java context: Path modelDir = Path.of(\"m\"); -->",
                "```java",
                "RuntimeOptions runtime = RuntimeOptions.cpu();",
                "PolicyModel model = PolicyModel.load(modelDir);",
                "```",
                ""));
    List<String> errors = compile(blocks(dir, doc));
    assertEquals(1, errors.size(), errors.toString());
    assertTrue(errors.get(0).startsWith("DOC.md:5: "), errors.get(0));
    assertTrue(errors.get(0).contains("PolicyModel"), errors.get(0));
  }

  @Test
  void aContextMayNotStandInForALibraryClass(@TempDir Path dir) throws IOException {
    Path doc =
        Files.writeString(
            dir.resolve("DOC.md"),
            String.join(
                "\n",
                "<!-- java context: static class PolicyModel { static Object load(Path p) { return p;",
                "} } -->",
                "```java",
                "PolicyModel.load(Path.of(\"m\"));",
                "```",
                ""));
    List<String> errors = compile(blocks(dir, doc));
    assertEquals(1, errors.size(), errors.toString());
    assertTrue(errors.get(0).startsWith("DOC.md:3: "), errors.get(0));
    assertTrue(errors.get(0).contains("PolicyModel"), errors.get(0));
  }

  /** The {@code ```java} blocks of {@code markdown}, named relative to {@code root}. */
  static List<Block> blocks(Path root, Path markdown) throws IOException {
    List<String> lines = Files.readAllLines(markdown);
    String file = root.relativize(markdown).toString();
    List<Block> blocks = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      if (!FENCE_OPEN.matcher(lines.get(i)).matches()) continue;
      int end = i + 1;
      while (end < lines.size() && !FENCE_CLOSE.matcher(lines.get(end)).matches()) end++;
      if (end == lines.size()) {
        throw new AssertionError(file + ":" + (i + 1) + ": a java block without its closing ```");
      }
      blocks.add(new Block(file, i, lines.subList(i + 1, end), contextAbove(lines, i)));
      i = end;
    }
    return blocks;
  }

  /** The text of a {@code <!-- java context: ... -->} comment ending right above line {@code i}. */
  private static String contextAbove(List<String> lines, int fence) {
    if (fence == 0 || !lines.get(fence - 1).trim().endsWith("-->")) return "";
    int start = fence - 1;
    while (start >= 0 && !lines.get(start).trim().startsWith("<!--")) start--;
    if (start < 0 || !lines.get(start).trim().startsWith(CONTEXT_OPEN)) return "";
    String text = String.join("\n", lines.subList(start, fence)).trim();
    return text.substring(CONTEXT_OPEN.length(), text.length() - "-->".length());
  }

  /**
   * Compiles every block in one javac run; returns one line per error, {@code file:line: message},
   * with the line in the markdown file.
   */
  static List<String> compile(List<Block> blocks) throws IOException {
    List<String> errors = new ArrayList<>();
    List<String> imports = new ArrayList<>();
    for (String pkg : arpo4jPackages()) imports.add("import " + pkg + ".*;");
    for (String pkg : JDK_IMPORTS) imports.add("import " + pkg + ".*;");
    Set<String> libraryTypes = libraryTypeNames();

    List<JavaFileObject> sources = new ArrayList<>();
    List<Source> wrapped = new ArrayList<>();
    for (int b = 0; b < blocks.size(); b++) {
      Block block = blocks.get(b);
      Matcher stolen = DECLARED_TYPE.matcher(block.context());
      while (stolen.find()) {
        if (libraryTypes.contains(stolen.group(1))) {
          errors.add(
              block.where()
                  + ": the java context declares "
                  + stolen.group(1)
                  + ", which arpo4j has: it would stand in for the library's");
        }
      }
      Source source = Source.wrap(block, "Snippet" + b, imports);
      wrapped.add(source);
      sources.add(source);
    }
    if (!errors.isEmpty()) return errors;

    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    Path out = Files.createTempDirectory("arpo4j-snippets");
    try {
      List<String> options =
          List.of("-classpath", testClassPath(), "-d", out.toString(), "-proc:none", "-Xlint:none");
      javac.getTask(new StringWriter(), null, diagnostics, options, null, sources).call();
    } finally {
      try (Stream<Path> files = Files.walk(out)) {
        for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.delete(p);
        }
      }
    }
    for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
      if (d.getKind() != Diagnostic.Kind.ERROR) continue;
      Source source = wrapped.get(sources.indexOf(d.getSource()));
      // javac's message spans lines (symbol, location); one line each, without the wrapper's name
      String message =
          d.getMessage(Locale.ROOT)
              .lines()
              .map(String::trim)
              .filter(l -> !l.matches("location: class Snippet\\d+"))
              .collect(java.util.stream.Collectors.joining("; "));
      errors.add(source.locate(d.getLineNumber()) + ": " + message);
    }
    return errors;
  }

  /** A block wrapped into a compilation unit, and how its lines map back to the markdown. */
  private static final class Source extends SimpleJavaFileObject {
    private final Block block;
    private final String text;

    /** The unit's line (1-based) holding the block's first line after its imports. */
    private final int firstRestLine;

    /** The index in the block of its first line after its imports. */
    private final int restStart;

    private Source(Block block, String className, String text, int firstRestLine, int restStart) {
      super(URI.create("string:///" + className + Kind.SOURCE.extension), Kind.SOURCE);
      this.block = block;
      this.text = text;
      this.firstRestLine = firstRestLine;
      this.restStart = restStart;
    }

    static Source wrap(Block block, String className, List<String> libraryImports) {
      int restStart = 0;
      while (restStart < block.lines().size()
          && (block.lines().get(restStart).isBlank()
              || block.lines().get(restStart).startsWith("import "))) {
        restStart++;
      }
      List<String> ownImports = block.lines().subList(0, restStart);
      List<String> rest = block.lines().subList(restStart, block.lines().size());
      Matcher type =
          TYPE_DECLARATION.matcher(rest.stream().filter(l -> !l.isBlank()).findFirst().orElse(""));
      StringBuilder unit = new StringBuilder();
      for (String line : libraryImports) unit.append(line).append('\n');
      for (String line : ownImports) unit.append(line).append('\n');
      String name = className;
      boolean compilationUnit = type.find();
      if (compilationUnit) {
        name = type.group(1); // a public type must live in a file of its name
      } else {
        unit.append("class ").append(className).append(" {\n");
        unit.append(block.context()).append('\n');
        unit.append("void run() throws Exception {\n");
      }
      int header = (int) unit.chars().filter(c -> c == '\n').count();
      for (String line : rest) unit.append(line).append('\n');
      if (compilationUnit) {
        unit.append(block.context()).append('\n'); // the context's types beside the block's
      } else {
        unit.append("}\n}\n");
      }
      return new Source(block, name, unit.toString(), header + 1, restStart);
    }

    /** {@code file:line} in the markdown of line {@code unitLine} of this unit. */
    String locate(long unitLine) {
      long index = restStart + unitLine - firstRestLine;
      if (index < restStart || index >= block.lines().size()) {
        return block.where(); // in the context or the wrapping: the fence's line
      }
      return block.file() + ":" + (block.fenceLine() + 2 + index);
    }

    @Override
    public CharSequence getCharContent(boolean ignoreEncodingErrors) {
      return text;
    }
  }

  /**
   * The class path the tests run with: surefire's own list when it runs them from a manifest-only
   * jar, else java.class.path.
   */
  private static String testClassPath() {
    return System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
  }

  /** Every package under io.arpo4j that holds a class, from wherever arpo4j's classes are. */
  static Set<String> arpo4jPackages() throws IOException {
    Set<String> packages = new TreeSet<>();
    for (Path cls : arpo4jClassFiles()) {
      packages.add(cls.getParent().toString().replace('/', '.').replaceFirst("^\\.", ""));
    }
    assertFalse(packages.isEmpty(), "no arpo4j classes found");
    return packages;
  }

  /** The simple names of arpo4j's top-level classes. */
  private static Set<String> libraryTypeNames() throws IOException {
    Set<String> names = new TreeSet<>();
    for (Path cls : arpo4jClassFiles()) {
      String file = cls.getFileName().toString();
      if (!file.contains("$")) names.add(file.substring(0, file.length() - ".class".length()));
    }
    return names;
  }

  /** The .class files of io.arpo4j, relative to their class path root (a directory or a jar). */
  private static List<Path> arpo4jClassFiles() throws IOException {
    Path location;
    try {
      location = Path.of(Trainer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (java.net.URISyntaxException e) {
      throw new IOException(e);
    }
    if (Files.isDirectory(location)) return classFiles(location);
    try (FileSystem jar = FileSystems.newFileSystem(location)) {
      return classFiles(jar.getPath("/")).stream()
          .map(p -> Path.of(p.toString().replaceFirst("^/", "")))
          .toList();
    }
  }

  private static List<Path> classFiles(Path root) throws IOException {
    try (Stream<Path> files = Files.walk(root.resolve("io/arpo4j"))) {
      return files
          .filter(p -> p.toString().endsWith(".class"))
          .filter(p -> !p.getFileName().toString().equals("package-info.class"))
          .map(p -> Path.of(root.relativize(p).toString()))
          .toList();
    }
  }
}
