package io.arpo4j.rollout;

import io.arpo4j.tools.ToolCall;
import io.arpo4j.tools.ToolContext;
import io.arpo4j.tools.ToolExecutor;
import io.arpo4j.tools.ToolRegistry;
import io.arpo4j.tools.ToolResult;
import io.arpo4j.tools.TrajectoryFormat;
import java.util.concurrent.CompletableFuture;

/**
 * Runs tool calls for the rollout, and says which tags it answers: the rollout stops generating at
 * the closing tag of exactly these ({@link #format()}), so a tool that can be called is a tool that
 * fires. The engine never waits on a call: it keeps decoding the other paths and picks the result
 * up when the future completes, so an implementation should return at once and do the work on its
 * own threads (the tools package's executor does, and bounds each call by the tool's timeout).
 * Every returned future must eventually complete; a future that completes exceptionally becomes a
 * short error text for the model and a failed call.
 */
public interface ToolCaller {
  /** The trajectory format of these tools: their tags, hence the rollout's stop strings. */
  TrajectoryFormat format();

  /**
   * Starts one call.
   *
   * @param tag the tool's tag, one of {@code format().tags()}
   * @param input the content of the last {@code <tag>…</tag>}, trimmed
   * @param context which trajectory calls, and its how-manieth call this is
   * @return the call's result: its {@link ToolResult#output() output} is the text the model sees
   *     inside {@code <result>}, and its {@link ToolResult#ok() ok} is what the trajectory records
   *     (a tool's own failure, such as a Python traceback, is {@code ok = false})
   */
  CompletableFuture<ToolResult> call(String tag, String input, ToolContext context);

  /** One call, as a lambda. */
  @FunctionalInterface
  interface Call {
    CompletableFuture<ToolResult> call(String tag, String input, ToolContext context);
  }

  /** A caller answering {@code format}'s tags with {@code call}. */
  static ToolCaller of(TrajectoryFormat format, Call call) {
    return new ToolCaller() {
      @Override
      public TrajectoryFormat format() {
        return format;
      }

      @Override
      public CompletableFuture<ToolResult> call(String tag, String input, ToolContext context) {
        return call.call(tag, input, context);
      }
    };
  }

  /**
   * The tools of {@code registry}, run by {@code executor} (which must run that registry's tools):
   * each call's result, its {@code ok} included, is the executor's.
   */
  static ToolCaller of(ToolRegistry registry, ToolExecutor executor) {
    return of(
        registry.format(),
        (tag, input, context) -> executor.submit(new ToolCall(tag, input), context));
  }
}
