package io.arpo4j.tools.python;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.tools.ToolCall;
import io.arpo4j.tools.ToolContext;
import io.arpo4j.tools.ToolExecutor;
import io.arpo4j.tools.ToolRegistry;
import io.arpo4j.tools.ToolResult;
import io.arpo4j.tools.python.PythonSandboxConfig.Isolation;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What the model sees from the python tool, through the executor. */
class PythonToolTest {
  static ToolRegistry registry;
  static ToolExecutor executor;

  @BeforeAll
  static void start() {
    PythonSandboxConfig config =
        PythonSandboxTest.testConfig(Isolation.AUTO).toBuilder().maxCodeBytes(2000).build();
    registry = new ToolRegistry().register(new PythonTool(config));
    executor = new ToolExecutor(registry, 4);
  }

  @AfterAll
  static void stop() {
    executor.close();
    registry.close();
  }

  static ToolResult run(String code) throws Exception {
    return executor
        .submit(new ToolCall("python", code), new ToolContext("t", 0))
        .get(60, TimeUnit.SECONDS);
  }

  @Test
  void lastBareExpressionIsPrinted() throws Exception {
    ToolResult result = run("x = 37 * 91 + 12\nx");
    assertTrue(result.ok());
    assertEquals("3379", result.output());
  }

  @Test
  void printsComeFirstAndAFinalPrintIsNotRepeated() throws Exception {
    assertEquals("a\nb", run("print('a')\nprint('b')").output());
    assertEquals("a\n[1, 2]", run("print('a')\n[1, 2]").output());
  }

  @Test
  void aFinalNoneValueIsNotPrinted() throws Exception {
    ToolResult result = run("xs = [3, 1, 2]\nprint(sorted(xs))\nxs.sort()");
    assertEquals("[1, 2, 3]", result.output());
  }

  @Test
  void codeWithoutOutputGivesTheEmptyOutputText() throws Exception {
    ToolResult result = run("x = 1");
    assertFalse(result.ok());
    assertEquals("Error: Tool(python) returned empty output.", result.output());
  }

  @Test
  void exceptionShowsOutputSoFarAndTheTraceback() throws Exception {
    ToolResult result = run("print('start')\ndef f(n):\n    return 10 // n\nf(0)");
    assertFalse(result.ok());
    String expected =
        String.join(
            "\n",
            "start",
            "Traceback (most recent call last):",
            "  File \"<code>\", line 4, in <module>",
            "    f(0)",
            "  File \"<code>\", line 3, in f",
            "    return 10 // n",
            "           ~~~^^~~",
            "ZeroDivisionError: integer division or modulo by zero");
    // the caret lines depend on the Python version; compare the rest
    assertEquals(withoutCaretLines(expected), withoutCaretLines(result.output()));
  }

  @Test
  void syntaxErrorNamesTheLine() throws Exception {
    ToolResult result = run("x = (1,\ny = 2");
    assertFalse(result.ok());
    assertTrue(result.output().startsWith("File \"<code>\", line 1"), result.output());
    assertTrue(result.output().endsWith("SyntaxError: '(' was never closed"), result.output());
  }

  /**
   * The CPU limit, under a wall-clock limit long enough that a busy machine (where the loop gets a
   * fraction of a core) still reaches 1 s of CPU first.
   */
  @Test
  void theCpuLimitIsExplainedInOneLine() throws Exception {
    PythonSandboxConfig config =
        PythonSandboxTest.testConfig(Isolation.AUTO).toBuilder()
            .workers(1)
            .timeout(java.time.Duration.ofSeconds(60))
            .build();
    try (ToolRegistry tools = new ToolRegistry().register(new PythonTool(config));
        ToolExecutor busy = new ToolExecutor(tools, 1)) {
      ToolResult result =
          busy.submit(new ToolCall("python", "while True:\n    pass"), new ToolContext("t", 0))
              .get(120, TimeUnit.SECONDS);
      assertFalse(result.ok());
      assertEquals("Error: CPU time limit of 1 s exceeded.", result.output());
    }
  }

  @Test
  void limitsAreExplainedInOneLine() throws Exception {
    ToolResult slow = run("import time\nprint('working', flush=True)\ntime.sleep(30)");
    assertFalse(slow.ok());
    assertEquals("working\nError: execution timed out after 4 s.", slow.output());
    ToolResult loud = run("while True:\n    print('spam')");
    // the first 4096 bytes: 819 lines and the "s" of the next
    assertEquals(
        "spam\n".repeat(819)
            + "s\n"
            + "... [output truncated: more than 4096 bytes; the program was stopped]",
        loud.output());
    ToolResult exit = run("import sys\nsys.exit(3)");
    assertEquals("Error: the program exited with status 3.", exit.output());
  }

  @Test
  void tooLongCodeIsRefused() throws Exception {
    ToolResult result = run("x = 1\n".repeat(400)); // 2399 bytes once stripped
    assertFalse(result.ok());
    assertEquals("Error: the code is too long (2399 bytes; the limit is 2000).", result.output());
  }

  @Test
  void parallelCallsGetTheirOwnAnswers() throws Exception {
    Random random = new Random(20250719);
    List<Long> inputs = new ArrayList<>();
    List<CompletableFuture<ToolResult>> calls = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      long n = 1_000_000 + random.nextInt(1_000_000);
      inputs.add(n);
      // a little CPU work so that calls overlap
      calls.add(
          executor.submit(
              new ToolCall("python", "import time\ntime.sleep(0.05)\nn = " + n + "\nn * n * n"),
              new ToolContext("t", i)));
    }
    for (int i = 0; i < calls.size(); i++) {
      BigInteger n = BigInteger.valueOf(inputs.get(i));
      ToolResult result = calls.get(i).get(60, TimeUnit.SECONDS);
      assertTrue(result.ok(), result.output());
      assertEquals(n.pow(3).toString(), result.output());
    }
  }

  private static String withoutCaretLines(String traceback) {
    return traceback
        .lines()
        .filter(line -> !line.strip().matches("[~^]+"))
        .reduce((a, b) -> a + "\n" + b)
        .orElse("");
  }
}
