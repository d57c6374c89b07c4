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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 10 MB example or question, each run by the CLI in a child JVM with a 512 MiB heap: rejected in
 * one line naming it, with the child's peak resident memory, as the kernel counts it, far below
 * what these inputs once took. An SFT example grew to 24 GB under {@code -Xmx8g} and was killed by
 * the kernel; a question, or an SFT example under a micro-batch bound of millions of tokens,
 * aborted the JVM inside the tokenizer (a Rust panic when the heap ran out for its 10 million token
 * strings), or, with a bigger heap, prefilled 10 million tokens for minutes while memory grew past
 * 4 GB.
 */
class OverLongInputMemoryTest {
  /** Generous: the JVM, libtorch and the embedded model take about 0.4 GiB here. */
  static final long PEAK_RSS_LIMIT_KB = 1536L * 1024;

  static final String TEN_MB = "x".repeat(10_000_000);

  @Test
  void aTenMegabyteSftExampleIsRejectedByLineInBoundedMemory(@TempDir Path cwd) throws Exception {
    Path data = cwd.resolve("huge-line.jsonl");
    try (Writer out = Files.newBufferedWriter(data, StandardCharsets.UTF_8)) {
      out.write("{\"prompt\": \"q\", \"response\": \"" + TEN_MB + "\"}\n");
      for (int i = 0; i < 4; i++)
        out.write("{\"prompt\": \"" + i + "+" + i + "?\", \"response\": \"" + 2 * i + "\"}\n");
    }
    // a micro-batch bound that lets the line through: the model's context still binds (with the
    // micro-batch alone it reached the tokenizer, which aborted the JVM when the heap ran out)
    String err =
        runWithinTheLimit(
            cwd,
            "sft",
            List.of("sft", "--data", data.toString(), "--set", "micro_batch_tokens=100000000"));
    assertTrue(err.contains("huge-line.jsonl:1:"), err);
    assertTrue(err.contains("more than fit in max_position_embeddings"), err);
  }

  @Test
  void aTenMegabyteQuestionIsRejectedByIdInBoundedMemory(@TempDir Path cwd) throws Exception {
    Path data = cwd.resolve("huge-question.jsonl");
    try (Writer out = Files.newBufferedWriter(data, StandardCharsets.UTF_8)) {
      for (int i = 0; i < 4; i++)
        out.write("{\"question\": \"" + i + "+" + i + "?\", \"answers\": [\"" + 2 * i + "\"]}\n");
      out.write("{\"id\": \"huge\", \"question\": \"" + TEN_MB + "\", \"answers\": [\"1\"]}\n");
    }
    String err =
        runWithinTheLimit(
            cwd,
            "train",
            List.of("train", "--data", data.toString(), "--set", "tools.python=false"));
    assertTrue(err.contains("question 'huge'"), err);
    assertTrue(err.contains("max_position_embeddings"), err);
  }

  /**
   * Runs the CLI with {@code args} under {@code -Xmx512m}, sampling its peak resident memory every
   * 50 ms (killing it past the limit); asserts exit code 2 and one line on stderr, and returns it.
   */
  private static String runWithinTheLimit(Path cwd, String log, List<String> args)
      throws Exception {
    List<String> all = new ArrayList<>(args);
    all.addAll(List.of("--set", "runs_dir=" + cwd.resolve("runs")));
    Process p = CliProcess.start(cwd, log, List.of("-Xmx512m"), all);
    long peakKb = 0;
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    while (!p.waitFor(50, TimeUnit.MILLISECONDS)) {
      peakKb = Math.max(peakKb, peakResidentKb(p.pid()));
      if (peakKb > PEAK_RSS_LIMIT_KB || System.nanoTime() > deadline) {
        p.destroyForcibly(); // not the gigabytes of the original bugs on a shared machine
        p.waitFor();
        fail(
            log
                + ": peak resident memory "
                + peakKb / 1024
                + " MiB, still running: "
                + CliProcess.stderr(cwd, log));
      }
    }
    System.out.println(log + " with a 10 MB input: peak resident memory " + peakKb / 1024 + " MiB");
    String err = CliProcess.stderr(cwd, log);
    assertTrue(peakKb > 0, "no memory sample: the child ended within 50 ms? " + err);
    assertEquals(List.of(), CliProcess.crashLogs(cwd, p), err);
    assertEquals(Main.BAD_INPUT, p.exitValue(), err);
    assertEquals(1, err.lines().count(), err);
    assertTrue(err.startsWith("error: "), err);
    return err;
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
}
