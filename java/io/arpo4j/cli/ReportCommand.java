package io.arpo4j.cli;

import io.arpo4j.trainer.report.RunReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(
    name = "report",
    mixinStandardHelpOptions = true,
    description =
        "Write <run-dir>/report.html: settings, training curves, the final evaluation (eval.json)"
            + " and rollout trees of the last step.")
final class ReportCommand implements Callable<Integer> {
  @Parameters(paramLabel = "RUN_DIR", description = "a run directory, e.g. runs/run")
  Path runDir;

  @Override
  public Integer call() throws Exception {
    if (!Files.isDirectory(runDir))
      throw new IllegalArgumentException("run directory " + runDir + " does not exist");
    System.out.println("report: " + RunReport.write(runDir));
    return 0;
  }
}
