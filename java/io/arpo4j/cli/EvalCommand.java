package io.arpo4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
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
    name = "eval",
    mixinStandardHelpOptions = true,
    description = "pass@1 / pass@k, tool calls, response length and entropy on held-out questions.")
final class EvalCommand implements Callable<Integer> {
  @Mixin RunOptions run;

  @Option(
      names = "--data",
      required = true,
      description =
          "questions: JSONL {\"question\", \"answers\"}, or verl/ARPO rows (.parquet, .json, .jsonl)")
  Path data;

  @Option(names = "--samples", description = "k of pass@k (sampling at eval.temperature when > 1)")
  Integer samples;

  @Override
  public Integer call() throws Exception {
    TrainerConfig config = samples == null ? run.load() : run.load("eval.samples=" + samples);
    List<Question> questions = Question.load(data); // checked before the model is loaded
    try (Trainer trainer = Trainer.builder(config).resume(false).build()) {
      Evaluator.Result r = trainer.evaluate(questions);
      System.out.println(
          new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(r.toMap()));
    }
    return 0;
  }
}
