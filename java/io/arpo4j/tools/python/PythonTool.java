package io.arpo4j.tools.python;

import io.arpo4j.tools.Tool;
import io.arpo4j.tools.ToolContext;
import io.arpo4j.tools.ToolException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The {@code <python>} tool: runs the model's code in a {@link PythonWorkerPool} and answers with
 * what it printed. As in the ARPO reference, the value of a final bare expression is printed;
 * unlike it, stdout and stderr are shown together (in the order written) and a value of None is not
 * printed. A run that did not finish normally is reported through {@link ToolException} (the call
 * is then not ok) with its partial output and a one-line reason.
 */
public final class PythonTool implements Tool {
  /** {@link #description()}: known before a pool starts, for prompts of runs that start none. */
  public static final String DESCRIPTION =
      "runs a Python program in a sandbox and returns what it prints; input: the program";

  private final PythonWorkerPool pool;

  /** Starts a pool with {@code config}; the tool owns it and closes it. */
  public PythonTool(PythonSandboxConfig config) {
    this.pool = new PythonWorkerPool(config);
  }

  @Override
  public String tag() {
    return "python";
  }

  @Override
  public String description() {
    return DESCRIPTION;
  }

  /** The pool's own limit plus room to replace a failed worker; the pool enforces the real one. */
  @Override
  public Duration timeout() {
    return pool.config().timeout().plus(pool.config().startupTimeout()).plusSeconds(10);
  }

  @Override
  public String execute(String input, ToolContext context) throws Exception {
    int bytes = input.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > pool.config().maxCodeBytes()) {
      throw new ToolException(
          "Error: the code is too long ("
              + bytes
              + " bytes; the limit is "
              + pool.config().maxCodeBytes()
              + ").");
    }
    PythonRun run = pool.run(input);
    String output = run.output().strip();
    return switch (run.status()) {
      case OK -> output;
      case ERROR ->
          throw new ToolException(
              output.isEmpty()
                  ? "Error: the program exited with status " + run.exitCode() + "."
                  : output);
      case TIMEOUT ->
          throw new ToolException(
              withReason(
                  output,
                  "Error: execution timed out after " + seconds(pool.config().timeout()) + "."));
      case CPU_LIMIT ->
          throw new ToolException(
              withReason(
                  output,
                  "Error: CPU time limit of " + pool.config().cpuSeconds() + " s exceeded."));
      case OUTPUT_LIMIT ->
          throw new ToolException(
              withReason(
                  output,
                  "... [output truncated: more than "
                      + pool.config().outputLimitBytes()
                      + " bytes; the program was stopped]"));
      case SIGNAL ->
          throw new ToolException(
              withReason(output, "Error: the program was killed by signal " + run.signal() + "."));
      case WORKER_FAILURE ->
          throw new ToolException("Error: the python interpreter failed; please try again.");
    };
  }

  /** The pool behind this tool (for its protections and config). */
  public PythonWorkerPool pool() {
    return pool;
  }

  @Override
  public void close() {
    pool.close();
  }

  private static String withReason(String output, String reason) {
    return output.isEmpty() ? reason : output + "\n" + reason;
  }

  private static String seconds(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() / 1000.0 + " s";
  }
}
