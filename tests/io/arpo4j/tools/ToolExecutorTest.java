package io.arpo4j.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ToolExecutorTest {
  static final ToolContext CONTEXT = new ToolContext("trajectory-0", 0);

  /** A tool whose behaviour is a function of its input. */
  static final class ScriptedTool implements Tool {
    final AtomicBoolean interrupted = new AtomicBoolean();
    final AtomicInteger running = new AtomicInteger();
    final AtomicInteger maxRunning = new AtomicInteger();
    CountDownLatch release = new CountDownLatch(0);

    @Override
    public String tag() {
      return "calc";
    }

    @Override
    public Duration timeout() {
      return Duration.ofMillis(300);
    }

    @Override
    public String execute(String input, ToolContext context) throws Exception {
      maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
      try {
        switch (input) {
          case "hang":
            try {
              Thread.sleep(60_000);
            } catch (InterruptedException e) {
              interrupted.set(true);
              throw e;
            }
            return "never";
          case "boom":
            throw new IllegalStateException("disk on fire\nsecond line of detail");
          case "traceback":
            throw new ToolException("Traceback ...\nZeroDivisionError: division by zero");
          case "silent":
            return "  \n";
          case "huge":
            return "z".repeat(10_000);
          case "wait":
            release.await();
            return "released";
          default:
            return "=" + Integer.parseInt(input.trim()) * 2;
        }
      } finally {
        running.decrementAndGet();
      }
    }
  }

  final ScriptedTool tool = new ScriptedTool();
  final ToolExecutor executor = new ToolExecutor(new ToolRegistry().register(tool), 2, 1000);

  @AfterEach
  void close() {
    executor.close();
  }

  ToolResult call(String tag, String input) throws Exception {
    return executor.submit(new ToolCall(tag, input), CONTEXT).get(10, TimeUnit.SECONDS);
  }

  @Test
  void successCarriesTheStrippedOutput() throws Exception {
    ToolResult result = call("calc", "  21 ");
    assertTrue(result.ok());
    assertEquals("=42", result.output());
    assertEquals("21", result.input());
    assertEquals("calc", result.tag());
  }

  @Test
  void timeoutBecomesAnErrorAndInterruptsTheTool() throws Exception {
    ToolResult result = call("calc", "hang");
    assertFalse(result.ok());
    assertEquals("Error: Tool(calc) timed out after 300 ms.", result.output());
    // the interrupted thread is free again: the pool still runs calls
    assertEquals("=2", call("calc", "1").output());
    assertTrue(waitFor(tool.interrupted::get), "the tool thread was not interrupted");
  }

  @Test
  void exceptionsBecomeOneShortLine() throws Exception {
    ToolResult result = call("calc", "boom");
    assertFalse(result.ok());
    assertEquals("Error: Tool(calc) failed: IllegalStateException: disk on fire", result.output());
    ToolResult parse = call("calc", "not a number");
    assertEquals(
        "Error: Tool(calc) failed: NumberFormatException: For input string: " + "\"not a number\"",
        parse.output());
  }

  @Test
  void toolExceptionTextIsShownAsIs() throws Exception {
    ToolResult result = call("calc", "traceback");
    assertFalse(result.ok());
    assertEquals("Traceback ...\nZeroDivisionError: division by zero", result.output());
  }

  @Test
  void emptyOutputUnknownToolAndEmptyInputAreErrors() throws Exception {
    ToolResult silent = call("calc", "silent");
    assertFalse(silent.ok());
    assertEquals("Error: Tool(calc) returned empty output.", silent.output());
    ToolResult unknown = call("browse", "x");
    assertFalse(unknown.ok());
    assertEquals("Error: unknown tool 'browse'. Available tools: calc.", unknown.output());
    ToolResult empty = call("calc", " \n ");
    assertFalse(empty.ok());
    assertEquals("Error: empty input for tool 'calc'.", empty.output());
  }

  @Test
  void longOutputIsBounded() throws Exception {
    ToolResult result = call("calc", "huge");
    assertTrue(result.ok());
    assertEquals("z".repeat(1000) + "\n... [output truncated]", result.output());
  }

  @Test
  void runsAtMostThreadsCallsAtOnceAndAllComplete() throws Exception {
    tool.release = new CountDownLatch(1);
    List<CompletableFuture<ToolResult>> waiting = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      waiting.add(executor.submit(new ToolCall("calc", "wait"), CONTEXT));
    }
    assertTrue(waitFor(() -> tool.running.get() == 2));
    tool.release.countDown();
    for (CompletableFuture<ToolResult> f : waiting) {
      assertEquals("released", f.get(10, TimeUnit.SECONDS).output());
    }
    assertEquals(2, tool.maxRunning.get());
  }

  @Test
  void closingCompletesQueuedCallsAndRefusesNewOnes() throws Exception {
    tool.release = new CountDownLatch(1);
    List<CompletableFuture<ToolResult>> calls = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      calls.add(executor.submit(new ToolCall("calc", "wait"), CONTEXT));
    }
    assertTrue(waitFor(() -> tool.running.get() == 2));
    executor.close();
    ToolResult queued = calls.get(2).get(10, TimeUnit.SECONDS);
    assertFalse(queued.ok());
    assertEquals("Error: Tool(calc) was cancelled.", queued.output());
    assertThrows(
        IllegalStateException.class, () -> executor.submit(new ToolCall("calc", "1"), CONTEXT));
  }

  static boolean waitFor(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      if (condition.getAsBoolean()) {
        return true;
      }
      Thread.sleep(10);
    }
    return false;
  }
}
