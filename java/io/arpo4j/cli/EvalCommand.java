package io.arpo4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.trainer.Checkpoints;
import io.arpo4j.trainer.Evaluator;
import io.arpo4j.trainer.Question;
import io.arpo4j.trainer.Trainer;
import io.arpo4j.trainer.TrainerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "eval",
    mixinStandardHelpOptions = true,
    description =
        "pass@k, tool calls, response length and entropy on held-out questions, of a run's latest"
            + " checkpoint (--run, or the run of --config) or of --model; saved to <run>/eval.json.")
final class EvalCommand implements Callable<Integer> {
  private static final System.Logger LOG = System.getLogger(EvalCommand.class.getName());

  @Mixin RunOptions run;

  @Option(
      names = "--data",
      required = true,
      description =
          "questions: JSONL {\"question\", \"answers\"}, or verl/ARPO rows (.parquet, .json, .jsonl)")
  Path data;

  @Option(
      names = "--run",
      paramLabel = "NAME",
      description =
          "the run to evaluate: its latest checkpoint, with its settings (runs/NAME/config.yaml)")
  String runToEvaluate;

  @Option(
      names = "--samples",
      description =
          "n samples per question; pass@k for k = 1, 2, 4, ..., n (sampled at eval.temperature,"
              + " else rollout.temperature, when n > 1)")
  Integer samples;

  @Override
  public Integer call() throws Exception {
    String[] extra = samples == null ? new String[0] : new String[] {"eval.samples=" + samples};
    if (runToEvaluate != null) {
      if (run.runName != null && !run.runName.equals(runToEvaluate))
        throw new IllegalArgumentException(
            "--run " + runToEvaluate + " and --run-name " + run.runName + " name different runs");
      run.runName = runToEvaluate;
      if (run.config == null) {
        // runs_dir as the defaults and --set have it: the run's own settings are not read yet
        String runsDir = io.arpo4j.config.Defaults.tree().path("runs_dir").asText();
        for (String o : run.overrides)
          if (o.startsWith("runs_dir=")) runsDir = o.substring("runs_dir=".length()).trim();
        Path runConfig = Path.of(runsDir, runToEvaluate, Checkpoints.CONFIG_FILE);
        if (!Files.isRegularFile(runConfig))
          throw new IllegalArgumentException(
              "no run '" + runToEvaluate + "': " + runConfig + " does not exist");
        run.config = runConfig;
      }
    }
    TrainerConfig config = run.load(extra);
    // the run's latest checkpoint, unless --model names the model to evaluate
    Optional<Path> checkpoint =
        run.model == null ? new Checkpoints(config.runDir()).latest() : Optional.empty();
    if (checkpoint.isPresent()) {
      String[] withModel = java.util.Arrays.copyOf(extra, extra.length + 1);
      withModel[extra.length] = "model=" + checkpoint.get();
      config = run.load(withModel);
    }
    List<Question> questions = Question.load(data); // checked before the model is loaded
    System.err.println(
        checkpoint.isPresent()
            ? "evaluating checkpoint "
                + checkpoint.get()
                + " (step "
                + Checkpoints.readState(checkpoint.get()).step()
                + ")"
            : "evaluating model "
                + config.model()
                + (run.model == null ? " (run " + config.runName() + " has no checkpoint)" : ""));
    if (checkpoint.isEmpty() && PolicyModel.DEFAULT_NAME.equals(config.model())) {
      LOG.log(System.Logger.Level.WARNING, PolicyModel.DEFAULT_IS_UNTRAINED);
    }
    try (Trainer trainer = Trainer.builder(config).resume(false).build()) {
      Evaluator.Result r = trainer.evaluate(questions);
      System.out.println(
          new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(r.toMap()));
      Map<String, Object> source = new LinkedHashMap<>();
      source.put("model", config.model());
      source.put("data", data.toString());
      Path file = config.runDir().resolve(Evaluator.FILE_NAME);
      r.save(file, source);
      System.err.println("saved " + file);
    }
    return 0;
  }
}
