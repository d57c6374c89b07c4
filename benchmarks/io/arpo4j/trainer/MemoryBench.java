package io.arpo4j.trainer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.arpo4j.distributed.Distributed;
import io.arpo4j.distributed.Sharding;
import io.arpo4j.distributed.World;
import io.arpo4j.model.DefaultModel;
import io.arpo4j.model.KvCache;
import io.arpo4j.model.LoraAdapter;
import io.arpo4j.model.LoraConfig;
import io.arpo4j.model.ModelBench;
import io.arpo4j.model.ModelConfig;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.model.SamplingParams;
import io.arpo4j.model.Sequence;
import io.arpo4j.model.TransformerPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Peak memory and time of one SFT training step (forward, backward, AdamW) of a randomly
 * initialised model of Qwen2.5-0.5B's shape in fp32 on the CPU, over one sequence of {@code
 * --tokens} tokens, all trained. Peak RSS (the kernel's VmHWM) only grows, so each configuration
 * runs in a JVM of its own: {@code benchmarks/run.sh memory} runs them all.
 *
 * <p>Usage: {@code MemoryBench --tokens 2048 --checkpointing true|false --chunk N [--lora R]};
 * {@code --lora R} trains LoRA adapters of rank R (alpha 2R) on every decoder projection instead of
 * all weights. Prints one table row: RSS after loading, peak RSS through forward/backward, peak RSS
 * after the AdamW step (its moments are allocated on the first step), and the seconds of
 * forward/backward and of the step.
 *
 * <p>{@code --sharding none|optimizer|gradients|full} steps with that {@code distributed.sharding},
 * as one rank of the job the torchrun environment describes (Gloo; {@code run.sh memory --sharding}
 * starts the ranks); {@code --layers L} keeps the first L decoder layers of the shape (so that two
 * ranks fit a shared machine). The row then names the ranks, the rank and the bytes of parameters
 * (model and shard copy) and of AdamW's moments that rank holds between steps.
 */
public final class MemoryBench {
  private MemoryBench() {}

  public static void main(String[] args) throws Exception {
    List<String> a = List.of(args);
    int tokens = Integer.parseInt(value(a, "--tokens", "2048"));
    boolean checkpointing = Boolean.parseBoolean(value(a, "--checkpointing", "false"));
    int chunk = Integer.parseInt(value(a, "--chunk", "256"));
    int loraRank = Integer.parseInt(value(a, "--lora", "0"));
    String sharding = value(a, "--sharding", null);
    String prefill = value(a, "--prefill", null);
    if (a.contains("--header") && prefill != null) {
      System.out.printf(
          Locale.ROOT,
          "%-15s %-15s %10s %14s %10s%n",
          "prefill tokens",
          "per forward",
          "RSS load",
          "peak prefill",
          "prefill s");
      return;
    }
    if (a.contains("--header") && sharding != null) {
      System.out.printf(
          Locale.ROOT,
          "%-7s %-6s %-5s %-10s %10s %14s %14s %14s %14s %10s %8s%n",
          "tokens",
          "ranks",
          "rank",
          "sharding",
          "RSS load",
          "peak fwd+bwd",
          "peak w/ AdamW",
          "params held",
          "AdamW moments",
          "fwd+bwd s",
          "AdamW s");
      return;
    }
    if (a.contains("--header")) {
      System.out.printf(
          Locale.ROOT,
          "%-7s %-7s %-14s %-11s %10s %14s %14s %10s %8s%n",
          "tokens",
          "trains",
          "checkpointing",
          "LM chunk",
          "RSS load",
          "peak fwd+bwd",
          "peak w/ AdamW",
          "fwd+bwd s",
          "AdamW s");
      return;
    }
    ObjectNode shape = (ObjectNode) new ObjectMapper().readTree(ModelBench.QWEN25_05B);
    if (a.contains("--layers")) {
      shape.put("num_hidden_layers", Integer.parseInt(value(a, "--layers", "24")));
    }
    ModelConfig config = ModelConfig.fromJson(shape);
    if (prefill != null) {
      int prefillTokens = Integer.parseInt(prefill);
      prefill(config, prefillTokens, Integer.parseInt(value(a, "--forward-tokens", prefill)));
      return;
    }
    if (sharding != null) {
      sharded(config, tokens, checkpointing, chunk, Sharding.parse(sharding));
      return;
    }
    try (PolicyModel pm =
        PolicyModel.create(config, DefaultModel.tokenizer(), 1, RuntimeOptions.cpu())) {
      pm.model().setGradientCheckpointing(checkpointing);
      if (loraRank > 0) {
        pm.model()
            .attach(
                LoraAdapter.create(
                    pm.model(),
                    new LoraConfig(
                        loraRank, 2.0 * loraRank, 0, List.of(LoraConfig.ALL_LINEAR), false),
                    1,
                    "Qwen2.5-0.5B shape"));
      }
      List<TrainingRow> rows = rows(config, tokens);
      float[] mask = rows.get(0).mask();
      try (PolicyOptimizer opt = new PolicyOptimizer(pm.model(), OptimizerConfig.defaults())) {
        Step m = step(pm, opt, rows, chunk);
        System.out.printf(
            Locale.ROOT,
            "%-7d %-7s %-14s %-11s %10s %14s %14s %10.1f %8.1f%n",
            tokens,
            loraRank > 0 ? "LoRA " + loraRank : "all",
            checkpointing,
            chunk >= mask.length ? "none [N,V]" : String.valueOf(chunk),
            gib(m.loadedKb()),
            gib(m.peakBackwardKb()),
            gib(m.peakStepKb()),
            m.backwardSeconds(),
            m.stepSeconds());
      }
    }
  }

  /** One rank's row of the sharding table. */
  private static void sharded(
      ModelConfig config, int tokens, boolean checkpointing, int chunk, Sharding sharding)
      throws Exception {
    World world = World.fromEnvironment();
    try (Distributed dist =
            Distributed.start(
                world, "cpu", new Distributed.Options("gloo", Duration.ofMinutes(10), 25L << 20));
        PolicyModel pm =
            PolicyModel.create(config, DefaultModel.tokenizer(), 1, RuntimeOptions.cpu())) {
      pm.model().setGradientCheckpointing(checkpointing);
      List<TrainingRow> rows = rows(config, tokens);
      try (PolicyOptimizer opt =
          new PolicyOptimizer(pm.model(), OptimizerConfig.defaults(), dist, sharding)) {
        Step m = step(pm, opt, rows, chunk);
        System.out.printf(
            Locale.ROOT,
            "%-7d %-6d %-5d %-10s %10s %14s %14s %14s %14s %10.1f %8.1f%n",
            tokens,
            dist.size(),
            dist.rank(),
            sharding.name().toLowerCase(Locale.ROOT),
            gib(m.loadedKb()),
            gib(m.peakBackwardKb()),
            gib(m.peakStepKb()),
            gib(opt.parameterBytes() / 1024),
            gib(opt.momentBytes() / 1024),
            m.backwardSeconds(),
            m.stepSeconds());
      }
      dist.barrier();
    }
  }

  /** The prefill row: one prompt of {@code tokens} tokens, {@code forwardTokens} per forward. */
  private static void prefill(ModelConfig config, int tokens, int forwardTokens)
      throws IOException {
    try (PolicyModel pm =
            PolicyModel.create(config, DefaultModel.tokenizer(), 1, RuntimeOptions.cpu());
        TransformerPolicy policy = pm.newPolicy(KvCache.DEFAULT_BLOCK_SIZE, forwardTokens)) {
      SplittableRandom rng = new SplittableRandom(1);
      int[] prompt = new int[tokens];
      for (int i = 0; i < tokens; i++) prompt[i] = rng.nextInt(config.vocabSize());
      Sequence sequence = policy.newSequence(prompt);
      long loaded = status("VmRSS");
      long start = System.nanoTime();
      policy.step(List.of(sequence), SamplingParams.greedy(), 1, 0);
      double seconds = (System.nanoTime() - start) / 1e9;
      System.out.printf(
          Locale.ROOT,
          "%-15d %-15d %10s %14s %10.1f%n",
          tokens,
          Math.min(tokens, forwardTokens),
          gib(loaded),
          gib(status("VmHWM")),
          seconds);
    }
  }

  /** What one measured training step took: resident kB and seconds. */
  private record Step(
      long loadedKb,
      long peakBackwardKb,
      long peakStepKb,
      double backwardSeconds,
      double stepSeconds) {}

  /** One forward/backward over {@code rows} and one optimizer step, measured. */
  private static Step step(PolicyModel pm, PolicyOptimizer opt, List<TrainingRow> rows, int chunk)
      throws IOException {
    TokenBackprop backprop = new TokenBackprop(pm.model(), 1f, chunk);
    long loaded = status("VmRSS");
    opt.zeroGrad();
    long t0 = System.nanoTime();
    backprop.backward(rows, new int[] {0}, new SupervisedLoss(rows.get(0).mask().length));
    long t1 = System.nanoTime();
    long peakBackward = status("VmHWM");
    opt.step();
    long t2 = System.nanoTime();
    return new Step(loaded, peakBackward, status("VmHWM"), (t1 - t0) / 1e9, (t2 - t1) / 1e9);
  }

  /** One sequence of {@code tokens} random tokens after a 16-token prompt, all trained. */
  private static List<TrainingRow> rows(ModelConfig config, int tokens) {
    SplittableRandom rng = new SplittableRandom(1);
    int prompt = 16;
    int[] ids = new int[tokens + 1];
    for (int i = 0; i < ids.length; i++) ids[i] = rng.nextInt(config.vocabSize());
    float[] mask = new float[ids.length - prompt];
    java.util.Arrays.fill(mask, 1f);
    return List.of(TrainingRow.supervised(ids, prompt, mask));
  }

  private static String value(List<String> args, String key, String fallback) {
    int i = args.indexOf(key);
    return i >= 0 && i + 1 < args.size() ? args.get(i + 1) : fallback;
  }

  /** A field of /proc/self/status in kB. */
  private static long status(String field) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith(field + ":")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
    }
    throw new IOException(field + " not in /proc/self/status");
  }

  private static String gib(long kb) {
    return String.format(Locale.ROOT, "%.2f GiB", kb / 1024.0 / 1024.0);
  }
}
