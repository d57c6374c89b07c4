package io.arpo4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code arpo4j} command line. Each subcommand lives in its own class in this package. */
@Command(
    name = "arpo4j",
    mixinStandardHelpOptions = true,
    version = "arpo4j 0.1.0",
    description = "Agentic Reinforced Policy Optimization (ARPO) for LLMs on the JVM.",
    subcommands = {
      // one line per subcommand, kept in the order of the data's path
      LogitsCommand.class,
      GenerateCommand.class,
      ToolCommand.class,
      IndexCommand.class,
      RolloutCommand.class,
      SftCommand.class,
      LaunchCommand.class,
      TrainCommand.class,
      EvalCommand.class,
      DemoCommand.class,
    })
public final class Main implements Runnable {
  @Override
  public void run() {
    CommandLine.usage(this, System.out);
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new Main()).execute(args));
  }
}
