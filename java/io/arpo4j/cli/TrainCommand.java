package io.arpo4j.cli;

import io.arpo4j.distributed.Distributed;
import io.arpo4j.distributed.World;
import io.arpo4j.trainer.Checkpoints;
import io.arpo4j.trainer.Evaluator;
import io.arpo4j.trainer.Question;
import io.arpo4j.trainer.Trainer;
import io.arpo4j.trainer.TrainerConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "train",
    mixinStandardHelpOptions = true,
    description =
        "RL training (ARPO, GRPO, DAPO or REINFORCE++). Resumes from runs/<run-name>/checkpoints/latest if present.")
final class TrainCommand implements Callable<Integer> {
  @Mixin RunOptions run;

  @Option(
      names = "--data",
      description =
          "training questions: JSONL {\"question\", \"answers\"}, or verl/ARPO rows (.parquet, .json, .jsonl) (or data.train)")
  Path data;

  @Option(
      names = "--eval-data",
      description = "held-out questions evaluated at the end (or data.eval)")
  Path evalData;

  @Option(names = "--fresh", description = "ignore existing checkpoints of this run")
  boolean fresh;

  @Override
  public Integer call() throws Exception {
    TrainerConfig config = run.load();
    Path train =
        data != null ? data : config.data().train() == null ? null : Path.of(config.data().train());
    if (train == null)
      throw new IllegalArgumentException("no training data: pass --data or set data.train");
    // the data is checked before the model is loaded or a tool started
    List<Question> questions = Question.load(train);
    Path eval =
        evalData != null
            ? evalData
            : config.data().eval() == null ? null : Path.of(config.data().eval());
    List<Question> heldOut = eval == null ? null : Question.load(eval);
    RunOptions.prepareRunDir(config);
    try (Distributed dist =
            Distributed.start(
                World.fromEnvironment(), config.device(), config.distributedOptions());
        Trainer trainer = Trainer.builder(config).resume(!fresh).distributed(dist).build()) {
      trainer.train(questions, heldOut == null ? List.of() : heldOut);
      if (!dist.isMaster()) return 0; // rank 0 evaluates and reports
      if (heldOut != null) {
        Evaluator.Result r = trainer.evaluate(heldOut);
        System.out.println("eval: " + r.toMap());
        r.save(
            config.runDir().resolve(Evaluator.FILE_NAME),
            java.util.Map.of(
                "model",
                new Checkpoints(config.runDir())
                    .latest()
                    .map(Path::toString)
                    .orElse(config.model()),
                "data",
                eval.toString()));
      }
      System.out.println("run directory: " + config.runDir());
    }
    return 0;
  }
}
