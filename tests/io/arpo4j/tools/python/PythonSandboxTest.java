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
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
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
        .pythonExecutable(isolation == Isolation.NONE ? interpreterReadableByOthers() : "python3")
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
   * worker survives its clean-up, and the scratch area is empty afterwards, as the host sees it (a
   * call can no longer list it): the worker's host directory without namespaces, the {@code /tmp}
   * of each worker's mount namespace with them.
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
    List<Path> scratchAreas = new ArrayList<>();
    if (target.usesNamespaces()) {
      Path ownMounts = Files.readSymbolicLink(Path.of("/proc/self/ns/mnt"));
      java.util.Map<Path, Path> tmpOfNamespace = new java.util.HashMap<>();
      for (ProcessHandle process : target.processes()) { // unshare and its worker share one
        Path proc = Path.of("/proc/" + process.pid());
        Path mounts = Files.readSymbolicLink(proc.resolve("ns/mnt"));
        if (!mounts.equals(ownMounts)) {
          tmpOfNamespace.put(mounts, proc.resolve("root/tmp"));
        }
      }
      scratchAreas.addAll(tmpOfNamespace.values());
      assertEquals(target.config().workers(), scratchAreas.size(), "workers' mount namespaces");
    } else {
      assertFalse(Files.exists(workdir), "left on the host: " + workdir);
      scratchAreas.add(workdir.getParent());
    }
    for (Path scratch : scratchAreas) {
      try (var left = Files.list(scratch)) {
        assertEquals(List.of(), left.toList(), "left in the scratch area " + scratch);
      }
    }
    for (int i = 0; i < target.config().workers(); i++) { // the same worker answers again
      PythonRun next = target.run("import os\nos.listdir('.')");
      assertEquals(Status.OK, next.status(), next.output());
      assertEquals("[]", next.output().strip(), "a working directory not fresh");
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
  void hostFilesAreInvisible() throws Exception {
    assertTrue(pool.protections().contains("mount-ns-view"), pool.protections().toString());
    assertHostFilesHidden(pool);
  }

  @Test
  void anotherCallsWorkingDirectoryIsInvisible() throws Exception {
    assertOtherCallHidden(pool);
  }

  @Test
  void scientificCodeAndTenMegabytesOfOutputStillWork() throws Exception {
    assertScienceAndBigOutputWork(Isolation.NAMESPACES);
  }

  /** The view needs no capability: an interpreter under a 0700 directory works through it. */
  @Test
  void interpreterUnderAClosedDirectoryWorksThroughTheView() throws Exception {
    Path temp = Files.createTempDirectory(outsideTmp(), "arpo4j-venv-");
    String python = interpreterUnderClosedDirectory(temp, "python3");
    try (PythonWorkerPool venvPool =
        new PythonWorkerPool(
            testConfig(Isolation.NAMESPACES).toBuilder()
                .pythonExecutable(python)
                .workers(1)
                .preload(List.of())
                .build())) {
      PythonRun run =
          venvPool.run("import sys, fractions\nprint(sys.prefix, fractions.Fraction(2, 4))");
      assertEquals(Status.OK, run.status(), run.output());
      assertEquals(temp.resolve("closed/venv") + " 1/2", run.output().strip());
    } finally {
      PythonWorkerPool.deleteTree(temp);
    }
  }

  /**
   * Where a test interpreter can live: the build directory, unless the checkout itself lies under
   * /tmp (as a CI clone may), which the view replaces with a private tmpfs; then /var/tmp.
   */
  static Path outsideTmp() {
    Path target = Path.of("target").toAbsolutePath();
    return target.startsWith("/tmp") ? Path.of("/var/tmp") : target;
  }

  /**
   * A venv made in a 0700 directory (as pyenv's interpreter lies in a 0700 /root): its module path
   * lies beneath a directory other users cannot search. Returns the venv's interpreter; {@code
   * base} is the interpreter the venv is made from. Not under /tmp, which the view replaces.
   */
  static String interpreterUnderClosedDirectory(Path temp, String base) throws Exception {
    Path closed = Files.createDirectory(temp.resolve("closed"));
    Files.setPosixFilePermissions(closed, PosixFilePermissions.fromString("rwx------"));
    Process venv =
        new ProcessBuilder(
                PythonWorkerPool.resolveInterpreter(base),
                "-m",
                "venv",
                "--without-pip",
                closed.resolve("venv").toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(venv.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, venv.waitFor(), out);
    return closed.resolve("venv/bin/python").toString();
  }

  /**
   * Files of the host a call must not see, each tried from the call by reading or listing it: a
   * root-owned mode-600 file and a world-readable file in a fresh 0755 directory (in the build
   * directory), a run directory, /etc/shadow, the caller's working directory and home. Every try
   * must fail (no such file in the view; permission denied under Landlock), no content may show,
   * and the call must hold no capability. Returns what the call printed.
   */
  static String assertHostFilesHidden(PythonWorkerPool target) throws Exception {
    Path fresh = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "secret-");
    Path run = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "run-");
    try {
      Files.setPosixFilePermissions(fresh, PosixFilePermissions.fromString("rwxr-xr-x"));
      Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
      Path secret = Files.writeString(fresh.resolve("secret.txt"), "SECRET-600");
      Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
      Path open = Files.writeString(fresh.resolve("public.txt"), "SECRET-644");
      Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r--r--"));
      Path rollouts = Files.writeString(run.resolve("rollouts.jsonl"), "SECRET-RUN\n");
      Files.setPosixFilePermissions(rollouts, PosixFilePermissions.fromString("rw-r--r--"));
      String callerDir = Path.of("").toAbsolutePath().toString();
      List<String[]> tries =
          List.of(
              new String[] {"read", secret.toString()},
              new String[] {"read", open.toString()},
              new String[] {"list", fresh.toString()},
              new String[] {"list", run.toString()},
              new String[] {"read", rollouts.toString()},
              new String[] {"read", "/etc/shadow"},
              new String[] {"read", "/etc/passwd"},
              new String[] {"list", callerDir},
              new String[] {"read", Path.of(callerDir, "pom.xml").toString()},
              new String[] {"list", System.getProperty("user.home")});
      StringBuilder code =
          new StringBuilder(
              String.join(
                  "\n",
                  "import os",
                  "def attempt(kind, path):",
                  "    try:",
                  "        found = open(path).read() if kind == 'read' else os.listdir(path)",
                  "        print(kind, path, 'ok', repr(found)[:200])",
                  "    except OSError as e:",
                  "        print(kind, path, type(e).__name__)",
                  ""));
      for (String[] attempt : tries) {
        code.append("attempt('").append(attempt[0]).append("', '").append(attempt[1]);
        code.append("')\n");
      }
      code.append(
          "print(''.join(l for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapPrm'))))");
      PythonRun result = target.run(code.toString());
      assertEquals(Status.OK, result.status(), result.output());
      String output = result.output();
      assertFalse(output.contains("SECRET"), output);
      assertFalse(output.contains("root:"), output);
      String expected = target.usesNamespaces() ? "FileNotFoundError" : "PermissionError";
      List<String> lines = output.strip().lines().toList();
      for (int i = 0; i < tries.size(); i++) {
        String[] attempt = tries.get(i);
        String line = lines.get(i);
        assertTrue(line.startsWith(attempt[0] + " " + attempt[1] + " "), output);
        // the home may hold the interpreter (pyenv under /root): then the view has it as a
        // directory, whose listing Landlock refuses
        boolean home = attempt[1].equals(System.getProperty("user.home"));
        assertTrue(
            line.endsWith(" " + expected) || home && line.endsWith(" PermissionError"),
            "visible from a call: " + line + "\n" + output);
      }
      assertTrue(output.contains("CapPrm:\t0000000000000000"), output);
      assertTrue(output.contains("CapEff:\t0000000000000000"), output);
      return output;
    } finally {
      PythonWorkerPool.deleteTree(fresh);
      PythonWorkerPool.deleteTree(run);
    }
  }

  /**
   * As a non-root user (uid 65534, through {@code setpriv}; the machine must allow it: root here,
   * /usr/bin/python3 readable by others) the worker runs in a user namespace and calls keep its
   * root-in-namespace uid: the view still hides the host's files and no capability is left. The
   * worker is driven by its protocol directly, since a pool runs as the JVM's own user.
   */
  @Test
  void nonRootWorkerHidesHostFilesToo() throws Exception {
    Path setpriv = Path.of("/usr/bin/setpriv");
    Path python = Path.of("/usr/bin/python3");
    Assumptions.assumeTrue(isRoot() && Files.isExecutable(setpriv), "needs root and setpriv");
    Assumptions.assumeTrue(
        Files.isExecutable(python) && searchableByOthers(python), "needs /usr/bin/python3");
    String source;
    try (var in =
        PythonSandboxTest.class.getResourceAsStream("/io/arpo4j/tools/python_worker.py")) {
      source = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    var json = new com.fasterxml.jackson.databind.ObjectMapper();
    var settings = json.createObjectNode();
    settings.put("namespaces", true).putNull("scratch").put("tmpfs_bytes", 16 << 20);
    settings.putNull("sandbox_uid").put("cpu_seconds", 5).put("address_space_bytes", 1L << 30);
    settings.put("max_processes", 16).put("max_file_bytes", 1 << 20);
    settings.put("output_limit_bytes", 4096).putArray("preload");
    Process worker =
        new ProcessBuilder(
                setpriv.toString(),
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "unshare",
                "--user",
                "--map-root-user",
                "--net",
                "--ipc",
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
                "--",
                python.toString(),
                "-c",
                source,
                settings.toString())
            .directory(new java.io.File("/"))
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    try (BufferedReader out =
        new BufferedReader(
            new InputStreamReader(worker.getInputStream(), StandardCharsets.UTF_8))) {
      var ready = json.readTree(out.readLine());
      Assumptions.assumeTrue(
          ready.path("ready").asBoolean(), "user namespaces refused here: " + ready);
      String code =
          String.join(
              "\n",
              "import os",
              "for path in ('/etc/shadow', '/etc/passwd', '"
                  + Path.of("pom.xml").toAbsolutePath()
                  + "', '/root'):",
              "    try:",
              "        print(path, open(path).read()[:20] if os.path.isfile(path) else os.listdir(path))",
              "    except OSError as e:",
              "        print(path, type(e).__name__)",
              "print(''.join(l for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapPrm'))))");
      var request = json.createObjectNode().put("id", 1).put("code", code).put("timeout", 10);
      worker.getOutputStream().write((request + "\n").getBytes(StandardCharsets.UTF_8));
      worker.getOutputStream().flush();
      var response = json.readTree(out.readLine());
      String output = response.path("output").asText();
      assertEquals("ok", response.path("status").asText(), output);
      assertEquals(
          String.join(
              "\n",
              "/etc/shadow FileNotFoundError",
              "/etc/passwd FileNotFoundError",
              Path.of("pom.xml").toAbsolutePath() + " FileNotFoundError",
              "/root FileNotFoundError",
              "CapPrm:\t0000000000000000",
              "CapEff:\t0000000000000000"),
          output.strip());
    } finally {
      worker.destroyForcibly().waitFor();
    }
  }

  /**
   * Call A (on one worker) writes a file named after a nonce in its working directory and waits;
   * while it waits, call B (on the other worker) tries A's working directory by every name it has:
   * its path on the host (without namespaces), its path inside A's namespace and A's worker's
   * {@code /proc/<pid>/root}. B must see neither the file nor its content.
   */
  static void assertOtherCallHidden(PythonWorkerPool target) throws Exception {
    String nonce = "nonce" + System.nanoTime();
    CompletableFuture<PythonRun> first =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return target.run(
                    String.join(
                        "\n",
                        "import os, time",
                        "open('" + nonce + "', 'w').write('" + nonce + "')",
                        "deadline = time.time() + 15",
                        "while not os.path.exists('done') and time.time() < deadline:",
                        "    time.sleep(0.02)",
                        "os.path.exists('done')"),
                    Duration.ofSeconds(20));
              } catch (InterruptedException e) {
                throw new IllegalStateException(e);
              }
            });
    Path marker = null;
    for (int i = 0; i < 1500 && marker == null; i++) {
      marker = findMarker(target, nonce);
      Thread.sleep(10);
    }
    assertTrue(marker != null, "call A's file not found on the host");
    try {
      Path workdir = marker.getParent();
      List<String> names = new ArrayList<>(List.of(workdir.toString()));
      if (target.usesNamespaces()) { // /proc/<pid>/root/tmp/call-N: also /tmp/call-N inside
        names.add("/" + workdir.subpath(3, workdir.getNameCount()));
      }
      StringBuilder code = new StringBuilder("import os\n");
      for (String name : names) {
        code.append("for f in (lambda: os.listdir('")
            .append(name)
            .append("'), lambda: open('")
            .append(name)
            .append("/")
            .append(nonce)
            .append("').read()):\n")
            .append("    try:\n        print(f())\n")
            .append("    except OSError as e:\n        print(type(e).__name__)\n");
      }
      PythonRun second = target.run(code.toString());
      assertEquals(Status.OK, second.status(), second.output());
      assertFalse(second.output().contains(nonce), second.output());
      assertTrue(second.output().contains("Error"), second.output());
    } finally {
      Files.writeString(marker.resolveSibling("done"), "");
    }
    PythonRun firstRun = first.get();
    assertEquals(Status.OK, firstRun.status(), firstRun.output());
    assertEquals("True", firstRun.output().strip());
  }

  /** Where the file call A made lies, as the host (root) reaches it; null while absent. */
  private static Path findMarker(PythonWorkerPool target, String nonce) throws Exception {
    List<Path> roots = new ArrayList<>();
    if (target.usesNamespaces()) {
      for (ProcessHandle process : target.processes()) {
        roots.add(Path.of("/proc/" + process.pid() + "/root/tmp"));
      }
    } else {
      try (var scratch =
          Files.newDirectoryStream(
              Path.of(System.getProperty("java.io.tmpdir")), "arpo4j-python-*")) {
        scratch.forEach(roots::add);
      }
    }
    for (Path root : roots) {
      try (var calls = Files.newDirectoryStream(root, "call-*")) {
        for (Path call : calls) {
          if (Files.exists(call.resolve(nonce))) {
            return call.resolve(nonce);
          }
        }
      } catch (java.io.IOException e) {
        // a process without such a directory (unshare itself), or one that just ended
      }
    }
    return null;
  }

  /**
   * Numpy-free scientific code (values known by hand) and a 10 MB print run as before, in a pool of
   * one worker whose output bound admits 10 MB.
   */
  static void assertScienceAndBigOutputWork(Isolation isolation) throws Exception {
    try (PythonWorkerPool big =
        new PythonWorkerPool(
            testConfig(isolation).toBuilder()
                .workers(1)
                .preload(List.of())
                .outputLimitBytes(16 << 20)
                .build())) {
      PythonRun science =
          big.run(
              String.join(
                  "\n",
                  "import math, fractions, decimal, itertools, json, re, statistics",
                  "decimal.getcontext().prec = 30",
                  "print(math.comb(40, 20), math.isqrt(10**20))",
                  "print(fractions.Fraction(1, 3) + fractions.Fraction(1, 6))",
                  "print(decimal.Decimal(1) / decimal.Decimal(7))",
                  "print(sum(1 for _ in itertools.permutations(range(6))))",
                  "print(json.dumps(json.loads('{\"b\": [1, 2.5, null], \"a\": true}'), "
                      + "sort_keys=True))",
                  "print(re.findall(r'\\d+', 'x12y345z6'))",
                  "print(statistics.median([3, 1, 4, 1, 5]), statistics.mean([1, 2, 3, 4]))"));
      assertEquals(Status.OK, science.status(), science.output());
      assertEquals(
          String.join(
              "\n",
              "137846528820 10000000000",
              "1/2",
              "0.142857142857142857142857142857",
              "720",
              "{\"a\": true, \"b\": [1, 2.5, null]}",
              "['12', '345', '6']",
              "3 2.5"),
          science.output().strip());
      PythonRun print = big.run("print('x' * 10_000_000)");
      assertEquals(Status.OK, print.status());
      assertEquals(10_000_001, print.output().length());
      assertEquals(10_000_000, print.output().chars().filter(c -> c == 'x').count());
    }
  }

  /**
   * The interpreter for isolation NONE as root: calls run as another uid and there is no view, so
   * the interpreter must lie where other users can read it. The default one unless it lies beneath
   * a directory closed to others (pyenv under a 0700 /root), then /usr/bin/python3; the test is
   * skipped when neither fits.
   */
  static String interpreterReadableByOthers() {
    String python = PythonWorkerPool.resolveInterpreter("python3");
    if (!isRoot() || searchableByOthers(Path.of(python))) {
      return python;
    }
    Path system = Path.of("/usr/bin/python3");
    Assumptions.assumeTrue(
        Files.isExecutable(system) && searchableByOthers(system),
        python + " lies under a directory closed to other users and /usr/bin/python3 is missing");
    return system.toString();
  }

  static boolean isRoot() {
    try {
      return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0;
    } catch (java.io.IOException e) {
      return false;
    }
  }

  private static boolean searchableByOthers(Path path) {
    try {
      for (Path dir = path.toRealPath().getParent(); dir != null; dir = dir.getParent()) {
        if (!Files.getPosixFilePermissions(dir)
            .contains(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE)) {
          return false;
        }
      }
      return true;
    } catch (java.io.IOException e) {
      return false;
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
  void workerWhoseZygoteDiedIsReplaced() throws Exception {
    List<ProcessHandle> zygotes = zygotes(pool);
    assertEquals(2, zygotes.size(), "one zygote per worker");
    zygotes.forEach(ProcessHandle::destroyForcibly);
    for (ProcessHandle zygote : zygotes) { // a zombie until its worker ends: onExit() never comes
      for (int i = 0; i < 500 && !deadOrZombie(zygote.pid()); i++) {
        Thread.sleep(10);
      }
      assertTrue(deadOrZombie(zygote.pid()), "zygote " + zygote.pid() + " still running");
    }
    // each worker notices at its next call (which fails) and is replaced at the one after
    int answered = 0;
    for (int i = 0; i < 6 && answered < 2; i++) {
      PythonRun run = pool.run("'back'");
      if (run.status() == Status.OK) {
        assertEquals("back", run.output().strip());
        answered++;
      } else {
        assertEquals(Status.WORKER_FAILURE, run.status(), run.output());
      }
    }
    assertEquals(2, answered);
  }

  @Test
  void eachCallDrawsItsOwnRandomNumbers() throws Exception {
    // calls are forked from the same process state, without CPython's at-fork hooks
    Set<String> drawn = new HashSet<>();
    for (int i = 0; i < 4; i++) {
      PythonRun run = pool.run("import random\nrandom.getrandbits(64)");
      assertEquals(Status.OK, run.status(), run.output());
      drawn.add(run.output().strip());
    }
    assertEquals(4, drawn.size(), drawn.toString());
  }

  /** The processes the workers fork their calls from: python processes whose parent is one. */
  static List<ProcessHandle> zygotes(PythonWorkerPool target) {
    return target.processes().stream()
        .filter(p -> isPython(p) && p.parent().map(PythonSandboxTest::isPython).orElse(false))
        .toList();
  }

  private static boolean deadOrZombie(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      return stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
    } catch (java.io.IOException e) {
      return true;
    }
  }

  private static boolean isPython(ProcessHandle process) {
    return process
        .info()
        .command()
        .map(c -> Path.of(c).getFileName().toString().startsWith("python"))
        .orElse(false);
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
