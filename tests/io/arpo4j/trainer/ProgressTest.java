package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProgressTest {
  private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
  private final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
  private final AtomicLong now = new AtomicLong(1_000_000_000L);

  private String output() {
    return bytes.toString(StandardCharsets.UTF_8);
  }

  private void advanceSeconds(double seconds) {
    now.addAndGet((long) (seconds * 1e9));
  }

  @Test
  void terminalRedrawsOneLineWithRateAndEta() {
    Progress p = new Progress("sft", 100, out, true, Duration.ofSeconds(10), now::get);
    Map<String, Object> metrics = new LinkedHashMap<>();
    for (int i = 0; i < 10; i++) {
      advanceSeconds(0.5);
      metrics.put("loss", 2.0 / (i + 1));
      metrics.put("n", i);
      p.step(metrics);
    }
    String text = output();
    assertEquals(10, text.chars().filter(c -> c == '\r').count(), "one redraw per step");
    assertFalse(text.contains("\n"));
    String last = text.substring(text.lastIndexOf('\r') + 1);
    // 10 steps in 5 s: 2 it/s, 90 left -> 45 s
    assertEquals(
        "sft  10/100 [##------------------]  10%  2 it/s  ETA 0:00:45  loss=0.2 n=9", last.strip());

    advanceSeconds(1);
    p.close();
    String end = output().substring(text.length());
    assertTrue(end.startsWith("\rsft  10/100"), end);
    assertTrue(end.contains("done in 0:00:06"), end);
    assertTrue(end.endsWith("\n"), "the bar's line is ended");
  }

  @Test
  void aShorterRedrawCoversTheLongerOne() {
    Progress p = new Progress("x", 3, out, true, Duration.ofSeconds(10), now::get);
    advanceSeconds(1);
    p.step(Map.of("a_long_metric_name", "a long value"));
    int first = output().length() - 1;
    advanceSeconds(1);
    p.step();
    String second = output().substring(first + 1);
    assertEquals(first + 1, second.length(), "padded to the previous line's length");
  }

  @Test
  void plainOutputPrintsAtMostOneLinePerInterval() {
    Progress p = new Progress("rl", 35, out, false, Duration.ofSeconds(10), now::get);
    for (int i = 0; i < 35; i++) {
      advanceSeconds(1);
      p.step();
    }
    p.close();
    List<String> lines = output().lines().toList();
    // printed at t = 1 (first step), 11, 21, 31, then the final line
    assertEquals(5, lines.size(), output());
    assertTrue(lines.get(0).startsWith("rl  1/35 "), lines.get(0));
    assertTrue(lines.get(1).startsWith("rl  11/35 "), lines.get(1));
    assertTrue(lines.get(3).startsWith("rl  31/35 "), lines.get(3));
    assertTrue(lines.get(4).startsWith("rl  35/35 [####################] 100%"), lines.get(4));
    assertTrue(lines.get(4).contains("done in 0:00:35"), lines.get(4));
    assertFalse(output().contains("\r"));
  }

  @Test
  void numbersAndClocks() {
    assertEquals("1.235", Progress.number(1.23456));
    assertEquals("0.5", Progress.number(0.5));
    assertEquals("42", Progress.number(42.0));
    assertEquals("1.235e+07", Progress.number(12_345_678.9));
    assertEquals("0.0001235", Progress.number(0.000123456));
    assertEquals("-3.142", Progress.number(-Math.PI));
    assertEquals("NaN", Progress.number(Double.NaN));
    assertEquals("1:02:05", Progress.clock(3725));
    assertEquals("0:00:00", Progress.clock(0.4));
  }

  @Test
  void badUseIsRefused() {
    assertThrows(
        IllegalArgumentException.class,
        () -> new Progress("x", -1, out, false, Duration.ofSeconds(1), now::get));
    Progress p = new Progress("x", 2, out, false, Duration.ofSeconds(1), now::get);
    assertThrows(IllegalArgumentException.class, () -> p.advance(-1, Map.of()));
    p.close();
    p.close();
    assertThrows(IllegalStateException.class, p::step);
    assertEquals(1, output().lines().count(), "closing twice prints once");
  }

  /**
   * Issue 17: after a resume the bar printed 7.643e+05 it/s (resumed steps counted as done now).
   */
  @Test
  void aResumedRunsRateAndEtaCountOnlyTheStepsDoneSince() {
    Progress p = new Progress("grpo run", 20, out, false, Duration.ofSeconds(10), now::get);
    p.resumeAt(10);
    advanceSeconds(20);
    p.step();
    String last = output().strip().lines().reduce((a, b) -> b).orElseThrow();
    // 1 step in 20 s: 0.05 it/s; 9 left -> 180 s
    assertEquals("grpo run  11/20 [###########---------]  55%  0.05 it/s  ETA 0:03:00", last);
    assertTrue(output().startsWith("grpo run  10/20 [##########----------]  50%\n"), output());
  }

  /** Issue 17: a first train at paper defaults showed "0/20" for minutes. */
  @Test
  void aLongStepShowsWhatItIsDoing() {
    Progress plain = new Progress("arpo", 20, out, false, Duration.ofSeconds(10), now::get);
    plain.resumeAt(0);
    advanceSeconds(3);
    plain.detail("rollout 10/2048 trajectories");
    assertFalse(output().contains("rollout"), "plain lines keep their interval");
    advanceSeconds(8);
    plain.detail("rollout 700/2048 trajectories");
    assertTrue(
        output()
            .strip()
            .endsWith("arpo  0/20 [--------------------]   0%  rollout 700/2048 trajectories"),
        output());
    advanceSeconds(20);
    plain.step();
    assertFalse(
        output().strip().lines().reduce((a, b) -> b).orElseThrow().contains("rollout"),
        "a finished step drops its detail");

    bytes.reset();
    Progress terminal = new Progress("arpo", 20, out, true, Duration.ofSeconds(10), now::get);
    advanceSeconds(1);
    terminal.detail("rollout 5/64 trajectories, 120 tokens");
    assertTrue(output().endsWith("rollout 5/64 trajectories, 120 tokens"), output());
  }
}
