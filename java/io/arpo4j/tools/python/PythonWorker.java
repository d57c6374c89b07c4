package io.arpo4j.tools.python;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One python_worker.py process and its JSON-lines protocol. Not thread-safe: the pool hands a
 * worker to one call at a time. Any protocol failure leaves the worker dead; the pool replaces it.
 */
final class PythonWorker implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Time the worker gets beyond a call's own timeout to kill, reap and clean up: this plus the
   * timeout again, since removing what a call wrote takes time of the order of writing it (a
   * 3,000-deep tree takes ~10 s to remove from a VM's ext4 disk).
   */
  private static final Duration GRACE = Duration.ofSeconds(5);

  private static final int STDERR_TAIL_CHARS = 2000;

  private final Process process;
  private final OutputStream requests;
  private final InputStream responses;
  private final StringBuilder stderrTail = new StringBuilder();
  private final int maxResponseBytes;
  private final Path scratch;
  private volatile boolean killedByWatchdog;
  private List<String> protections = List.of();
  private List<String> notes = List.of();
  private long lastId;

  private PythonWorker(Process process, int maxResponseBytes, Path scratch) {
    this.process = process;
    this.requests = process.getOutputStream();
    this.responses = new BufferedInputStream(process.getInputStream());
    this.maxResponseBytes = maxResponseBytes;
    this.scratch = scratch;
    Thread drain = new Thread(this::drainStderr, "arpo4j-python-stderr-" + process.pid());
    drain.setDaemon(true);
    drain.start();
  }

  /**
   * Starts a worker process; call {@link #awaitReady} before using it.
   *
   * @param scratch the host directory the worker uses without namespaces (deleted on close), or
   *     null
   */
  static PythonWorker launch(
      List<String> command, Map<String, String> environment, Path scratch, int outputLimitBytes)
      throws IOException {
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().clear();
    builder.environment().putAll(environment);
    builder.directory(scratch != null ? scratch.toFile() : Path.of("/").toFile());
    // JSON escapes at most 6 bytes per output byte; the rest of a response is small
    return new PythonWorker(builder.start(), outputLimitBytes * 6 + 4096, scratch);
  }

  /** Waits for the worker's ready line; kills the worker and throws if it does not come. */
  void awaitReady(Duration timeout, ScheduledExecutorService watchdog) throws IOException {
    JsonNode ready = exchange(null, timeout, watchdog);
    if (!ready.path("ready").asBoolean(false)) {
      close();
      throw new IOException(
          "python worker failed to start: " + ready.path("error").asText("no reason given"));
    }
    protections = strings(ready.path("protections"));
    notes = strings(ready.path("notes"));
  }

  /** Runs one call; throws when the worker breaks (it is then dead). */
  PythonRun run(String code, Duration timeout, ScheduledExecutorService watchdog)
      throws IOException {
    ObjectNode request = JSON.createObjectNode();
    request.put("id", ++lastId);
    request.put("code", code);
    request.put("timeout", timeout.toMillis() / 1000.0);
    JsonNode response = exchange(request, timeout.multipliedBy(2).plus(GRACE), watchdog);
    if (response.path("id").asLong(-1) != lastId) {
      close();
      throw new IOException("python worker answered out of turn: " + response.path("id"));
    }
    String status = response.path("status").asText("");
    if (status.equals("internal_error")) {
      throw new IOException("python worker error: " + response.path("output").asText());
    }
    return new PythonRun(
        PythonRun.Status.valueOf(status.toUpperCase(java.util.Locale.ROOT)),
        response.path("output").asText(""),
        response.path("exit_code").isInt() ? response.path("exit_code").asInt() : -1,
        response.path("signal").asInt(0),
        Duration.ofNanos((long) (response.path("wall_s").asDouble(0) * 1e9)));
  }

  /**
   * Sends {@code request} (none for the ready line) and reads one response line, bounded in time.
   */
  private JsonNode exchange(ObjectNode request, Duration timeout, ScheduledExecutorService watchdog)
      throws IOException {
    ScheduledFuture<?> alarm =
        watchdog.schedule(
            () -> {
              killedByWatchdog = true;
              close();
            },
            timeout.toMillis(),
            TimeUnit.MILLISECONDS);
    try {
      if (request != null) {
        requests.write(JSON.writeValueAsBytes(request));
        requests.write('\n');
        requests.flush();
      }
      return JSON.readTree(readLine());
    } catch (IOException e) {
      close();
      throw new IOException(e.getMessage() + stderrSuffix(), e);
    } finally {
      alarm.cancel(false);
    }
  }

  private String readLine() throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    while (true) {
      int b = responses.read();
      if (b < 0) {
        throw new EOFException("python worker exited");
      }
      if (b == '\n') {
        return line.toString(StandardCharsets.UTF_8);
      }
      if (line.size() >= maxResponseBytes) {
        throw new IOException("python worker response longer than " + maxResponseBytes + " bytes");
      }
      line.write(b);
    }
  }

  /** The worker's process (in namespaces: the unshare launcher) and its descendants. */
  List<ProcessHandle> processes() {
    List<ProcessHandle> all = new ArrayList<>();
    all.add(process.toHandle());
    process.descendants().forEach(all::add);
    return all;
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /** True when the worker was killed because it did not answer within a call's time. */
  boolean killedByWatchdog() {
    return killedByWatchdog;
  }

  List<String> protections() {
    return protections;
  }

  List<String> notes() {
    return notes;
  }

  /** Kills the worker and everything it started; idempotent, callable from any thread. */
  @Override
  public void close() {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    closeQuietly(requests);
    closeQuietly(responses);
    if (scratch != null) {
      try {
        process.waitFor(5, TimeUnit.SECONDS);
        PythonWorkerPool.deleteTree(scratch);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (IOException | RuntimeException e) {
        // best effort: a leftover scratch directory is harmless
      }
    }
  }

  private static void closeQuietly(Closeable stream) {
    try {
      stream.close();
    } catch (IOException e) {
      // closing a dead process's pipe: nothing to do
    }
  }

  private void drainStderr() {
    byte[] buffer = new byte[4096];
    try (InputStream err = process.getErrorStream()) {
      int n;
      while ((n = err.read(buffer)) > 0) {
        synchronized (stderrTail) {
          stderrTail.append(new String(buffer, 0, n, StandardCharsets.UTF_8));
          if (stderrTail.length() > STDERR_TAIL_CHARS) {
            stderrTail.delete(0, stderrTail.length() - STDERR_TAIL_CHARS);
          }
        }
      }
    } catch (IOException e) {
      // the process is gone
    }
  }

  private String stderrSuffix() {
    synchronized (stderrTail) {
      String tail = stderrTail.toString().strip();
      return tail.isEmpty() ? "" : " (stderr: " + tail + ")";
    }
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(node -> out.add(node.asText()));
    return List.copyOf(out);
  }
}
