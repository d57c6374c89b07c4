package io.arpo4j.cli;

import io.arpo4j.distributed.Distributed;
import io.arpo4j.distributed.World;
import io.arpo4j.trainer.SftTrainer;
import io.arpo4j.trainer.Trainer;
import io.arpo4j.trainer.TrainerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "sft",
    mixinStandardHelpOptions = true,
    description =
        "Cold-start SFT on tool-use traces (JSONL prompt/response; tool results are masked from the loss).")
final class SftCommand implements Callable<Integer> {
  @Mixin RunOptions run;

  @Option(
      names = "--data",
      required = true,
      description =
          "JSONL of {\"prompt\", \"response\"}, or chat {\"messages\"} records (.jsonl, .json, .parquet)")
  Path data;

  @Option(
      names = "--out",
      description = "where to save the tuned model (default runs/<run-name>/sft-model)")
  Path out;

  @Override
  public Integer call() throws Exception {
    // the tools of train and eval, so that SFT shows the model the same system prompt (the python
    // tool starts no worker until it is called, and SFT calls none)
    TrainerConfig config = run.load();
    RunOptions.prepareRunDir(config);
    World world = World.fromEnvironment();
    try (Distributed dist = Distributed.start(world, config.device(), config.distributedOptions());
        Trainer trainer = Trainer.builder(config).resume(false).distributed(dist).build()) {
      SftTrainer.Result r = trainer.sft(data);
      Path dir = out != null ? out : config.runDir().resolve("sft-model");
      dist.barrier(); // every rank finished its last step: the weights are final
      if (dist.isMaster()) {
        saveAtomically(trainer, dir);
        System.out.printf(
            "sft: %d steps in %.1f s, loss %.4f -> %.4f; model saved to %s%n",
            r.steps(), r.seconds(), r.firstLoss(), r.lastLoss(), dir);
      }
      dist.barrier(); // the other ranks exit once the model is on disk
    }
    return 0;
  }

  /**
   * Writes the model next to {@code dir} and renames it into place: a crash leaves no half-written
   * model.
   */
  private static void saveAtomically(Trainer trainer, Path dir) throws java.io.IOException {
    Path parent = dir.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    Path tmp = Files.createTempDirectory(parent, "." + dir.getFileName() + ".tmp-");
    trainer.model().save(tmp, io.arpo4j.model.StorageType.F32);
    if (Files.exists(dir)) {
      try (var walk = Files.walk(dir)) {
        for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
      }
    }
    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
  }
}
