package io.arpo4j.tools.python;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.tools.python.PythonRun.Status;
import io.arpo4j.tools.python.PythonSandboxConfig.Isolation;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile code against the sandbox in its strongest available mode (namespaces here). Each attack
 * must end in a bounded error result, and the pool must answer a normal call right after it.
 */
class PythonSandboxTest {
  // CPU limit well below the wall-clock limit, so a busy loop hits it even on a loaded machine
  static final Duration TIMEOUT = Duration.ofSeconds(4);
  static PythonWorkerPool pool;

  @BeforeAll
  static void startPool() {
    pool = new PythonWorkerPool(testConfig(Isolation.AUTO));
  }

  @AfterAll
  static void closePool() {
    pool.close();
  }

  static PythonSandboxConfig testConfig(Isolation isolation) {
    return PythonSandboxConfig.defaults().toBuilder()
        .workers(2)
        .timeout(TIMEOUT)
        .cpuSeconds(1)
        .outputLimitBytes(4096)
        .isolation(isolation)
        // apart from the default range, so that pools of other programs on this host (possibly
        // an older arpo4j that takes no uid locks) are not disturbed by the tests
        .sandboxUidBase(1_900_700_000)
        .build();
  }

  /** A call that must give the right value after every attack. */
  @AfterEach
  void poolStillAnswers() throws InterruptedException {
    for (int i = 0; i < 2; i++) { // both workers
      PythonRun run = pool.run("x = 6 * 7\nx + " + i);
      assertEquals(Status.OK, run.status(), run.output());
      assertEquals(String.valueOf(42 + i), run.output().strip());
    }
  }

  @Test
  void infiniteLoopHitsTheCpuLimit() throws Exception {
    long start = System.nanoTime();
    PythonRun run = pool.run("while True:\n    pass");
    assertEquals(Status.CPU_LIMIT, run.status());
    assertBoundedTime(start);
  }

  @Test
  void sleepingCodeHitsTheWallClockLimit() throws Exception {
    long start = System.nanoTime();
    PythonRun run = pool.run("import time\nprint('before', flush=True)\ntime.sleep(60)");
    assertEquals(Status.TIMEOUT, run.status());
    assertEquals("before", run.output().strip());
    assertBoundedTime(start);
  }

  @Test
  void forkBombIsContainedAndCleanedUp() throws Exception {
    long before = pool.processes().size();
    long start = System.nanoTime();
    PythonRun run = pool.run("import os\nwhile True:\n    os.fork()");
    assertNotEquals(Status.OK, run.status());
    assertBoundedTime(start);
    assertEquals(before, pool.processes().size(), "processes left behind by the fork bomb");
  }

  @Test
  void hugeAllocationFailsWithMemoryError() throws Exception {
    PythonRun run = pool.run("x = bytearray(8 * 1024 ** 3)\nlen(x)");
    assertEquals(Status.ERROR, run.status());
    assertTrue(run.output().strip().endsWith("MemoryError"), run.output());
  }

  @Test
  void hugeOutputIsCutAtTheLimit() throws Exception {
    long start = System.nanoTime();
    PythonRun run =
        pool.run("import sys\nfor _ in range(200):\n    sys.stdout.write('y' * 1_000_000)");
    assertEquals(Status.OUTPUT_LIMIT, run.status());
    assertEquals("y".repeat(4096), run.output());
    assertBoundedTime(start);
  }

  @Test
  void cannotConnectToALocalListener() throws Exception {
    assertNoConnection(pool);
  }

