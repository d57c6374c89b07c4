package io.arpo4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.bytedeco.pytorch.global.torch;

/**
 * Throughput of the policy runtime, printed as a table: prefill and decode tokens/s at batch
 * 1/16/64, and the cost of forking a cached prefix versus prefilling it again, for the embedded
 * default model and for a randomly initialised model of Qwen2.5-0.5B's shape (fp32 on CPU).
 *
 * <p>Usage: {@code benchmarks/run.sh model [--quick]} or {@code java -cp ...
 * io.arpo4j.model.ModelBench [--quick] [--skip-large]}. Decode steps sample through the native
 * kernel (temperature 1). Each figure is the best of a few repetitions after one warm-up, so that
 * noise from other processes on the machine is damped.
 */
public final class ModelBench {

  /** Qwen2.5-0.5B's published architecture (494M parameters, tied embeddings). */
  public static final String QWEN25_05B =
      """
      {"model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864,
       "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
       "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
       "tie_word_embeddings": true, "hidden_act": "silu", "use_sliding_window": false}""";

  private record Shape(
      String name, ModelConfig config, int prompt, int decodeSteps, int repeats, int[] batches) {}

  private ModelBench() {}

  public static void main(String[] args) throws Exception {
    boolean quick = List.of(args).contains("--quick");
    boolean skipLarge = List.of(args).contains("--skip-large");
    List<Shape> shapes = new ArrayList<>();
    shapes.add(
        new Shape(
            "embedded default (0.8M)",
            DefaultModel.config(),
            quick ? 64 : 128,
            quick ? 16 : 32,
            quick ? 2 : 3,
            new int[] {1, 16, 64}));
    if (!skipLarge) {
      // 0.5B in fp32 on a 2-core CPU runs at a few tokens/s: short prompts, few steps, one repeat
      shapes.add(
          new Shape(
              "Qwen2.5-0.5B shape (494M)",
              ModelConfig.fromJson(new ObjectMapper().readTree(QWEN25_05B)),
              16,
              quick ? 2 : 3,
              1,
              quick ? new int[] {1, 16} : new int[] {1, 16, 64}));
    }
    System.out.printf(
        Locale.ROOT,
        "machine: %d cores visible to the JVM, libtorch intra-op threads %d%n",
        Runtime.getRuntime().availableProcessors(),
        torch.get_num_threads());
    System.out.printf(
        Locale.ROOT,
        "%-28s %5s %7s %14s %14s%n",
        "model",
        "batch",
        "prompt",
        "prefill tok/s",
        "decode tok/s");
    List<String> forkLines = new ArrayList<>();
    for (Shape shape : shapes) {
      long t0 = System.nanoTime();
      try (PolicyModel pm =
          PolicyModel.create(shape.config(), DefaultModel.tokenizer(), 1, RuntimeOptions.cpu())) {
        System.err.printf(
            Locale.ROOT,
            "[%s initialised in %.1f s]%n",
            shape.name(),
            (System.nanoTime() - t0) / 1e9);
        warmUp(pm);
        for (int batch : shape.batches()) {
          double[] rates = prefillAndDecode(pm, batch, shape);
          System.out.printf(
              Locale.ROOT,
              "%-28s %5d %7d %14.1f %14.1f%n",
              shape.name(),
              batch,
              shape.prompt(),
              rates[0],
              rates[1]);
        }
        forkLines.add(forkVersusPrefill(pm, shape));
      }
    }
    System.out.println();
    System.out.printf(
        Locale.ROOT, "%-28s %7s %12s %14s%n", "model", "prefix", "fork (ms)", "re-prefill (ms)");
    forkLines.forEach(System.out::println);
  }

  /**
   * {prefill tokens/s, decode tokens/s}, each the best of the shape's repeats; with more than one
   * repeat an unmeasured warm-up run comes first.
   */
  private static double[] prefillAndDecode(PolicyModel pm, int batch, Shape shape) {
    double bestPrefill = 0;
    double bestDecode = 0;
    SamplingParams sampling = new SamplingParams(1f, 1f, 0);
    int vocab = pm.model().config().vocabSize();
    int warmups = shape.repeats() > 1 ? 1 : 0;
    for (int rep = 0; rep < warmups + shape.repeats(); rep++) {
      try (TransformerPolicy policy = pm.newPolicy()) {
        List<Sequence> seqs = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
          seqs.add(
              policy.newSequence(
                  randomTokens(shape.prompt(), Math.min(vocab, 256), 1000L * rep + b)));
        }
        long start = System.nanoTime();
        policy.step(seqs, sampling, rep, 0); // prefill of every prompt + the first sampled token
        double prefill = (double) batch * shape.prompt() / ((System.nanoTime() - start) / 1e9);
        start = System.nanoTime();
        for (int step = 1; step <= shape.decodeSteps(); step++) {
          policy.step(seqs, sampling, rep, step);
        }
        double decode = (double) batch * shape.decodeSteps() / ((System.nanoTime() - start) / 1e9);
        if (rep >= warmups) {
          bestPrefill = Math.max(bestPrefill, prefill);
          bestDecode = Math.max(bestDecode, decode);
        }
      }
    }
    return new double[] {bestPrefill, bestDecode};
  }

  /**
   * One short unmeasured step, so that first-use costs (allocator, kernels) stay out of the table.
   */
  private static void warmUp(PolicyModel pm) {
    try (TransformerPolicy policy = pm.newPolicy()) {
      Sequence s = policy.newSequence(randomTokens(8, 256, 3));
      policy.step(List.of(s), SamplingParams.greedy(), 0, 0);
      policy.step(List.of(s), SamplingParams.greedy(), 0, 1);
    }
  }

  /** Time to fork a sequence with a cached prefix, against prefilling that prefix from scratch. */
  private static String forkVersusPrefill(PolicyModel pm, Shape shape) {
    int prefix = shape.config().numLayers() > 8 ? 256 : 1024;
    int vocab = Math.min(pm.model().config().vocabSize(), 256);
    try (TransformerPolicy policy = pm.newPolicy()) {
      int[] tokens = randomTokens(prefix, vocab, 7);
      CachedSequence parent = policy.newSequence(tokens);
      policy.fork(parent); // prefills the parent's prefix (all but its last token) once
      double fork = Double.MAX_VALUE;
      for (int i = 0; i < 20; i++) {
        long start = System.nanoTime();
        CachedSequence child = policy.fork(parent);
        fork = Math.min(fork, (System.nanoTime() - start) / 1e6);
        policy.free(child);
      }
      double prefill = Double.MAX_VALUE;
      for (int i = 0; i < (shape.repeats() > 1 ? 3 : 1); i++) {
        CachedSequence fresh = policy.newSequence(tokens);
        long start = System.nanoTime();
        pm.model()
            .forward(
                policy.cache(),
                List.of(fresh),
                new int[] {prefix - 1},
                TransformerModel.LogitsMode.NONE);
        prefill = Math.min(prefill, (System.nanoTime() - start) / 1e6);
        policy.free(fresh);
      }
      return String.format(
          Locale.ROOT, "%-28s %7d %12.3f %14.1f", shape.name(), prefix - 1, fork, prefill);
    }
  }

  private static int[] randomTokens(int n, int vocab, long seed) {
    java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      out[i] = r.nextInt(vocab);
    }
    return out;
  }
}
