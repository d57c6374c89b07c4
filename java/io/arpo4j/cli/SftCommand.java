package io.arpo4j.cli;

import io.arpo4j.trainer.SftTrainer;
import io.arpo4j.trainer.Trainer;
import io.arpo4j.trainer.TrainerConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "sft", mixinStandardHelpOptions = true,
    description = "Cold-start SFT on tool-use traces (JSONL prompt/response; tool results are masked from the loss).")
final class SftCommand implements Callable<Integer> {
  @Mixin RunOptions run;

  @Option(names = "--data", required = true, description = "JSONL of {\"prompt\", \"response\"}, or chat {\"messages\"} records (.jsonl, .json, .parquet)")
  Path data;

  @Option(names = "--out", description = "where to save the tuned model (default runs/<run-name>/sft-model)")
  Path out;

  @Override
  public Integer call() throws Exception {
    TrainerConfig config = run.load("tools.python=false"); // SFT calls no tool: start no python workers
    RunOptions.prepareRunDir(config);
    try (Trainer trainer = Trainer.builder(config).resume(false).build()) {
      SftTrainer.Result r = trainer.sft(data);
      Path dir = out != null ? out : config.runDir().resolve("sft-model");
      trainer.model().save(dir, io.arpo4j.model.StorageType.F32);
      System.out.printf("sft: %d steps in %.1f s, loss %.4f -> %.4f; model saved to %s%n", r.steps(), r.seconds(),
          r.firstLoss(), r.lastLoss(), dir);
    }
    return 0;
  }
}
