package io.arpo4j.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * The {@code arpo4j} command line. Each subcommand lives in its own class in this package.
 *
 * <p>Exit codes: 0 success; 1 a tool call the model would see as an error ({@code tool ...}) or an
 * internal error; 2 bad input (a missing or malformed file, config key, option or id). Failures
 * print one line, {@code error: ...}, naming the file, line or key; {@code --verbose} adds the
 * stack trace.
 */
@Command(
    name = "arpo4j",
    mixinStandardHelpOptions = true,
    version = "arpo4j 0.1.0",
    description = "Agentic Reinforced Policy Optimization (ARPO) for LLMs on the JVM.",
    subcommands = {
      // one line per subcommand, kept in the order of the data's path
      LogitsCommand.class,
      MergeCommand.class,
      GenerateCommand.class,
      ToolCommand.class,
      IndexCommand.class,
      RolloutCommand.class,
      SftCommand.class,
      LaunchCommand.class,
      TrainCommand.class,
      EvalCommand.class,
      ReportCommand.class,
      DemoCommand.class,
    })
public final class Main implements Runnable {
  /** The exit code of bad input: picocli's own code for a usage error. */
  public static final int BAD_INPUT = CommandLine.ExitCode.USAGE;

  private static final String LOG_FORMAT = "java.util.logging.SimpleFormatter.format";

  /** The exit code of a failure that is no fault of the input. */
  public static final int INTERNAL_ERROR = CommandLine.ExitCode.SOFTWARE;

  @Option(
      names = "--verbose",
      scope = ScopeType.INHERIT,
      description = "print the stack trace of an error, not just its one-line message")
  boolean verbose; // read from the parse result, where any subcommand may have matched it

  @Override
  public void run() {
    CommandLine.usage(this, System.out);
  }

  public static void main(String[] args) {
    // warnings (a model without a chat template, a data_source without a scorer) are one line
    // each, "WARNING: ...", not java.util.logging's two (a timestamp line first); -D overrides
    if (System.getProperty(LOG_FORMAT) == null) System.setProperty(LOG_FORMAT, "%4$s: %5$s%6$s%n");
    System.exit(run(args, new PrintWriter(System.err, true, StandardCharsets.UTF_8)));
  }

  /** Runs one command line and returns its exit code; errors go to {@code err}. */
  public static int run(String[] args, PrintWriter err) {
    return run(args, new PrintWriter(System.out, true, StandardCharsets.UTF_8), err);
  }

  /**
   * Runs one command line in this JVM and returns its exit code (never calls System.exit). Commands
   * that talk through picocli write to {@code out}; model output still goes to System.out.
   */
  public static int run(String[] args, PrintWriter out, PrintWriter err) {
    CommandLine cli = new CommandLine(new Main());
    cli.setOut(out);
    cli.setErr(err);
    cli.setParameterExceptionHandler(
        (e, argv) -> {
          err.println(
              "error: "
                  + CliErrors.firstLine(e.getMessage())
                  + " (see '"
                  + e.getCommandLine().getCommandSpec().qualifiedName()
                  + " --help')");
          err.flush();
          return BAD_INPUT;
        });
    cli.setExecutionExceptionHandler(
        (e, commandLine, parseResult) -> {
          CliErrors.Report report = CliErrors.describe(e);
          boolean verbose = verbose(parseResult);
          err.println(
              (report.badInput() ? "error: " : "internal error: ")
                  + report.message()
                  + (verbose || report.badInput()
                      ? ""
                      : " (rerun with --verbose for the stack trace)"));
          if (verbose) {
            e.printStackTrace(err);
          }
          err.flush();
          return report.badInput() ? BAD_INPUT : INTERNAL_ERROR;
        });
    try {
      return cli.execute(args);
    } catch (LinkageError e) {
      // a native library that would not load (picocli passes Errors through): the fix is the
      // user's (a cache, a class path, a library path), so one line and exit 2, like bad input
      err.println("error: " + CliErrors.describe(e).message());
      if (Arrays.asList(args).contains("--verbose")) e.printStackTrace(err);
      err.flush();
      return BAD_INPUT;
    }
  }

  /** Whether --verbose was given at any level of the command line. */
  private static boolean verbose(CommandLine.ParseResult result) {
    for (CommandLine.ParseResult r = result; r != null; r = r.subcommand()) {
      if (r.hasMatchedOption("--verbose")) {
        return true;
      }
    }
    return false;
  }
}
