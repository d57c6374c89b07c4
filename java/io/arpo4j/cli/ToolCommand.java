package io.arpo4j.cli;

import io.arpo4j.tools.Tool;
import io.arpo4j.tools.ToolCall;
import io.arpo4j.tools.ToolContext;
import io.arpo4j.tools.ToolExecutor;
import io.arpo4j.tools.ToolRegistry;
import io.arpo4j.tools.ToolResult;
import io.arpo4j.tools.TrajectoryFormat;
import io.arpo4j.tools.browse.BrowseConfig;
import io.arpo4j.tools.browse.BrowseTool;
import io.arpo4j.tools.python.PythonSandboxConfig;
import io.arpo4j.tools.python.PythonSandboxConfig.Isolation;
import io.arpo4j.tools.python.PythonTool;
import io.arpo4j.tools.search.SearchIndex;
import io.arpo4j.tools.search.SearchTool;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code arpo4j tool python|search|browse}: runs one tool call the way a rollout does and prints
 * exactly what is appended to the trajectory ({@code " <result>\n...\n</result>"}). Exit status 0
 * when the call succeeded, 1 when the model would see an error, 2 for bad input: a URL whose host
 * cannot be reached is answered with one line naming it.
 */
@Command(
    name = "tool",
    mixinStandardHelpOptions = true,
    description = "Run one tool call and print the text the model would see.",
    subcommands = {ToolCommand.Python.class, ToolCommand.Search.class, ToolCommand.Browse.class})
public final class ToolCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Runs {@code input} through {@code tool} with the rollout's executor and prints the result. */
  static int runOnce(CommandSpec spec, Tool tool, String input) {
    return print(spec, callOnce(tool, input));
  }

  private static int print(CommandSpec spec, ToolResult result) {
    spec.commandLine().getOut().println(TrajectoryFormat.wrapResult(result.output()));
    spec.commandLine().getOut().flush();
    return result.ok() ? 0 : 1;
  }

  private static ToolResult callOnce(Tool tool, String input) {
    try (ToolRegistry registry = new ToolRegistry().register(tool);
        ToolExecutor executor = new ToolExecutor(registry, 1)) {
      return executor.submit(new ToolCall(tool.tag(), input), new ToolContext("cli", 0)).join();
    }
  }

  /**
   * The browse tool, remembering whether its last call found the host unreachable: the executor
   * turns that into text for the model, but for the user who typed the URL it is bad input.
   */
  private static final class UnreachableWatch implements Tool {
    private final BrowseTool browse;
    private volatile BrowseTool.UnreachableException unreachable;

    UnreachableWatch(BrowseTool browse) {
      this.browse = browse;
    }

    @Override
    public String tag() {
      return browse.tag();
    }

    @Override
    public Duration timeout() {
      return browse.timeout();
    }

    @Override
    public String execute(String input, ToolContext context) throws Exception {
      try {
        return browse.execute(input, context);
      } catch (BrowseTool.UnreachableException e) {
        unreachable = e;
        throw e;
      }
    }

    @Override
    public void close() {
      browse.close();
    }
  }

  @Command(
      name = "python",
      mixinStandardHelpOptions = true,
      description = "Run Python code in the sandbox.")
  static final class Python implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--code", required = true, description = "The code, as the model wrote it.")
    String code;

    @Option(
        names = "--timeout",
        description =
            "Wall-clock and CPU limit in seconds (default: tools.python_sandbox.timeout_s and"
                + " cpu_seconds of defaults.yaml).")
    Integer timeoutSeconds;

    @Option(
        names = "--isolation",
        description =
            "AUTO, NAMESPACES or NONE (default: tools.python_sandbox.isolation of defaults.yaml).")
    Isolation isolation;

    @Override
    public Integer call() {
      PythonSandboxConfig.Builder config = PythonSandboxConfig.defaults().toBuilder().workers(1);
      if (timeoutSeconds != null) {
        if (timeoutSeconds < 1) {
          throw new CommandLine.ParameterException(spec.commandLine(), "--timeout must be >= 1");
        }
        config.timeout(Duration.ofSeconds(timeoutSeconds)).cpuSeconds(timeoutSeconds);
      }
      if (isolation != null) {
        config.isolation(isolation);
      }
      return runOnce(spec, new PythonTool(config.build()), code);
    }
  }

  @Command(
      name = "search",
      mixinStandardHelpOptions = true,
      description = "Search a local index built with 'arpo4j index'.")
  static final class Search implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--index", required = true, description = "The index directory.")
    Path index;

    @Option(names = "--query", required = true, description = "The query.")
    String query;

    @Option(
        names = "--k",
        defaultValue = "3",
        description = "Pages shown (default: ${DEFAULT-VALUE}).")
    int k;

    @Option(
        names = "--snippet-chars",
        defaultValue = "1000",
        description = "Longest snippet (default: ${DEFAULT-VALUE}).")
    int snippetChars;

    @Override
    public Integer call() throws Exception {
      SearchTool tool =
          new SearchTool(SearchIndex.open(index), k, snippetChars, Duration.ofSeconds(30));
      return runOnce(spec, tool, query);
    }
  }

  @Command(
      name = "browse",
      mixinStandardHelpOptions = true,
      description = "Fetch a URL, or a document of a local index by id.")
  static final class Browse implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--target", required = true, description = "An http(s) URL or a document id.")
    String target;

    @Option(names = "--index", description = "Index whose documents can be opened by id.")
    Path index;

    @Option(
        names = "--max-chars",
        defaultValue = "4000",
        description = "Longest text returned (default: ${DEFAULT-VALUE}).")
    int maxChars;

    @Option(names = "--allow-private", description = "Allow local and private addresses.")
    boolean allowPrivate;

    @Override
    public Integer call() throws Exception {
      BrowseConfig config =
          BrowseConfig.defaults().withMaxChars(maxChars).withAllowPrivateAddresses(allowPrivate);
      if (index == null) {
        return fetch(new BrowseTool(config, null));
      }
      try (SearchIndex corpus = SearchIndex.open(index)) {
        return fetch(new BrowseTool(config, corpus));
      }
    }

    private int fetch(BrowseTool tool) {
      UnreachableWatch watch = new UnreachableWatch(tool);
      ToolResult result = callOnce(watch, target);
      BrowseTool.UnreachableException unreachable = watch.unreachable;
      if (unreachable != null) {
        throw new IllegalArgumentException(
            "cannot reach " + unreachable.url() + ": " + unreachable.reason());
      }
      return print(spec, result);
    }
  }
}
