package io.arpo4j.cli;

import io.arpo4j.trainer.TrainerConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * Options shared by the training commands: a config file, overrides, and shortcuts for common keys.
 */
final class RunOptions {
  /**
   * Where the CLI departs from the library's defaults: the python sandbox is on unless turned off.
   */
  static final List<String> CLI_DEFAULTS = List.of("tools.python=true");

  @Option(
      names = "--config",
      description = "YAML run configuration (see resources/io/arpo4j/trainer/defaults.yaml)")
  Path config;

  @Option(
      names = "--set",
      paramLabel = "KEY=VALUE",
      description = "override one config key, e.g. --set loss.kl_coef=0.05 (repeatable)")
  List<String> overrides = new ArrayList<>();

  @Option(names = "--algo", description = "arpo | grpo | dapo | reinforce++")
  String algo;

  @Option(
      names = "--model",
      description = "HF model directory, or 'default' for the embedded model")
  String model;

  @Option(names = "--run-name", description = "output goes to runs/<run-name>/")
  String runName;

  @Option(names = "--steps", description = "RL steps")
  Integer steps;

  @Option(names = "--device", description = "cpu | cuda | cuda:N")
  String device;

  @Option(names = "--seed", description = "random seed")
  Long seed;

  /**
   * Creates the run directory and proves it writable before any model is loaded, so that a
   * read-only or blocked runs_dir fails at once and by name, not after the first step.
   */
  static void prepareRunDir(TrainerConfig config) throws IOException {
    Path dir = config.runDir();
    try {
      Files.createDirectories(dir);
      Files.delete(Files.createTempFile(dir, ".write-probe-", ""));
    } catch (IOException e) {
      // the failing path may be a parent (the runs_dir itself): name both
      throw new IOException(
          "cannot write the run directory " + dir + ": " + CliErrors.describe(e).message(), e);
    }
  }

  TrainerConfig load(String... extra) throws IOException {
    List<String> all = new ArrayList<>(List.of(extra));
    if (algo != null) all.add("algo=" + algo);
    if (model != null) all.add("model=" + model);
    if (runName != null) all.add("run_name=" + runName);
    if (steps != null) all.add("steps=" + steps);
    if (device != null) all.add("device=" + device);
    if (seed != null) all.add("seed=" + seed);
    all.addAll(overrides);
    return TrainerConfig.load(CLI_DEFAULTS, config, all);
  }
}
