package io.arpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ToolCommandTest {
  record Run(int status, String out, String err) {}

  static Run arpo4j(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    return new Run(status, out.toString(), err.toString());
  }

  @Test
  void pythonPrintsTheAppendedResult() {
    Run run = arpo4j("tool", "python", "--code", "x = 37 * 91 + 12\nx");
    assertEquals(0, run.status(), run.err());
    assertEquals(" <result>\n3379\n</result>\n", run.out());
    Run failing = arpo4j("tool", "python", "--code", "1/0");
    assertEquals(1, failing.status());
    assertTrue(failing.out().startsWith(" <result>\nTraceback"), failing.out());
    assertTrue(failing.out().endsWith("ZeroDivisionError: division by zero\n</result>\n"));
  }

  @Test
  void pythonLimitsComeFromTheSandboxDefaultsUnlessGiven() {
    // tools.python_sandbox.timeout_s is 10 in defaults.yaml (JavaDefaultsTest pins it)
    Run sleeping = arpo4j("tool", "python", "--code", "import time\ntime.sleep(60)");
    assertEquals(" <result>\nError: execution timed out after 10 s.\n</result>\n", sleeping.out());
    Run given = arpo4j("tool", "python", "--timeout", "1", "--code", "import time\ntime.sleep(60)");
    assertEquals(" <result>\nError: execution timed out after 1 s.\n</result>\n", given.out());
    Run bad = arpo4j("tool", "python", "--timeout", "0", "--code", "1");
    assertEquals(2, bad.status());
    assertTrue(bad.err().contains("--timeout must be >= 1"), bad.err());
  }

  @Test
  void indexThenSearch(@TempDir Path dir) throws Exception {
    Path corpus =
        Files.writeString(
            dir.resolve("corpus.jsonl"),
            "{\"id\": \"1\", \"title\": \"Zorblat\", \"text\": \"Zorblat is the capital of Quen.\"}\n"
                + "{\"id\": \"2\", \"title\": \"Quen\", \"text\": \"Quen is a province.\"}\n");
    Run index =
        arpo4j("index", "--corpus", corpus.toString(), "--out", dir.resolve("idx").toString());
    assertEquals(0, index.status(), index.err());
    assertTrue(index.out().contains("indexed 2 documents"), index.out());
    Run search =
        arpo4j(
            "tool",
            "search",
            "--index",
            dir.resolve("idx").toString(),
            "--query",
            "capital of Zorblat",
            "--k",
            "1");
    assertEquals(
        " <result>\nPage 1: Zorblat\nZorblat is the capital of Quen.\n</result>\n", search.out());
    Run browse =
        arpo4j("tool", "browse", "--index", dir.resolve("idx").toString(), "--target", "2");
    assertEquals(" <result>\nQuen\n\nQuen is a province.\n</result>\n", browse.out());
  }

  @Test
  void badCorpusIsAShortError(@TempDir Path dir) throws Exception {
    Path corpus = Files.writeString(dir.resolve("bad.jsonl"), "{\"title\": \"no id\"}\n");
    Run index =
        arpo4j("index", "--corpus", corpus.toString(), "--out", dir.resolve("i").toString());
    assertEquals(Main.BAD_INPUT, index.status());
    assertTrue(index.err().startsWith("error: ") && index.err().contains("line 1"), index.err());
    assertEquals(1, index.err().lines().count(), index.err());
  }
}
