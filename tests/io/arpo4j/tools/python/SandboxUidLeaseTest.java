package io.arpo4j.tools.python;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.arpo4j.tools.python.PythonRun.Status;
import io.arpo4j.tools.python.PythonSandboxConfig.Isolation;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Sandbox uids when the JVM is root: another JVM on the host is played by a python process that
 * holds the lock files of the first {@link #HELD} uids (as a JVM's pool would) and runs a process
 * under each of them. A pool must take other uids, and its clean-up (a kill of every process of its
 * uid after each call, without namespaces) must leave those processes alone; a process under a uid
 * whose lock nobody holds is a leftover of a dead owner and is killed when leased.
 */
class SandboxUidLeaseTest {
  /** A base no other test uses, so the lock files can be removed afterwards. */
  static final int BASE = 1_900_600_000;

  static final int HELD = 64;

  @Test
  void poolsTakeUidsNoOtherProcessHoldsAndTouchOnlyTheirOwn() throws Exception {
    assumeTrue(isRoot(), "sandbox uids are used only when the JVM runs as root");
    Path locks = SandboxUidLease.lockDirectory();
    Files.createDirectories(locks);
    Process otherJvm =
        new ProcessBuilder(
                "python3",
                "-c",
                String.join(
                    "\n",
                    "import fcntl, os, signal, sys",
                    "signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed children leave no zombie",
                    "base, held, locks = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]",
                    "files, pids = [], []",
                    "for uid in range(base, base + held + 1):",
                    "    if uid < base + held:  # the last uid runs a process but nobody holds its lock",
                    "        f = open('%s/%d.lock' % (locks, uid), 'a')",
                    "        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)",
                    "        files.append(f)",
                    "    pid = os.fork()",
                    "    if pid == 0:",
                    "        os.setgid(uid)",
                    "        os.setuid(uid)",
                    "        os.execv('/bin/sleep', ['sleep', '600'])",
                    "    pids.append(pid)",
                    "print(' '.join(map(str, pids)), flush=True)",
                    "sys.stdin.read()",
                    "for pid in pids:",
                    "    os.kill(pid, 9)"),
                Integer.toString(BASE),
                Integer.toString(HELD),
                locks.toString())
            .redirectErrorStream(true)
            .start();
    PythonSandboxConfig config =
        PythonSandboxTest.testConfig(Isolation.NONE).toBuilder()
            .sandboxUidBase(BASE)
            .preload(List.of())
            .build();
    try (BufferedReader out =
        new BufferedReader(
            new InputStreamReader(otherJvm.getInputStream(), StandardCharsets.UTF_8))) {
      List<ProcessHandle> theirs = new ArrayList<>();
      for (String pid : out.readLine().split(" ")) {
        theirs.add(ProcessHandle.of(Long.parseLong(pid)).orElseThrow());
      }
      ProcessHandle orphan = theirs.remove(HELD);
      Set<Integer> used = new HashSet<>();
      try (PythonWorkerPool first = new PythonWorkerPool(config);
          PythonWorkerPool second = new PythonWorkerPool(config.toBuilder().workers(1).build())) {
        for (PythonWorkerPool pool : List.of(first, first, second)) {
          // the fork bomb makes sure the clean-up kills by uid after the call
          PythonRun run =
              pool.run(
                  "import os\nuid = os.getuid()\nif os.fork() == 0:\n"
                      + "    os.setsid()\n    import time\n    time.sleep(600)\nuid");
          assertEquals(Status.OK, run.status(), run.output());
          int uid = Integer.parseInt(run.output().strip());
          assertTrue(uid >= BASE + HELD, "uid " + uid + " is held by another process");
          used.add(uid);
        }
        assertEquals(3, used.size(), "uids shared by workers: " + used);
        assertFalse(
            SandboxUidLease.processesOf(BASE + HELD).contains(orphan),
            "a process of a free uid survived its lease");
        for (ProcessHandle process : theirs) {
          assertTrue(process.isAlive(), "the pool killed another owner's process " + process);
        }
        for (int uid : used) {
          assertEquals(List.of(), SandboxUidLease.processesOf(uid), "left running as " + uid);
        }
      }
    } finally {
      otherJvm.getOutputStream().close();
      otherJvm.waitFor();
      for (int uid = BASE; uid < BASE + HELD + 8; uid++) {
        Files.deleteIfExists(locks.resolve(uid + ".lock"));
      }
    }
  }

  @Test
  void uidsHeldInThisJvmAreSkippedAndReleasedOnClose() throws Exception {
    assumeTrue(isRoot(), "sandbox uids are used only when the JVM runs as root");
    int base = BASE + 100_000;
    try {
      SandboxUidLease a = SandboxUidLease.acquire(base, 2);
      SandboxUidLease b = SandboxUidLease.acquire(base, 1);
      assertEquals(List.of(base, base + 1, base + 2), List.of(a.uid(0), a.uid(1), b.uid(0)));
      a.close();
      a.close(); // idempotent
      try (SandboxUidLease c = SandboxUidLease.acquire(base, 2)) {
        assertEquals(List.of(base, base + 1), List.of(c.uid(0), c.uid(1)));
      }
      b.close();
    } finally {
      for (int uid = base; uid < base + 3; uid++) {
        Files.deleteIfExists(SandboxUidLease.lockDirectory().resolve(uid + ".lock"));
      }
    }
  }

  static boolean isRoot() {
    try {
      return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
    } catch (Exception e) {
      return false;
    }
  }
}
