package io.arpo4j.rollout;

import io.arpo4j.rollout.ScriptedPolicy.Piece;
import io.arpo4j.tools.ToolContext;
import io.arpo4j.tools.ToolResult;
import io.arpo4j.tools.TrajectoryFormat;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

/** Shared helpers for the rollout tests. */
final class Fixtures {
  private Fixtures() {}

  static Prompt prompt(String text) {
    return new Prompt(ScriptedPolicy.CODEC.encode(text), text, List.of("ref-" + text));
  }

  /** What the engine appends for a tool output. */
  static String result(String output) {
    return " <result>\n" + output + "\n</result>";
  }

  /** A tool caller that answers at once with {@code R:<input>} and records its calls. */
  static final class EchoTools implements ToolCaller {
    record Call(String tag, String input, ToolContext context) {}

    final List<Call> calls = Collections.synchronizedList(new ArrayList<>());
    private final TrajectoryFormat format;

    /** Answers the built-in tags (python, search, browse). */
    EchoTools() {
      this(TrajectoryFormat.BUILT_IN);
    }

    EchoTools(TrajectoryFormat format) {
      this.format = format;
    }

    @Override
    public TrajectoryFormat format() {
      return format;
    }

    @Override
    public CompletableFuture<ToolResult> call(String tag, String input, ToolContext context) {
      calls.add(new Call(tag, input, context));
      return CompletableFuture.completedFuture(success(tag, input, "R:" + input));
    }
  }

  /** A successful call's result with {@code output}. */
  static ToolResult success(String tag, String input, String output) {
    return new ToolResult(tag, input, output, true, Duration.ZERO);
  }

  /**
   * A random script for a sequence name: it starts with the marker {@code [name]} (so a
   * trajectory's text tells which fake sequence wrote it), then 0–3 tool calls each followed by a
   * few probe letters, then an answer; entropies drawn per piece.
   */
  static List<Piece> randomScript(String name, long seed) {
    Random r = new Random(seed * 31 + name.hashCode());
    List<Piece> script = new ArrayList<>();
    script.add(new Piece("[" + name + "]", 0.5f + 2 * r.nextFloat()));
    int calls = r.nextInt(4);
    for (int c = 0; c < calls; c++) {
      String tag = r.nextBoolean() ? "python" : "search";
      script.add(
          new Piece("<" + tag + ">" + r.nextInt(1000) + "</" + tag + ">", 3 * r.nextFloat()));
      script.add(new Piece(letters(r, 2 + r.nextInt(6)), 4 * r.nextFloat()));
      script.add(new Piece(letters(r, r.nextInt(4)), 4 * r.nextFloat()));
    }
    script.add(new Piece("<answer>" + r.nextInt(10) + "</answer>", r.nextFloat()));
    return script;
  }

  private static String letters(Random r, int n) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < n; i++) {
      s.append((char) ('a' + r.nextInt(26)));
    }
    return s.toString();
  }

  /** The fake sequence name in a marker {@code [name]} starting at {@code from} in {@code text}. */
  static String markerAt(String text, int from) {
    if (from >= text.length() || text.charAt(from) != '[') {
      return null;
    }
    return text.substring(from + 1, text.indexOf(']', from));
  }

  /** Mean of {@code values[from, from + count)} in double, in order. */
  static double mean(float[] values, int from, int count) {
    double sum = 0;
    for (int i = from; i < from + count; i++) {
      sum += values[i];
    }
    return sum / count;
  }

  static String text(int[] tokens, int from, int to) {
    return ScriptedPolicy.CODEC.decode(java.util.Arrays.copyOfRange(tokens, from, to));
  }
}
