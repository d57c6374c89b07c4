package io.arpo4j.trainer;

import io.arpo4j.distributed.Distributed;
import io.arpo4j.model.PolicyModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;

/**
 * Cold-start supervised fine-tuning (ARPO.md §7): next-token loss on the model-written parts of
 * reference traces, tool results masked, shuffled batches, AdamW. One metrics line per step in
 * {@code <run>/sft_metrics.jsonl}.
 *
 * <p>Data parallel: every rank draws the same global batch and trains on its own contiguous shard
 * of it. The loss is normalised by the global token count and the gradients are summed over ranks
 * before clipping, so N ranks take exactly the step one process takes on the whole batch. Rank 0
 * writes the metrics.
 */
public final class SftTrainer {
  private SftTrainer() {}

  public record Result(double firstLoss, double lastLoss, int steps, double seconds) {}

  public static Result train(
      PolicyModel model, List<TrainingRow> rows, TrainerConfig config, Path metricsFile)
      throws IOException {
    return train(model, rows, config, metricsFile, Distributed.single());
  }

  public static Result train(
      PolicyModel model,
      List<TrainingRow> rows,
      TrainerConfig config,
      Path metricsFile,
      Distributed dist)
      throws IOException {
    return train(model, rows, config, metricsFile, dist, true);
  }

  /**
   * As {@link #train(PolicyModel, List, TrainerConfig, Path, Distributed)}; {@code showProgress}
   * false draws no progress line (the master rank draws it otherwise).
   */
  public static Result train(
      PolicyModel model,
      List<TrainingRow> rows,
      TrainerConfig config,
      Path metricsFile,
      Distributed dist,
      boolean showProgress)
      throws IOException {
    TrainerConfig.Sft sft = config.sft();
    OptimizerConfig base = config.optimizerConfig();
    OptimizerConfig opt =
        new OptimizerConfig(
            sft.lr(),
            base.weightDecay(),
            base.beta1(),
            base.beta2(),
            base.eps(),
            base.gradClip(),
            sft.warmupSteps());
    TokenBackprop backprop = new TokenBackprop(model.model(), 1f, config.logitChunkTokens());
    int batches = (rows.size() + sft.batchSize() - 1) / sft.batchSize();
    int total = batches * sft.epochs();
    long start = System.nanoTime();
    double first = Double.NaN, last = Double.NaN;
    int step = 0;
    Collection<Tensor> parameters = model.model().trainableParameters().values();
    dist.broadcastParameters(parameters);
    try (PolicyOptimizer optimizer =
            new PolicyOptimizer(model.model(), opt, dist, config.sharding());
        MetricsLog metrics = dist.isMaster() ? MetricsLog.open(metricsFile) : null;
        Progress progress =
            showProgress && dist.isMaster()
                ? Progress.start("sft", total)
                : Progress.silent(total)) {
      for (int epoch = 0; epoch < sft.epochs(); epoch++) {
        int[] order = RlTrainer.permutation(rows.size(), RlTrainer.mix(config.seed(), -1 - epoch));
        for (int b = 0; b < batches; b++) {
          List<TrainingRow> batch = new ArrayList<>();
          for (int i = b * sft.batchSize();
              i < Math.min(rows.size(), (b + 1) * sft.batchSize());
              i++) {
            batch.add(rows.get(order[i]));
          }
          int[] range = dist.world().shard(batch.size());
          List<TrainingRow> shard = batch.subList(range[0], range[1]);
          double tokens = globalTokens(shard, batch, dist);
          SupervisedLoss loss = new SupervisedLoss(Math.max(tokens, 1));
          optimizer.zeroGrad();
          double value = 0;
          List<int[]> micros = TokenBackprop.microBatches(shard, config.microBatchTokens());
          int idle = backprop.passes(micros.size()) - micros.size();
          for (int i = 0; i < idle; i++) backprop.idleBackward(); // full sharding: see passes
          for (int[] micro : micros) value += backprop.backward(shard, micro, loss).loss();
          value = dist.allReduceSum(value)[0];
          double norm = optimizer.step();
          step++;
          if (Double.isNaN(first)) first = value;
          last = value;
          Map<String, Object> line = new LinkedHashMap<>();
          line.put(MetricsLog.STEP, step);
          line.put("epoch", epoch);
          line.put(MetricsLog.LOSS, value);
          line.put(MetricsLog.GRAD_NORM, norm);
          if (metrics != null) metrics.append(line);
          progress.step(Map.of("loss", value));
        }
      }
    }
    return new Result(first, last, step, (System.nanoTime() - start) / 1e9);
  }

  /**
   * The trained tokens of the whole batch: this rank's count summed over all ranks. Every rank also
   * holds the batch, so a different sum means the ranks read different data.
   */
  private static double globalTokens(
      List<TrainingRow> shard, List<TrainingRow> batch, Distributed dist) {
    double global = dist.allReduceSum(trainedTokens(shard))[0];
    if (global != trainedTokens(batch)) {
      throw new IllegalStateException(
          "rank "
              + dist.rank()
              + ": the ranks' batches hold "
              + global
              + " trained tokens, this rank's copy "
              + trainedTokens(batch)
              + ": every rank must read the same SFT data");
    }
    return global;
  }

  private static double trainedTokens(List<TrainingRow> rows) {
    double tokens = 0;
    for (TrainingRow r : rows) for (float m : r.mask()) tokens += m;
    return tokens;
  }
}
