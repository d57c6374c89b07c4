package io.arpo4j.trainer;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.model.DefaultModel;
import io.arpo4j.model.LoraAdapter;
import io.arpo4j.model.LoraConfig;
import io.arpo4j.model.ModelBench;
import io.arpo4j.model.ModelConfig;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
 */
public final class MemoryBench {
  private MemoryBench() {}

  public static void main(String[] args) throws Exception {
    List<String> a = List.of(args);
    int tokens = Integer.parseInt(value(a, "--tokens", "2048"));
    boolean checkpointing = Boolean.parseBoolean(value(a, "--checkpointing", "false"));
    int chunk = Integer.parseInt(value(a, "--chunk", "256"));
    int loraRank = Integer.parseInt(value(a, "--lora", "0"));
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
    ModelConfig config = ModelConfig.fromJson(new ObjectMapper().readTree(ModelBench.QWEN25_05B));
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
      SplittableRandom rng = new SplittableRandom(1);
      int prompt = 16;
      int[] ids = new int[tokens + 1];
      for (int i = 0; i < ids.length; i++) ids[i] = rng.nextInt(config.vocabSize());
      float[] mask = new float[ids.length - prompt];
      java.util.Arrays.fill(mask, 1f);
      List<TrainingRow> rows = List.of(TrainingRow.supervised(ids, prompt, mask));
      try (PolicyOptimizer opt = new PolicyOptimizer(pm.model(), OptimizerConfig.defaults())) {
        TokenBackprop backprop = new TokenBackprop(pm.model(), 1f, chunk);
        long loaded = status("VmRSS");
        opt.zeroGrad();
        long t0 = System.nanoTime();
        backprop.backward(rows, new int[] {0}, new SupervisedLoss(mask.length));
        long t1 = System.nanoTime();
        long peakBackward = status("VmHWM");
        opt.step();
        long t2 = System.nanoTime();
        long peakStep = status("VmHWM");
        System.out.printf(
            Locale.ROOT,
            "%-7d %-7s %-14s %-11s %10s %14s %14s %10.1f %8.1f%n",
            tokens,
            loraRank > 0 ? "LoRA " + loraRank : "all",
            checkpointing,
            chunk >= mask.length ? "none [N,V]" : String.valueOf(chunk),
            gib(loaded),
            gib(peakBackward),
            gib(peakStep),
            (t1 - t0) / 1e9,
            (t2 - t1) / 1e9);
      }
    }
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
