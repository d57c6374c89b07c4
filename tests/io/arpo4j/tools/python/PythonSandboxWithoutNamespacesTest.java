package io.arpo4j.tools.python;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.tools.python.PythonRun.Status;
import io.arpo4j.tools.python.PythonSandboxConfig.Isolation;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fallback mode without namespaces: network and filesystem confinement then rest on the
 * per-call seccomp filter and Landlock ruleset alone, which these tests exercise.
 */
class PythonSandboxWithoutNamespacesTest {
  static PythonWorkerPool pool;

  @BeforeAll
  static void startPool() {
    pool = new PythonWorkerPool(PythonSandboxTest.testConfig(Isolation.NONE));
  }

  @AfterAll
  static void closePool() {
    pool.close();
  }

  @AfterEach
  void poolStillAnswers() throws InterruptedException {
    PythonRun run = pool.run("sum(range(101))");
    assertEquals(Status.OK, run.status(), run.output());
    assertEquals("5050", run.output().strip());
  }

  @Test
  void runsWithoutNamespacesButWithKernelFilters() {
    assertFalse(pool.usesNamespaces());
    assertFalse(pool.protections().contains("net-ns"));
    assertTrue(pool.protections().contains("seccomp"), pool.protections().toString());
    assertTrue(pool.protections().contains("landlock-fs"), pool.protections().toString());
  }

  @Test
  void hostFilesAreUnreadable() throws Exception {
    PythonSandboxTest.assertHostFilesHidden(pool);
  }

  @Test
  void anotherCallsWorkingDirectoryIsUnreadable() throws Exception {
    PythonSandboxTest.assertOtherCallHidden(pool);
  }

  @Test
  void scientificCodeAndTenMegabytesOfOutputStillWork() throws Exception {
    PythonSandboxTest.assertScienceAndBigOutputWork(Isolation.NONE);
  }

  /**
   * As root, calls run as another uid without any capability and there is no view: an interpreter
   * beneath a directory other users cannot search is refused at start, in one line saying why.
   */
  @Test
  void interpreterUnderAClosedDirectoryIsRefused(@TempDir Path temp) throws Exception {
    Assumptions.assumeTrue(PythonSandboxTest.isRoot(), "calls change uid only under root");
    String python =
        PythonSandboxTest.interpreterUnderClosedDirectory(
            temp, PythonSandboxTest.interpreterReadableByOthers());
    IllegalStateException refused =
        assertThrows(
            IllegalStateException.class,
            () ->
                new PythonWorkerPool(
                    PythonSandboxTest.testConfig(Isolation.NONE).toBuilder()
                        .pythonExecutable(python)
                        .workers(1)
                        .preload(List.of())
                        .build()));
    assertTrue(
        refused.getMessage().contains("cannot read what the interpreter needs")
            && refused.getMessage().contains(temp.toString()),
        refused.getMessage());
  }

  /** With neither a mount namespace nor Landlock the pool refuses to start unless opted in. */
  @Test
  void unconfinedReadsNeedTheOptIn() {
    String exposed = PythonWorkerPool.unconfinedReads(false, List.of("seccomp", "rlimits"));
    assertTrue(exposed.contains("calls can read every file their uid can"), exposed);
    assertEquals(null, PythonWorkerPool.unconfinedReads(false, List.of("landlock-fs")));
    assertEquals(null, PythonWorkerPool.unconfinedReads(true, List.of()));
    assertFalse(PythonSandboxConfig.defaults().allowUnconfinedReads());
  }

  @Test
  void cannotConnectToALocalListener() throws Exception {
    PythonSandboxTest.assertNoConnection(pool);
  }

  @Test
  void cannotReachHostUnixSockets() throws Exception {
    PythonSandboxTest.assertNoHostUnixSocketReached(pool);
  }

  @Test
  void sysvIpcAndKeysDoNotOutliveTheCall() throws Exception {
    PythonSandboxTest.assertNothingOutlivesTheCall(pool);
  }

  @Test
  void aVeryDeepDirectoryTreeIsCleanedUp() throws Exception {
    PythonSandboxTest.assertDeepTreeRemoved(pool);
  }

