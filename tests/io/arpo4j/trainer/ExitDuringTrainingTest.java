package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.*;

import io.arpo4j.testing.ChildJvm;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM while a thread is inside libtorch (hs_err_pid28380.log: the JVM ran libtorch's static
 * destructors while the main thread was in {@code Tensor.backward}, and died with SIGSEGV). The JVM
 * must wait for the native work in progress and exit cleanly (status 143) with no crash log.
 */
class ExitDuringTrainingTest {
  /** SIGTERM's exit status: 128 + 15. */
  static final int TERMINATED = 143;

  @Test
  void exitWaitsForTheNativeSectionInProgressAndStartsNoOther(@TempDir Path dir) throws Exception {
    Process p = child(SectionHolder.class, dir);
    List<String> lines = new ArrayList<>();
    try (BufferedReader out = reader(p)) {
      assertEquals("entered", out.readLine());
      p.toHandle().destroy(); // SIGTERM (Process.destroy would also close our end of its output)
      for (String line; (line = out.readLine()) != null; ) lines.add(line);
    }
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(TERMINATED, p.exitValue(), "output: " + lines);
    assertEquals(List.of("left"), lines, "exit must wait for the section and start no other");
  }

  @Test
  void sigtermDuringSftStepsExitsCleanly(@TempDir Path dir) throws Exception {
    for (int trial = 0; trial < 3; trial++) {
      Process p = child(SftLoop.class, dir);
      List<String> lines = new ArrayList<>();
      try (BufferedReader out = reader(p)) {
        for (String line; (line = out.readLine()) != null; ) {
          lines.add(line);
          if (line.equals("step " + (2 + trial)))
            p.toHandle().destroy(); // SIGTERM in the middle of the next step
        }
      }
      assertTrue(p.waitFor(60, TimeUnit.SECONDS));
      try (Stream<Path> files = Files.list(dir)) {
        assertEquals(
            List.of(),
            files.filter(f -> f.getFileName().toString().startsWith("hs_err")).toList(),
            "the JVM crashed on exit");
      }
      assertEquals(TERMINATED, p.exitValue(), "trial " + trial + " output: " + lines);
    }
  }

  private static Process child(Class<?> main, Path dir) throws IOException {
    List<String> cmd = ChildJvm.java("-Xmx512m", "-cp", System.getProperty("java.class.path"));
    cmd.add(main.getName());
    return new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
  }

  private static BufferedReader reader(Process p) {
    return new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
  }
}