  /** Three ways to open a TCP connection; the listener must never see one. */
  static void assertNoConnection(PythonWorkerPool target) throws Exception {
    try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
      int port = listener.getLocalPort();
      String code =
          String.join(
              "\n",
              "import ctypes, socket, subprocess, sys",
              "results = []",
              "try:",
              "    socket.create_connection(('127.0.0.1', " + port + "), timeout=2)",
              "    results.append('python:connected')",
              "except OSError as e:",
              "    results.append('python:' + type(e).__name__)",
              "libc = ctypes.CDLL(None, use_errno=True)",
              "fd = libc.socket(2, 1, 0)",
              "results.append('libc:' + ('refused' if fd < 0 else 'socket'))",
              "child = subprocess.run([sys.executable, '-c', 'import socket; "
                  + "socket.create_connection((\"127.0.0.1\", "
                  + port
                  + "), timeout=2)'], "
                  + "capture_output=True, text=True)",
              "results.append('subprocess:' + ('failed' if child.returncode else 'connected'))",
              "' '.join(results)");
      PythonRun run = target.run(code);
      assertEquals(Status.OK, run.status(), run.output());
      assertEquals("python:PermissionError libc:refused subprocess:failed", run.output().strip());
      listener.setSoTimeout(300);
      assertThrows(
          SocketTimeoutException.class,
          listener::accept,
          "the listener received a connection from the sandbox");
    }
  }

  @Test
  void cannotReachHostUnixSockets() throws Exception {
    assertNoHostUnixSocketReached(pool);
  }

  @Test
  void asyncioAndPipesStillWork() throws Exception {
    PythonRun run =
        pool.run(
            String.join(
                "\n",
                "import asyncio, multiprocessing",
                "a, b = multiprocessing.Pipe()",
                "a.send(asyncio.run(asyncio.sleep(0, 'ok')))",
                "b.recv()"));
    assertEquals(Status.OK, run.status(), run.output());
    assertEquals("ok", run.output().strip());
  }

  /**
   * A host process (not sandboxed) listens on a pathname stream socket and a pathname datagram
   * socket, both 0777 in a 0777 directory outside /tmp (so visible in the mount namespace), and on
   * an abstract stream socket; the code tries each directly, through {@code ctypes}, from a
   * subprocess, and via socketpair() (a datagram pair could sendto() any path). Nothing may arrive.
   */
  static void assertNoHostUnixSocketReached(PythonWorkerPool target) throws Exception {
    Path dir = Files.createTempDirectory(Path.of("/var/tmp"), "arpo4j-sock-");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
    String abstractName = "arpo4j-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    Process listener =
        new ProcessBuilder(
                "python3",
                "-c",
                String.join(
                    "\n",
                    "import os, select, socket, sys",
                    "d, name = sys.argv[1], sys.argv[2]",
                    "stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
                    "stream.bind(d + '/stream.sock')",
                    "stream.listen(8)",
                    "dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
                    "dgram.bind(d + '/dgram.sock')",
                    "hidden = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
                    "hidden.bind('\\0' + name)",
                    "hidden.listen(8)",
                    "for f in ('stream.sock', 'dgram.sock'):",
                    "    os.chmod(d + '/' + f, 0o777)",
                    "print('ready', flush=True)",
                    "reached = []",
                    "watch = {stream: 'stream', dgram: 'dgram', hidden: 'abstract', sys.stdin: 'stdin'}",
                    "while True:",
                    "    for s in select.select(list(watch), [], [])[0]:",
                    "        if watch[s] == 'stdin':",
                    "            sys.stdin.read()",
                    "            print(' '.join(reached) or 'nothing', flush=True)",
                    "            sys.exit(0)",
                    "        elif watch[s] == 'dgram':",
                    "            s.recv(100)",
                    "            reached.append('dgram')",
                    "        else:",
                    "            s.accept()[0].close()",
                    "            reached.append(watch[s])"),
                dir.toString(),
                abstractName)
            .redirectErrorStream(true)
            .start();
    try (BufferedReader out =
        new BufferedReader(
            new InputStreamReader(listener.getInputStream(), StandardCharsets.UTF_8))) {
      assertEquals("ready", out.readLine());
      String stream = dir.resolve("stream.sock").toString();
      String dgram = dir.resolve("dgram.sock").toString();
      String code =
          String.join(
              "\n",
              "import ctypes, socket, subprocess, sys",
              "results = []",
              "def attempt(label, action):",
              "    try:",
              "        action()",
              "        results.append(label + ':reached')",
              "    except OSError as e:",
              "        results.append(label + ':' + type(e).__name__)",
              "def connect(address):",
              "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
              "    s.settimeout(2)",
              "    s.connect(address)",
              "def dgram_pair():",
              "    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)",
              "    a.sendto(b'x', '" + dgram + "')",
              "def stream_pair():",
              "    a, b = socket.socketpair()",
              "    a.connect('" + stream + "')",
              "def libc_socket():",
              "    if ctypes.CDLL(None, use_errno=True).socket(1, 1, 0) < 0:",
              "        raise PermissionError()",
              "attempt('pathname', lambda: connect('" + stream + "'))",
              "attempt('abstract', lambda: connect('\\0" + abstractName + "'))",
              "attempt('dgram-pair', dgram_pair)",
              "attempt('stream-pair', stream_pair)",
              "attempt('libc', libc_socket)",
              "child = subprocess.run([sys.executable, '-c', 'import socket; "
                  + "socket.socket(socket.AF_UNIX).connect(\""
                  + stream
                  + "\")'], "
                  + "capture_output=True)",
              "results.append('subprocess:' + ('failed' if child.returncode else 'reached'))",
              "' '.join(results)");
      PythonRun run = target.run(code);
      assertEquals(Status.OK, run.status(), run.output());
      assertEquals(
          "pathname:PermissionError abstract:PermissionError "
              + "dgram-pair:PermissionError stream-pair:PermissionError libc:PermissionError "
              + "subprocess:failed",
          run.output().strip());
      listener.getOutputStream().close();
      assertEquals("nothing", out.readLine(), "host sockets reached from the sandbox");
    } finally {
      listener.destroyForcibly().waitFor();
      PythonWorkerPool.deleteTree(dir);
    }
  }

  @Test
  void sysvIpcAndKeysDoNotOutliveTheCall() throws Exception {
    assertNothingOutlivesTheCall(pool);
  }

  /**
   * A call makes a SysV shared memory segment, message queue and semaphore set with a known key,
   * and a key in its user and session keyrings; later calls on every worker, and the host (this
   * JVM's IPC namespace), must not find any of them. With a private IPC namespace the objects may
   * be made (then removed after the call); a SysV segment larger than the namespace's bound fails.
   */
  static void assertNothingOutlivesTheCall(PythonWorkerPool target) throws Exception {
    int key = (int) (0x41000000L | (ProcessHandle.current().pid() & 0xFFFFFF));
    String description = "arpo4j-test-" + key;
    String prelude =
        String.join(
            "\n",
            "import ctypes, errno, platform",
            "libc = ctypes.CDLL(None, use_errno=True)",
            "ADD_KEY, KEYCTL = {'x86_64': (248, 250), 'aarch64': (217, 219)}[platform.machine()]",
            "key, desc = " + key + ", b'" + description + "'",
            "def outcome(label, result):",
            "    return label + ':' + ('ok' if result >= 0 else errno.errorcode[ctypes.get_errno()])",
            "");
    String make =
        prelude
            + String.join(
                "\n",
                "out = [outcome('shm', libc.shmget(key, 1 << 20, 0o1666)),",
                "       outcome('msg', libc.msgget(key, 0o1666)),",
                "       outcome('sem', libc.semget(key, 1, 0o1666))]",
                "for keyring in (-4, -3):  # user, session",
                "    serial = libc.syscall(ADD_KEY, b'user', desc, b'secret', 6, keyring)",
                "    out.append(outcome('key', serial))",
                "    if serial >= 0:",
                "        libc.syscall(KEYCTL, 15, serial, 120)  # expires even if the test fails",
                "big = libc.shmget(0, 1 << 30, 0o1600)",
                "out.append(outcome('big-shm', big))",
                "if big >= 0:",
                "    libc.shmctl(big, 0, None)  # removed even where the sandbox would not remove it",
                "' '.join(out)");
    String find =
        prelude
            + String.join(
                "\n",
                "out = [outcome('shm', libc.shmget(key, 0, 0)), outcome('msg', libc.msgget(key, 0)),",
                "       outcome('sem', libc.semget(key, 0, 0))]",
                "for keyring in (-4, -3):",
                "    out.append(outcome('key', libc.syscall(KEYCTL, 10, keyring, b'user', desc, 0)))",
                "' '.join(out)");
    try {
      PythonRun made = target.run(make);
      assertEquals(Status.OK, made.status(), made.output());
      String sysv =
          target.usesNamespaces() ? "shm:ok msg:ok sem:ok" : "shm:EPERM msg:EPERM sem:EPERM";
      String big = target.usesNamespaces() ? "EINVAL" : "EPERM";
      assertEquals(sysv + " key:EPERM key:EPERM big-shm:" + big, made.output().strip());
      assertEquals(List.of(), hostSysvObjects(key), "SysV objects of the call on the host");
      for (int i = 0; i < target.config().workers(); i++) {
        PythonRun found = target.run(find);
        assertEquals(Status.OK, found.status(), found.output());
        String absent = target.usesNamespaces() ? "ENOENT" : "EPERM";
        assertEquals(
            ("shm:A msg:A sem:A key:EPERM key:EPERM").replace("A", absent), found.output().strip());
      }
    } finally {
      for (String kind : hostSysvObjects(key)) { // only after a failure: leave nothing behind
        new ProcessBuilder("ipcrm", "--" + kind + "-key", Integer.toString(key)).start().waitFor();
      }
    }
  }

  /** The kinds ({@code shmem}, {@code queue}, {@code semaphore}) of host SysV objects with key. */
  static List<String> hostSysvObjects(int key) throws Exception {
    List<String> kinds = new ArrayList<>();
    String[][] files = {{"shm", "shmem"}, {"msg", "queue"}, {"sem", "semaphore"}};
    for (String[] kind : files) {
      List<String> rows = Files.readAllLines(Path.of("/proc/sysvipc", kind[0]));
      for (String row : rows.subList(1, rows.size())) {
        if (row.strip().split("\\s+")[0].equals(Integer.toString(key))) {
          kinds.add(kind[1]);
        }
      }
    }
    return kinds;
  }

  @Test
  void aVeryDeepDirectoryTreeIsCleanedUp() throws Exception {
    assertDeepTreeRemoved(pool);
  }

  /**
   * A 3,000-deep tree (paths longer than PATH_MAX) in the working directory: the call succeeds, the
   * worker survives its clean-up, and the working directory is gone afterwards (checked on the host
   * when it lives there, i.e. without namespaces).
   */
  static void assertDeepTreeRemoved(PythonWorkerPool target) throws Exception {
    PythonRun run =
        target.run(
            String.join(
                "\n",
                "import os",
                "top = os.getcwd()",
                "for _ in range(3000):",
                "    os.mkdir('d')",
                "    os.chdir('d')",
                "open('leaf', 'w').write('x')",
                "os.chmod('.', 0o500)  # a read-only directory deep down",
                "top"),
            Duration.ofSeconds(30)); // creating and removing it takes seconds on a busy disk
    assertEquals(Status.OK, run.status(), run.output());
    Path workdir = Path.of(run.output().strip());
    if (!target.usesNamespaces()) {
      assertFalse(Files.exists(workdir), "left on the host: " + workdir);
    }
    for (int i = 0; i < target.config().workers(); i++) { // the same worker answers again
      PythonRun next =
          target.run(
              "import os\nparent = '"
                  + workdir.getParent()
                  + "'\n"
                  + "[e for e in os.listdir(parent) if os.path.join(parent, e) != os.getcwd()]");
      assertEquals(Status.OK, next.status(), next.output());
      assertEquals("[]", next.output().strip(), "left in the scratch area");
    }
  }

  @Test
  void cannotWriteOutsideItsWorkingDirectory(@TempDir Path hostTemp) throws Exception {
    Path inBuildDir = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "escape-");
    try {
      assertNoWritesOutside(pool, List.of(hostTemp, inBuildDir));
    } finally {
      PythonWorkerPool.deleteTree(inBuildDir);
    }
  }

  /** The code tries to create a file in each (world-writable) directory; none may appear. */
  static void assertNoWritesOutside(PythonWorkerPool target, List<Path> dirs) throws Exception {
    StringBuilder code =
        new StringBuilder(
            "import os\nopen('inside.txt', 'w').write('ok')\n"
                + "results = [open('inside.txt').read()]\n");
    for (Path dir : dirs) {
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
      code.append("try:\n    open('")
          .append(dir.resolve("escaped.txt"))
          .append("', 'w').write('x')\n    results.append('written')\n")
          .append("except OSError as e:\n    results.append(type(e).__name__)\n");
    }
    code.append("' '.join(results)");
    PythonRun run = target.run(code.toString());
    assertEquals(Status.OK, run.status(), run.output());
    assertTrue(run.output().startsWith("ok "), run.output());
    assertFalse(run.output().contains("written"), run.output());
    for (Path dir : dirs) {
      assertFalse(Files.exists(dir.resolve("escaped.txt")), "file created in " + dir);
    }
  }

  @Test
  void syntaxErrorIsReported() throws Exception {
    PythonRun run = pool.run("def f(:\n    return 1");
    assertEquals(Status.ERROR, run.status());
    assertTrue(run.output().contains("SyntaxError"), run.output());
    assertTrue(run.output().contains("line 1"), run.output());
  }

  @Test
  void crashedWorkerIsReplaced() throws Exception {
    killAndWait(pool.processes());
    // both slots now hold dead workers; each call starts a new one
    for (int i = 0; i < 2; i++) {
      PythonRun run = pool.run("'replaced'");
      assertEquals(Status.OK, run.status(), run.output());
      assertEquals("replaced", run.output().strip());
    }
  }

  @Test
  void hungWorkersAreKilledAndReplaced() throws Exception {
    // freeze every worker: calls cannot finish, so the watchdog must kill the workers
    for (ProcessHandle process : pool.processes()) {
      Process stop = new ProcessBuilder("kill", "-STOP", Long.toString(process.pid())).start();
      assertEquals(0, stop.waitFor());
    }
    long start = System.nanoTime();
    List<CompletableFuture<PythonRun>> calls = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      calls.add(
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return pool.run("1 + 1");
                } catch (InterruptedException e) {
                  throw new IllegalStateException(e);
                }
              }));
    }
    for (CompletableFuture<PythonRun> call : calls) {
      assertEquals(Status.TIMEOUT, call.get().status());
    }
    assertTrue(System.nanoTime() - start < TIMEOUT.plusSeconds(20).toNanos());
  }

  static void killAndWait(List<ProcessHandle> processes) throws Exception {
    processes.forEach(ProcessHandle::destroyForcibly);
    for (ProcessHandle process : processes) {
      process.onExit().get();
    }
  }

  private static void assertBoundedTime(long startNanos) {
    Duration took = Duration.ofNanos(System.nanoTime() - startNanos);
    assertTrue(took.compareTo(TIMEOUT.plusSeconds(10)) < 0, "took " + took);
  }
}
