package io.arpo4j.tools.python;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.tools.python.PythonRun.Status;
import io.arpo4j.tools.python.PythonSandboxConfig.Isolation;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
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
    PythonRun first = pool.run("import os\nopen('note.txt', 'w').write('x')\nsorted(os.listdir('.'))");
    assertEquals("['note.txt']", first.output().strip(), first.output());
    for (int i = 0; i < 2; i++) { // whichever worker takes the call
      PythonRun next = pool.run("import os\nlen(os.listdir('.'))");
      assertEquals("0", next.output().strip(), next.output());
    }
  }
}
