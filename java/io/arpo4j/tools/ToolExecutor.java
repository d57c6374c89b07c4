package io.arpo4j.tools;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs tool calls asynchronously on a fixed number of threads. Every call ends in a {@link
 * ToolResult} (the future never completes exceptionally): timeouts, exceptions, empty output,
 * unknown tags and empty input all become a short error text for the model.
 *
 * <p>A call's timeout ({@link Tool#timeout()}) counts from when it starts running, not from when it
 * was submitted. At the timeout the result is completed with an error and the running thread is
 * interrupted; a tool that ignores interrupts keeps its thread busy until it returns (the built-in
 * tools bound their own work).
 */
public final class ToolExecutor implements AutoCloseable {
  private static final AtomicInteger EXECUTORS = new AtomicInteger();

  private final ToolRegistry registry;
  private final int maxOutputChars;
  private final ExecutorService threads;
  private final ScheduledExecutorService timer;

  public ToolExecutor(ToolRegistry registry, int threads) {
    this(registry, threads, TrajectoryFormat.DEFAULT_MAX_OUTPUT_CHARS);
  }

  /**
   * @param threads how many calls run at once (further calls wait in a queue)
   * @param maxOutputChars longer results are cut to this length ({@link TrajectoryFormat#truncate})
   */
  public ToolExecutor(ToolRegistry registry, int threads, int maxOutputChars) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1, got " + threads);
    }
    if (maxOutputChars < 64) {
      throw new IllegalArgumentException("maxOutputChars must be >= 64, got " + maxOutputChars);
    }
    this.registry = Objects.requireNonNull(registry, "registry");
    this.maxOutputChars = maxOutputChars;
    int id = EXECUTORS.incrementAndGet();
    this.threads = Executors.newFixedThreadPool(threads, daemonThreads("arpo4j-tool-" + id));
    this.timer =
        Executors.newSingleThreadScheduledExecutor(daemonThreads("arpo4j-tool-timer-" + id));
  }

  /**
   * Starts a call. The future completes with the call's result, successful or not.
   *
   * @throws IllegalStateException if the executor is closed
   */
  public CompletableFuture<ToolResult> submit(ToolCall call, ToolContext context) {
    Objects.requireNonNull(context, "context");
    String tag = call.tag();
    String input = call.input().strip();
    Optional<Tool> tool = registry.get(tag);
    if (tool.isEmpty()) {
      return CompletableFuture.completedFuture(
          failure(
              tag, input, TrajectoryFormat.unknownToolError(tag, registry.tags()), Duration.ZERO));
    }
    if (input.isEmpty()) {
      return CompletableFuture.completedFuture(
          failure(tag, input, TrajectoryFormat.emptyInputError(tag), Duration.ZERO));
    }
    Call pending = new Call(tool.get(), input, context);
    try {
      threads.execute(pending);
    } catch (RejectedExecutionException e) {
      throw new IllegalStateException("tool executor is closed", e);
    }
    return pending.result;
  }

  /** Stops the threads; calls still waiting complete with an error. Does not close the tools. */
  @Override
  public void close() {
    for (Runnable neverStarted : threads.shutdownNow()) {
      if (neverStarted instanceof Call call) {
        call.result.complete(
            failure(
                call.tool.tag(),
                call.input,
                TrajectoryFormat.cancelledError(call.tool.tag()),
                Duration.ZERO));
      }
    }
    timer.shutdownNow();
  }

  /** One submitted call: runs the tool under its timeout and completes {@link #result}. */
  private final class Call implements Runnable {
    final Tool tool;
    final String input;
    final ToolContext context;
    final CompletableFuture<ToolResult> result = new CompletableFuture<>();
    private Thread runner;

    Call(Tool tool, String input, ToolContext context) {
      this.tool = tool;
      this.input = input;
      this.context = context;
    }

    @Override
    public void run() {
      String tag = tool.tag();
      long start = System.nanoTime();
      Duration timeout = tool.timeout();
      synchronized (this) {
        runner = Thread.currentThread();
      }
      ScheduledFuture<?> alarm =
          timer.schedule(
              () -> {
                String text = TrajectoryFormat.timeoutError(tag, timeout);
                if (result.complete(failure(tag, input, text, since(start)))) {
                  interruptRunner();
                }
              },
              timeout.toNanos(),
              TimeUnit.NANOSECONDS);
      try {
        String text = tool.execute(input, context);
        result.complete(
            text == null || text.isBlank()
                ? failure(tag, input, TrajectoryFormat.emptyOutputError(tag), since(start))
                : new ToolResult(tag, input, bound(text.strip()), true, since(start)));
      } catch (ToolException e) {
        String text =
            e.getMessage() == null || e.getMessage().isBlank()
                ? TrajectoryFormat.failedError(tag)
                : bound(e.getMessage().strip());
        result.complete(failure(tag, input, text, since(start)));
      } catch (InterruptedException e) {
        result.complete(failure(tag, input, TrajectoryFormat.interruptedError(tag), since(start)));
      } catch (Throwable t) {
        result.complete(failure(tag, input, TrajectoryFormat.failedError(tag, t), since(start)));
        if (t instanceof VirtualMachineError) {
          throw (VirtualMachineError) t;
        }
      } finally {
        alarm.cancel(false);
        synchronized (this) {
          runner = null;
          Thread.interrupted(); // a late timeout interrupt must not leak into the next call
        }
      }
    }

    private synchronized void interruptRunner() {
      if (runner != null) {
        runner.interrupt();
      }
    }
  }

  private String bound(String text) {
    return TrajectoryFormat.truncate(text, maxOutputChars);
  }

  private static ToolResult failure(String tag, String input, String text, Duration latency) {
    return new ToolResult(tag, input, text, false, latency);
  }

  private static Duration since(long startNanos) {
    return Duration.ofNanos(System.nanoTime() - startNanos);
  }

  private static ThreadFactory daemonThreads(String prefix) {
    AtomicInteger count = new AtomicInteger();
    return runnable -> {
      Thread thread = new Thread(runnable, prefix + "-" + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }
}
