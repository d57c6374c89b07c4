package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsLogTest {
  @TempDir Path dir;

  private static List<Map<String, Object>> randomSteps(Random random, int from, int to) {
    List<Map<String, Object>> steps = new ArrayList<>();
    for (int step = from; step <= to; step++) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put(MetricsLog.STEP, step);
      m.put(MetricsLog.ALGO, random.nextBoolean() ? "arpo" : "grpo");
      m.put(MetricsLog.REWARD_MEAN, random.nextGaussian());
      m.put(MetricsLog.TOOL_CALLS_PER_PROMPT, random.nextDouble() * 3);
      m.put(MetricsLog.BRANCHES, random.nextInt(9));
      m.put(MetricsLog.GENERATED_TOKENS_PER_S, 1e4 * random.nextDouble());
      steps.add(m);
    }
    return steps;
  }

  @Test
  void linesAreReadableBeforeCloseAndRoundTripExactly() throws IOException {
    Path file = dir.resolve("sub/metrics.jsonl");
    List<Map<String, Object>> steps = randomSteps(new Random(11), 1, 25);
    try (MetricsLog log = MetricsLog.open(file)) {
      for (int i = 0; i < steps.size(); i++) {
        log.append(steps.get(i));
        // flushed per line: a second reader sees every line while the log is still open
        assertEquals(steps.subList(0, i + 1), MetricsLog.read(file));
      }
    }
    List<String> lines = Files.readAllLines(file);
    assertEquals(25, lines.size());
    assertTrue(
        lines.get(0).startsWith("{\"step\":1,\"algo\":"), "keys keep their order: " + lines.get(0));
  }

  @Test
  void reopeningAppends() throws IOException {
    Path file = dir.resolve("m.jsonl");
    List<Map<String, Object>> steps = randomSteps(new Random(12), 1, 6);
    try (MetricsLog log = MetricsLog.open(file)) {
      for (Map<String, Object> s : steps.subList(0, 3)) {
        log.append(s);
      }
    }
    try (MetricsLog log = MetricsLog.open(file)) {
      for (Map<String, Object> s : steps.subList(3, 6)) {
        log.append(s);
      }
    }
    assertEquals(steps, MetricsLog.read(file));
  }

  @Test
  void aTornLastLineIsSkippedAndCutOffBeforeAppending() throws IOException {
    Path file = dir.resolve("m.jsonl");
    List<Map<String, Object>> steps = randomSteps(new Random(13), 1, 4);
    try (MetricsLog log = MetricsLog.open(file)) {
      for (Map<String, Object> s : steps.subList(0, 3)) {
        log.append(s);
      }
    }
    Files.writeString(
        file,
        "{\"step\":4,\"reward_me",
        StandardCharsets.UTF_8,
        java.nio.file.StandardOpenOption.APPEND);
    assertEquals(steps.subList(0, 3), MetricsLog.read(file));
    try (MetricsLog log = MetricsLog.open(file)) {
      log.append(steps.get(3));
    }
    assertEquals(steps, MetricsLog.read(file));
    assertEquals(4, Files.readAllLines(file).size());
  }

  @Test
  void aBrokenLineInTheMiddleIsAnError() throws IOException {
    Path file = dir.resolve("m.jsonl");
    Files.writeString(file, "{\"step\":1}\nnot json\n{\"step\":3}\n");
    IOException e = assertThrows(IOException.class, () -> MetricsLog.read(file));
    assertTrue(e.getMessage().contains("line 2"), e.getMessage());
  }

  @Test
  void resumeDropsStepsAfterTheCheckpoint() throws IOException {
    Path file = dir.resolve("m.jsonl");
    List<Map<String, Object>> steps = randomSteps(new Random(14), 1, 10);
    try (MetricsLog log = MetricsLog.open(file)) {
      for (Map<String, Object> s : steps) {
        log.append(s);
      }
    }
    List<Map<String, Object>> redone = randomSteps(new Random(15), 7, 8);
    try (MetricsLog log = MetricsLog.resume(file, 6)) {
      for (Map<String, Object> s : redone) {
        log.append(s);
      }
    }
    List<Map<String, Object>> expected = new ArrayList<>(steps.subList(0, 6));
    expected.addAll(redone);
    assertEquals(expected, MetricsLog.read(file));
    assertTrue(Files.notExists(dir.resolve("m.jsonl.tmp")));
  }

  @Test
  void nonFiniteNumbersAreWrittenAsNull() throws IOException {
    Path file = dir.resolve("m.jsonl");
    try (MetricsLog log = MetricsLog.open(file)) {
      log.append(Map.of(MetricsLog.LOSS, Double.NaN));
      log.append(Map.of(MetricsLog.LOSS, Double.POSITIVE_INFINITY));
    }
    assertEquals(List.of("{\"loss\":null}", "{\"loss\":null}"), Files.readAllLines(file));
    assertNull(MetricsLog.read(file).get(0).get(MetricsLog.LOSS));
  }

  @Test
  void nullKeysAreRejected() throws IOException {
    try (MetricsLog log = MetricsLog.open(dir.resolve("m.jsonl"))) {
      Map<String, Object> bad = new HashMap<>();
      bad.put(null, 1);
      assertThrows(IllegalArgumentException.class, () -> log.append(bad));
    }
  }
}
