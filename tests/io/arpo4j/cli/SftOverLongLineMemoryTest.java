package io.arpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code arpo4j sft} on a JSONL whose first example is a 10 MB line (it once grew to 24 GB of
 * resident memory under {@code -Xmx8g} and was killed by the kernel): rejected by file and line,
 * with the child JVM's peak resident memory, as the kernel counts it, far below that.
 */
class SftOverLongLineMemoryTest {
  /** Generous: the JVM, libtorch and the embedded model take about 0.4 GiB here. */
  static final long PEAK_RSS_LIMIT_KB = 1536L * 1024;

  @Test
  void aTenMegabyteLineIsRejectedByLineInBoundedMemory(@TempDir Path cwd) throws Exception {
    Path data = cwd.resolve("huge-line.jsonl");
    try (Writer out = Files.newBufferedWriter(data, StandardCharsets.UTF_8)) {
      out.write("{\"prompt\": \"q\", \"response\": \"" + "x".repeat(10_000_000) + "\"}\n");
      for (int i = 0; i < 4; i++)
        out.write("{\"prompt\": \"" + i + "+" + i + "?\", \"response\": \"" + 2 * i + "\"}\n");
    }
    Process p =
        CliProcess.start(
            cwd,
            "sft",
            List.of("-Xmx512m"),
            List.of("sft", "--data", data.toString(), "--set", "runs_dir=" + cwd.resolve("runs")));
    long peakKb = 0;
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    while (!p.waitFor(50, TimeUnit.MILLISECONDS)) {
      peakKb = Math.max(peakKb, peakResidentKb(p.pid()));
      if (peakKb > PEAK_RSS_LIMIT_KB || System.nanoTime() > deadline) {
        p.destroyForcibly(); // not the 24 GB of the original bug on a shared machine
        p.waitFor();
        fail("peak resident memory " + peakKb / 1024 + " MiB, still running: " + stderr(cwd));
      }
    }
    System.out.println("sft with a 10 MB line: peak resident memory " + peakKb / 1024 + " MiB");
    assertTrue(peakKb > 0, "no memory sample: the child ended within 50 ms? " + stderr(cwd));
    String err = stderr(cwd);
    assertEquals(Main.BAD_INPUT, p.exitValue(), err);
    assertEquals(1, err.lines().count(), err);
    assertTrue(err.startsWith("error: ") && err.contains("huge-line.jsonl:1:"), err);
    assertTrue(err.contains("micro_batch_tokens"), err);
  }

  /**
   * The peak resident set of {@code pid} so far, VmHWM of /proc/pid/status (at least every VmRSS
   * seen), in KiB; 0 once the process is gone.
   */
  static long peakResidentKb(long pid) throws IOException {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
        if (line.startsWith("VmHWM:"))
          return Long.parseLong(line.substring("VmHWM:".length()).replace("kB", "").strip());
      }
      return 0; // a zombie has no memory lines
    } catch (NoSuchFileException e) {
      return 0;
    }
  }

  private static String stderr(Path cwd) throws IOException {
    return CliProcess.stderr(cwd, "sft");
  }
}
