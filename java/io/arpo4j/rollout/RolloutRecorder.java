package io.arpo4j.rollout;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes rollout trees as JSONL, one {@link RolloutGroup} per line: the prompt (tokens, text,
 * references) and every trajectory with its tokens, text, per-token logprob, entropy and loss mask,
 * parent and fork offset, tool calls (input, output, latency) and branch points (ΔH, P), and its
 * reward. {@link #read} parses a file back into equal objects, so a rollout can be replayed,
 * inspected or drawn later.
 */
public final class RolloutRecorder implements Closeable {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

  /** The key of the training step in lines written by {@link #writeAll(int, List)}. */
  public static final String STEP = "step";

  /** The key of the question's id in lines written by {@link #writeAll(int, List, List)}. */
  public static final String QUESTION_ID = "question_id";

  private static final Pattern STEP_PREFIX = Pattern.compile("\\{\"step\":(\\d+),");

  private final BufferedWriter out;

  /** Appends to {@code file}, creating it (and its directory) when missing. */
  public RolloutRecorder(Path file) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    if (dir != null) {
      Files.createDirectories(dir);
    }
    this.out =
        Files.newBufferedWriter(
            file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }

  /** Writes one line and flushes it, so a crash loses at most the group being written. */
  public void write(RolloutGroup group) throws IOException {
    out.write(toJson(group));
    out.newLine();
    out.flush();
  }

  public void writeAll(List<RolloutGroup> groups) throws IOException {
    for (RolloutGroup group : groups) {
      write(group);
    }
  }

  /** Writes the groups of training step {@code step}, each line led by {@code "step": step}. */
  public void writeAll(int step, List<RolloutGroup> groups) throws IOException {
    writeAll(step, null, groups);
  }

  /**
   * Writes the groups of training step {@code step}, each line led by {@code "step": step} and
   * {@code "question_id"}: the id of group i's question, {@code questionIds.get(i)} (none when
   * {@code questionIds} is null).
   */
  public void writeAll(int step, List<String> questionIds, List<RolloutGroup> groups)
      throws IOException {
    if (questionIds != null && questionIds.size() != groups.size()) {
      throw new IllegalArgumentException(
          questionIds.size() + " question ids for " + groups.size() + " groups");
    }
    for (int i = 0; i < groups.size(); i++) {
      String id =
          questionIds == null
              ? ""
              : "\"" + QUESTION_ID + "\":" + JSON.writeValueAsString(questionIds.get(i)) + ",";
      out.write("{\"" + STEP + "\":" + step + "," + id + toJson(groups.get(i)).substring(1));
      out.newLine();
      out.flush();
    }
  }

  /**
   * Keeps only the lines of steps up to {@code step} (and lines without a step), so a run resumed
   * from the checkpoint of {@code step} does not record its redone steps twice. A line cut short by
   * a crash is dropped too. The file is replaced atomically.
   */
  public static void truncateAfterStep(Path file, int step) throws IOException {
    if (!Files.isRegularFile(file)) {
      return;
    }
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8);
        BufferedWriter kept = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
      String line = in.readLine();
      while (line != null) {
        String next = in.readLine();
        Matcher m = STEP_PREFIX.matcher(line);
        // only the last line can have been cut short by a crash; parse just that one
        boolean complete = next != null || isJson(line);
        if (complete && (!m.lookingAt() || Long.parseLong(m.group(1)) <= step)) {
          kept.write(line);
          kept.newLine();
        }
        line = next;
      }
    }
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  @Override
  public void close() throws IOException {
    out.close();
  }

  public static String toJson(RolloutGroup group) {
    try {
      return JSON.writeValueAsString(group);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static boolean isJson(String line) {
    try {
      JSON.readTree(line);
      return true;
    } catch (JsonProcessingException e) {
      return false;
    }
  }

  /**
   * Parses one line (its {@code step}, if any, aside); IllegalArgumentException when it is not a
   * rollout group.
   */
  public static RolloutGroup fromJson(String line) {
    try {
      JsonNode node = JSON.readTree(line);
      if (node instanceof ObjectNode object) {
        object.remove(STEP);
        object.remove(QUESTION_ID);
      }
      return JSON.treeToValue(node, RolloutGroup.class);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("not a rollout group: " + e.getOriginalMessage(), e);
    }
  }

  /** Every group of a file written by a recorder, in order (blank lines skipped). */
  public static List<RolloutGroup> read(Path file) throws IOException {
    List<RolloutGroup> groups = new ArrayList<>();
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String line;
      int number = 0;
      while ((line = in.readLine()) != null) {
        number++;
        if (line.isBlank()) {
          continue;
        }
        try {
          groups.add(fromJson(line));
        } catch (IllegalArgumentException e) {
          throw new IOException(file + " line " + number + ": " + e.getMessage(), e);
        }
      }
    }
    return groups;
  }
}