  /** The worker runs with {@code python3 -c}: no script file exists that a kill could leave. */
  @Test
  void noWorkerScriptFileOnDisk() throws Exception {
    Path tempDir = Path.of(System.getProperty("java.io.tmpdir")).toRealPath();
    for (ProcessHandle process : pool.processes()) {
      String[] args =
          new String(
                  Files.readAllBytes(Path.of("/proc/" + process.pid(), "cmdline")),
                  StandardCharsets.UTF_8)
              .split("\0");
      for (String arg : args) {
        if (arg.startsWith("/") && arg.length() < 4096) {
          Path path = Path.of(arg);
          assertFalse(
              path.startsWith(tempDir) && Files.exists(path),
              "worker runs a file in the temp dir: " + arg);
        }
      }
    }
  }

  /**
   * What a killed JVM leaves (a scratch directory named after its pid and start time, with a deep
   * tree, and an older version's script file named on no command line) is removed when a pool
   * starts; the scratch directory of a live JVM (this one) and a script a live process runs stay.
   */
  @Test
  void filesOfDeadJvmsAreRemovedAtStart() throws Exception {
    Path tempDir = Path.of(System.getProperty("java.io.tmpdir"));
    Process exited = new ProcessBuilder("true").start();
    exited.waitFor();
    Path deadScratch =
        Files.createDirectory(
            tempDir.resolve("arpo4j-python-" + exited.pid() + "-1700000000000-1"));
    Process deep =
        new ProcessBuilder(
                "python3",
                "-c",
                "import os, sys\nos.chdir(sys.argv[1])\n"
                    + "for _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')",
                deadScratch.toString())
            .start();
    assertEquals(0, deep.waitFor());
    Path liveScratch = Files.createTempDirectory(StaleWorkerFiles.scratchPrefix());
    Path oldScript =
        Files.createFile(tempDir.resolve("arpo4j-python-worker-1" + exited.pid() + ".py"));
    Path runningScript =
        Files.createFile(tempDir.resolve("arpo4j-python-worker-2" + exited.pid() + ".py"));
    FileTime longAgo = FileTime.from(Instant.now().minus(Duration.ofMinutes(10)));
    Files.setLastModifiedTime(oldScript, longAgo);
    Files.setLastModifiedTime(runningScript, longAgo);
    Process runner = new ProcessBuilder("tail", "-f", runningScript.toString()).start();
    try {
      new PythonWorkerPool(
              PythonSandboxTest.testConfig(Isolation.NONE).toBuilder()
                  .workers(1)
                  .preload(List.of())
                  .build())
          .close();
      assertFalse(Files.exists(deadScratch), "scratch directory of a dead JVM left");
      assertFalse(Files.exists(oldScript), "script file of a dead JVM left");
      assertTrue(Files.exists(liveScratch), "scratch directory of a live JVM removed");
      assertTrue(Files.exists(runningScript), "script file a live process runs removed");
    } finally {
      runner.destroyForcibly().waitFor();
      for (Path path : List.of(deadScratch, liveScratch, oldScript, runningScript)) {
        PythonWorkerPool.deleteTree(path);
      }
    }
  }

  @Test
  void cannotWriteOutsideItsWorkingDirectory(@TempDir Path hostTemp) throws Exception {
    PythonSandboxTest.assertNoWritesOutside(pool, List.of(hostTemp));
  }

  @Test
  void forkBombIsContainedAndCleanedUp() throws Exception {
    long before = pool.processes().size();
    PythonRun run = pool.run("import os\nwhile True:\n    os.fork()");
    assertNotEquals(Status.OK, run.status());
    assertEquals(before, pool.processes().size(), "processes left behind by the fork bomb");
  }

  @Test
  void workingDirectoryIsFreshForEachCall() throws Exception {
    PythonRun first =
        pool.run("import os\nopen('note.txt', 'w').write('x')\nsorted(os.listdir('.'))");
    assertEquals("['note.txt']", first.output().strip(), first.output());
    for (int i = 0; i < 2; i++) { // whichever worker takes the call
      PythonRun next = pool.run("import os\nlen(os.listdir('.'))");
      assertEquals("0", next.output().strip(), next.output());
    }
  }
}
