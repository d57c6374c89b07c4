package io.arpo4j.tools.python;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.arpo4j.tools.python.PythonSandboxConfig.Isolation;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A fixed number of persistent, sandboxed {@code python3} workers (see docs/tools.md for what the
 * sandbox does and does not guarantee). The interpreter start and the {@code preload} imports are
 * paid once per worker; each call is a fork of the worker. A worker that crashes or hangs is killed
 * and replaced when its slot is next used; a call never throws because of what its code did. Linux
 * only.
 */
public final class PythonWorkerPool implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(PythonWorkerPool.class.getName());
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String WORKER_RESOURCE = "/io/arpo4j/tools/python_worker.py";

  private final PythonSandboxConfig config;
  private final String python;
  private final boolean runningAsRoot;

  /** The worker's source, run with {@code python3 -c} (no file to leave behind). */
  private final String workerSource;

  private final boolean namespaces;

  /** One uid per slot when root, unique on the host; null otherwise. */
  private final SandboxUidLease uids;

  private final BlockingQueue<Slot> idle;
  private final Set<PythonWorker> live = ConcurrentHashMap.newKeySet();
  private final ScheduledExecutorService watchdog;
  private final List<String> protections;
  private volatile boolean closed;

  /**
   * A place for one worker; empty after a failure until the next call starts a new one. The slot's
   * sandbox uid (or -1) stays for the pool's life: a replacement worker's calls use it too.
   */
  private static final class Slot {
    final int uid;
    PythonWorker worker;

    Slot(int uid, PythonWorker worker) {
      this.uid = uid;
      this.worker = worker;
    }
  }

  /**
   * Starts all workers (in parallel) and waits until they are ready.
   *
   * @throws IllegalArgumentException if the interpreter cannot be run
   * @throws IllegalStateException if the workers cannot start (with NAMESPACES: if namespaces are
   *     unavailable here)
   */
  public PythonWorkerPool(PythonSandboxConfig config) {
    this.config = config;
    this.python = resolveInterpreter(config.pythonExecutable());
    this.runningAsRoot = currentUid() == 0;
    this.workerSource = workerSource();
    StaleWorkerFiles.reap(Path.of(System.getProperty("java.io.tmpdir")));
    this.uids =
        runningAsRoot ? SandboxUidLease.acquire(config.sandboxUidBase(), config.workers()) : null;
    this.watchdog =
        Executors.newSingleThreadScheduledExecutor(
            runnable -> {
              Thread thread = new Thread(runnable, "arpo4j-python-watchdog");
              thread.setDaemon(true);
              return thread;
            });
    try {
      Started first = startFirstWorker(uidOf(0));
      this.namespaces = first.namespaces();
      this.protections = first.worker().protections();
      if (!first.worker().notes().isEmpty()) {
        LOG.log(Level.INFO, "python sandbox notes: {0}", first.worker().notes());
      }
      String exposed = unconfinedReads(namespaces, protections);
      if (exposed != null && !config.allowUnconfinedReads()) {
        throw new IllegalStateException(
            exposed + "; set tools.python_sandbox.allow_unconfined_reads: true to run anyway");
      }
      if (exposed != null) {
        LOG.log(Level.WARNING, exposed);
      }
      this.idle = new ArrayBlockingQueue<>(config.workers());
      idle.add(new Slot(uidOf(0), first.worker()));
      startRemainingWorkers();
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  private record Started(PythonWorker worker, boolean namespaces) {}

  /**
   * What calls can read of the host when neither the mount namespace's view nor a Landlock
   * allow-list confines them, in one line; null when one of them does.
   */
  static String unconfinedReads(boolean namespaces, List<String> protections) {
    if (namespaces || protections.contains("landlock-fs")) {
      return null;
    }
    return "python sandbox: no mount namespace and no Landlock here: calls can read every file "
        + "their uid can (world-readable files of /etc, /home, /srv, the project and its runs)";
  }

  /** Starts one worker, trying namespaces first unless they are off; decides the isolation. */
  private Started startFirstWorker(int uid) {
    if (config.isolation() != Isolation.NONE) {
      try {
        return new Started(startWorker(true, uid), true);
      } catch (IOException e) {
        if (config.isolation() == Isolation.NAMESPACES) {
          throw new IllegalStateException("isolation NAMESPACES unavailable: " + e.getMessage(), e);
        }
        LOG.log(
            Level.WARNING,
            "python sandbox: Linux namespaces unavailable ({0}); running "
                + "workers without them (weaker isolation, see docs/tools.md)",
            e.getMessage());
      }
    }
    try {
      return new Started(startWorker(false, uid), false);
    } catch (IOException e) {
      throw new IllegalStateException("python worker cannot start: " + e.getMessage(), e);
    }
  }

  /** Launches the other workers together, then waits for each to be ready. */
  private void startRemainingWorkers() {
    try {
      List<PythonWorker> launched = new ArrayList<>();
      for (int i = 1; i < config.workers(); i++) {
        launched.add(launch(namespaces, uidOf(i)));
      }
      for (int i = 1; i < config.workers(); i++) {
        PythonWorker worker = launched.get(i - 1);
        worker.awaitReady(config.startupTimeout(), watchdog);
        idle.add(new Slot(uidOf(i), worker));
      }
    } catch (IOException e) {
      throw new IllegalStateException("python worker cannot start: " + e.getMessage(), e);
    }
  }

  /** Runs {@code code} with the configured timeout. */
  public PythonRun run(String code) throws InterruptedException {
    return run(code, config.timeout());
  }

  /**
   * Runs {@code code} in a free worker (waiting for one if all are busy).
   *
   * @throws IllegalArgumentException if the code is longer than {@code maxCodeBytes}
   * @throws IllegalStateException if the pool is closed
   */
  public PythonRun run(String code, Duration timeout) throws InterruptedException {
    int bytes = code.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > config.maxCodeBytes()) {
      throw new IllegalArgumentException(
          "code: " + bytes + " bytes, more than maxCodeBytes " + config.maxCodeBytes());
    }
    if (closed) {
      throw new IllegalStateException("python worker pool is closed");
    }
    Slot slot = idle.take();
    try {
      if (closed) {
        throw new IllegalStateException("python worker pool is closed");
      }
      if (slot.worker == null || !slot.worker.isAlive()) {
        retire(slot);
        slot.worker = startWorker(namespaces, slot.uid);
      }
      return slot.worker.run(code, timeout, watchdog);
    } catch (IOException e) {
      boolean hung = slot.worker != null && slot.worker.killedByWatchdog();
      retire(slot);
      if (closed) {
        throw new IllegalStateException("python worker pool is closed");
      }
      LOG.log(Level.WARNING, "python worker replaced: {0}", e.getMessage());
      return hung
          ? PythonRun.workerFailure(PythonRun.Status.TIMEOUT, "")
          : PythonRun.workerFailure(PythonRun.Status.WORKER_FAILURE, e.getMessage());
    } finally {
      idle.add(slot);
    }
  }

  /** The protections the workers reported, e.g. {@code net-ns}, {@code landlock-fs}. */
  public List<String> protections() {
    return protections;
  }

  /** The live worker processes and everything they started (for tests and diagnostics). */
  List<ProcessHandle> processes() {
    List<ProcessHandle> all = new ArrayList<>();
    for (PythonWorker worker : live) {
      all.addAll(worker.processes());
    }
    return all;
  }

  /** Whether the workers run in Linux namespaces. */
  public boolean usesNamespaces() {
    return namespaces;
  }

  public PythonSandboxConfig config() {
    return config;
  }

  /** Kills every worker (a call in flight returns a failure); idempotent. */
  @Override
  public void close() {
    closed = true;
    for (PythonWorker worker : live) {
      worker.close();
    }
    live.clear();
    watchdog.shutdownNow();
    if (uids != null) {
      uids.close();
    }
  }

  private void retire(Slot slot) {
    if (slot.worker != null) {
      slot.worker.close();
      live.remove(slot.worker);
      slot.worker = null;
    }
  }

  private int uidOf(int slot) {
    return uids == null ? -1 : uids.uid(slot);
  }

  private PythonWorker startWorker(boolean inNamespaces, int uid) throws IOException {
    PythonWorker worker = launch(inNamespaces, uid);
    worker.awaitReady(config.startupTimeout(), watchdog);
    return worker;
  }

  private PythonWorker launch(boolean inNamespaces, int uid) throws IOException {
    Path scratch =
        inNamespaces ? null : Files.createTempDirectory(StaleWorkerFiles.scratchPrefix());
    ObjectNode settings = JSON.createObjectNode();
    settings.put("namespaces", inNamespaces);
    settings.put("scratch", scratch == null ? null : scratch.toString());
    settings.put("tmpfs_bytes", config.tmpfsBytes());
    settings.put("sandbox_uid", uid < 0 ? null : uid);
    settings.put("cpu_seconds", config.cpuSeconds());
    settings.put("address_space_bytes", config.addressSpaceBytes());
    settings.put("max_processes", config.maxProcesses());
    settings.put("max_file_bytes", config.maxFileBytes());
    settings.put("output_limit_bytes", config.outputLimitBytes());
    settings.putPOJO("preload", config.preload());

    List<String> command = new ArrayList<>();
    if (inNamespaces) {
      command.addAll(
          List.of(
              "unshare",
              "--net",
              "--ipc",
              "--mount",
              "--pid",
              "--fork",
              "--kill-child",
              "--mount-proc"));
      if (!runningAsRoot) {
        command.addAll(List.of("--user", "--map-root-user"));
      }
      command.add("--");
    }
    command.addAll(List.of(python, "-c", workerSource, JSON.writeValueAsString(settings)));
    PythonWorker worker;
    try {
      worker = PythonWorker.launch(command, environment(), scratch, config.outputLimitBytes());
    } catch (IOException e) {
      if (scratch != null) {
        deleteTree(scratch);
      }
      throw e;
    }
    live.add(worker);
    return worker;
  }

  private Map<String, String> environment() {
    Map<String, String> env = new HashMap<>();
    env.put("PATH", System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin"));
    env.put("LANG", "C.UTF-8");
    env.put("PYTHONDONTWRITEBYTECODE", "1");
    env.put("PYTHONIOENCODING", "utf-8");
    // one BLAS/OpenMP thread per call: calls run in parallel, and threads count against
    // the process limit
    for (String name :
        List.of(
            "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")) {
      env.put(name, "1");
    }
    env.putAll(config.environment());
    return env;
  }

  /** The interpreter's real path (skipping launcher shims such as pyenv's on every start). */
  static String resolveInterpreter(String executable) {
    try {
      Process probe =
          new ProcessBuilder(executable, "-c", "import sys; print(sys.executable)")
              .redirectErrorStream(true)
              .start();
      byte[] out;
      try (InputStream in = probe.getInputStream()) {
        out = in.readNBytes(4096);
      }
      if (!probe.waitFor(30, TimeUnit.SECONDS)) {
        probe.destroyForcibly();
        throw new IllegalArgumentException("pythonExecutable: '" + executable + "' did not answer");
      }
      String path = new String(out, StandardCharsets.UTF_8).strip();
      if (probe.exitValue() != 0) {
        throw new IllegalArgumentException(
            "pythonExecutable: '" + executable + "' failed: " + path);
      }
      return path.isEmpty() || !Files.isExecutable(Path.of(path)) ? executable : path;
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "pythonExecutable: cannot run '" + executable + "': " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while probing " + executable, e);
    }
  }

  private static String workerSource() {
    try (InputStream in = PythonWorkerPool.class.getResourceAsStream(WORKER_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("resource " + WORKER_RESOURCE + " missing");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the python worker script", e);
    }
  }

  private static int currentUid() {
    try {
      return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return -1;
    }
  }

  /**
   * Removes a directory tree of any depth with GNU rm (Files.walkFileTree fails once a path is
   * longer than PATH_MAX); without root, directories made unreadable are made accessible first.
   */
  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (currentUid() != 0 && Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
      runQuietly("chmod", "-R", "u+rwx", "--", root.toString());
    }
    String error = runQuietly("rm", "-rf", "--one-file-system", "--", root.toString());
    if (Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
      throw new IOException("cannot remove " + root + ": " + error);
    }
  }

  /** Runs a command to its end; returns the start of what it printed. */
  private static String runQuietly(String... command) throws IOException {
    Process process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .start();
    try (InputStream out = process.getInputStream()) {
      String text = new String(out.readNBytes(1000), StandardCharsets.UTF_8).strip();
      out.transferTo(OutputStream.nullOutputStream());
      process.waitFor();
      return text;
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while running " + command[0], e);
    }
  }
}
