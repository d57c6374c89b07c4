package io.arpo4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Decode, prefill and training-step speed of one HF shape (random weights written as an HF
 * directory), against the machine's read bandwidth measured in the same run and, where {@code
 * python3 -c "import torch"} works, a plain PyTorch eager forward of the same weights
 * (benchmarks/decode_reference.py).
 *
 * <p>Usage: {@code benchmarks/run.sh decode [--shape qwen2.5-0.5b|small] [--threads N] [--batches
 * 1,4,16,64] [--prompt P] [--steps S] [--train-tokens T] [--context 1024,4096] [--context-batch
 * B]}. Decode is greedy, each figure the best of {@code --repeats} runs. The weight-streaming bound
 * of a decode step is one read of every weight matrix (embedding gather excluded, the LM head
 * included) at the measured bandwidth.
 *
 * <p>Long context: {@code --context-batch} sequences of each {@code --context} length are prefilled
 * once, then decoded {@code --steps} steps twice per repeat on forks of them (the forks share the
 * prefilled blocks, so every measurement starts from the same cache), once attending in place over
 * the paged cache (the default) and once gathering the cached keys and values first (what prefill
 * does), the two modes alternating. Its bound adds the step's reads of the cache (every cached key
 * and value once) to the weights'.
 */
public final class DecodeBench {

  private static final Map<String, String> SHAPES = new LinkedHashMap<>();

  static {
    SHAPES.put("qwen2.5-0.5b", ModelBench.QWEN25_05B);
    // a quick run: Qwen2's layout at ~1/10 of the width and a third of the depth
    SHAPES.put(
        "small",
        """
        {"model_type": "qwen2", "vocab_size": 32000, "hidden_size": 256, "intermediate_size": 1024,
         "num_hidden_layers": 8, "num_attention_heads": 8, "num_key_value_heads": 2,
         "max_position_embeddings": 4096, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
         "tie_word_embeddings": true, "hidden_act": "silu", "use_sliding_window": false}""");
  }

  private DecodeBench() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new LinkedHashMap<>();
    opt.put("shape", "qwen2.5-0.5b");
    opt.put("threads", "0");
    opt.put("batches", "1,4,16,64");
    opt.put("prompt", "64");
    opt.put("steps", "8");
    opt.put("train-tokens", "512");
    opt.put("repeats", "2");
    opt.put("context", "1024");
    opt.put("context-batch", "16");
    opt.put("dir", "target/decode-bench");
    for (int i = 0; i + 1 < args.length; i += 2) {
      String key = args[i].replaceFirst("^--", "");
      if (!opt.containsKey(key)) throw new IllegalArgumentException("unknown option " + args[i]);
      opt.put(key, args[i + 1]);
    }
    String json = SHAPES.get(opt.get("shape"));
    if (json == null) {
      throw new IllegalArgumentException(
          "--shape must be one of " + SHAPES.keySet() + ", got " + opt.get("shape"));
    }
    int threads = Integer.parseInt(opt.get("threads"));
    int[] batches =
        Arrays.stream(opt.get("batches").split(",")).mapToInt(Integer::parseInt).toArray();
    int prompt = Integer.parseInt(opt.get("prompt"));
    int steps = Integer.parseInt(opt.get("steps"));
    int trainTokens = Integer.parseInt(opt.get("train-tokens"));
    int repeats = Integer.parseInt(opt.get("repeats"));
    int[] contexts =
        opt.get("context").isBlank()
            ? new int[0]
            : Arrays.stream(opt.get("context").split(",")).mapToInt(Integer::parseInt).toArray();
    int contextBatch = Integer.parseInt(opt.get("context-batch"));
    ModelConfig config = ModelConfig.fromJson(new ObjectMapper().readTree(json));
    RuntimeOptions runtime = new RuntimeOptions("cpu", StorageType.F32, threads);
    Path dir = Path.of(opt.get("dir"), opt.get("shape"));

    if (threads > 0) torch.set_num_threads(threads); // before the bandwidth, which it also sets
    double bandwidth = readBandwidth();
    Map<String, Double> ours = new LinkedHashMap<>();
    List<double[]> longContext = new ArrayList<>(); // {context, gather tok/s, in place tok/s}
    double weightBytes = 4.0 * (parameters(config) - embeddingOnly(config));
    // random weights (any tokenizer: token ids are drawn directly), written as an HF directory
    // for the PyTorch reference to read
    try (PolicyModel pm = PolicyModel.create(config, DefaultModel.tokenizer(), 1234, runtime)) {
      pm.model().save(dir, StorageType.F32);
      decodeSteps(pm, 1, 8, 2, 0); // warm-up
      for (int b : batches) {
        ours.put("decode b=" + b, decodeSteps(pm, b, prompt, steps, repeats)[1]);
      }
      ours.put("prefill " + (4 * prompt), decodeSteps(pm, 1, 4 * prompt, 1, repeats)[0]);
      ours.put("train step " + trainTokens + " (s)", trainStep(pm.model(), trainTokens, repeats));
      for (int context : contexts) {
        double[] rates = longContextSteps(pm, contextBatch, context, steps, repeats);
        longContext.add(new double[] {context, rates[0], rates[1]});
      }
    }
    // sampled again at the end: on a shared machine one sample may catch a busy moment
    bandwidth = Math.max(bandwidth, readBandwidth());
    System.out.printf(
        Locale.ROOT,
        "shape %s (%.0fM parameters), fp32, %d libtorch threads; read bandwidth %.1f GB/s"
            + " (sum over a 1 GiB buffer, best of the run's start and end)%n",
        opt.get("shape"),
        parameters(config) / 1e6,
        torch.get_num_threads(),
        bandwidth / 1e9);
    Map<String, Double> reference = pytorchReference(dir, opt, threads);
    System.out.printf(
        Locale.ROOT, "%-26s %12s %10s %12s %8s%n", "", "arpo4j", "% of bound", "PyTorch", "ratio");
    for (Map.Entry<String, Double> e : ours.entrySet()) {
      String name = e.getKey();
      String ofBound = "";
      if (name.startsWith("decode b=")) {
        int b = Integer.parseInt(name.substring("decode b=".length()));
        double bound = bandwidth / weightBytes * b;
        ofBound = String.format(Locale.ROOT, "%.0f%%", 100 * e.getValue() / bound);
      }
      Double ref = reference.get(name);
      String ratio = "";
      if (ref != null) {
        // tok/s: higher is better; seconds: lower is better; the ratio is arpo4j's speed /
        // PyTorch's
        double r = name.endsWith("(s)") ? ref / e.getValue() : e.getValue() / ref;
        ratio = String.format(Locale.ROOT, "%.2f", r);
      }
      System.out.printf(
          Locale.ROOT,
          "%-26s %12.2f %10s %12s %8s%n",
          name + (name.endsWith("(s)") ? "" : " tok/s"),
          e.getValue(),
          ofBound,
          ref == null ? "-" : String.format(Locale.ROOT, "%.2f", ref),
          ratio);
    }
    System.out.printf(
        Locale.ROOT,
        "weight-streaming bound at batch 1: %.2f tok/s (%.2f GB of weights per step)%n",
        bandwidth / weightBytes,
        weightBytes / 1e9);
    if (reference.isEmpty()) System.out.println("PyTorch reference: python3 cannot import torch");
    if (!longContext.isEmpty()) {
      System.out.printf(
          Locale.ROOT,
          "long context: batch %d, %d greedy steps on forks of prefilled sequences, best of %d,"
              + " the two attention modes alternating%n",
          contextBatch,
          steps,
          repeats);
      System.out.printf(
          Locale.ROOT,
          "%-8s %14s %14s %8s %16s %12s%n",
          "context",
          "gather tok/s",
          "in place tok/s",
          "ratio",
          "cache GB / step",
          "% of bound");
      for (double[] row : longContext) {
        double cacheBytes = contextBatch * row[0] * kvBytesPerToken(config);
        double bound = contextBatch * bandwidth / (weightBytes + cacheBytes);
        System.out.printf(
            Locale.ROOT,
            "%-8d %14.2f %14.2f %8.2f %16.3f %11.0f%%%n",
            (int) row[0],
            row[1],
            row[2],
            row[2] / row[1],
            cacheBytes / 1e9,
            100 * row[2] / bound);
      }
    }
  }

  /**
   * {gather tok/s, in place tok/s} of {@code batch} sequences of {@code context} cached tokens,
   * each the best of {@code repeats}, measured on forks of the same prefilled sequences.
   */
  private static double[] longContextSteps(
      PolicyModel pm, int batch, int context, int steps, int repeats) {
    int vocab = Math.min(pm.model().config().vocabSize(), 1000);
    double[] best = new double[2];
    // prefill in forwards of 1,024 tokens: a cached forward keeps every layer's activations until
    // it returns, about 10 GB for 4,096 tokens of the 0.5B shape
    try (TransformerPolicy policy = pm.newPolicy(KvCache.DEFAULT_BLOCK_SIZE, 1024)) {
      List<Sequence> prefilled = new ArrayList<>();
      for (int b = 0; b < batch; b++) {
        prefilled.add(policy.newSequence(tokens(context, vocab, 1000 + b)));
      }
      policy.step(prefilled, SamplingParams.greedy(), 0, 0);
      for (int rep = 0; rep < repeats; rep++) {
        for (int mode = 0; mode < 2; mode++) {
          boolean inPlace = (mode == 1) ^ (rep % 2 == 1); // order flips every repeat
          policy.cache().setInPlaceAttention(inPlace);
          List<Sequence> forks = new ArrayList<>();
          for (Sequence s : prefilled) forks.add(policy.fork(s));
          long start = System.nanoTime();
          for (int s = 1; s <= steps; s++) policy.step(forks, SamplingParams.greedy(), 0, s);
          double rate = (double) batch * steps / ((System.nanoTime() - start) / 1e9);
          int slot = inPlace ? 1 : 0;
          best[slot] = Math.max(best[slot], rate);
          forks.forEach(policy::free);
        }
      }
    }
    return best;
  }

  /** Bytes of cached keys and values per token, all layers (fp32). */
  private static double kvBytesPerToken(ModelConfig c) {
    return 2.0 * 4 * c.numLayers() * c.numKvHeads() * c.headDim();
  }

  /** Bytes per second of a libtorch sum over a 1 GiB fp32 buffer (best of 5): one plain read. */
  private static double readBandwidth() {
    try (PointerScope scope = new PointerScope()) {
      Tensor big = torch.ones(256L * 1024 * 1024);
      double best = 0;
      for (int i = 0; i < 6; i++) {
        long start = System.nanoTime();
        big.sum().item_float();
        double rate = big.numel() * 4.0 / ((System.nanoTime() - start) / 1e9);
        if (i > 0) best = Math.max(best, rate);
      }
      return best;
    }
  }

  /** {prefill tok/s, decode tok/s} of {@code batch} greedy sequences, best of {@code repeats}. */
  private static double[] decodeSteps(
      PolicyModel pm, int batch, int prompt, int steps, int repeats) {
    double bestPrefill = 0;
    double bestDecode = 0;
    int vocab = Math.min(pm.model().config().vocabSize(), 1000);
    for (int rep = 0; rep < repeats; rep++) {
      try (TransformerPolicy policy = pm.newPolicy()) {
        List<Sequence> seqs = new ArrayList<>();
        for (int b = 0; b < batch; b++) seqs.add(policy.newSequence(tokens(prompt, vocab, b)));
        long start = System.nanoTime();
        policy.step(seqs, SamplingParams.greedy(), 0, 0);
        bestPrefill =
            Math.max(bestPrefill, (double) batch * prompt / ((System.nanoTime() - start) / 1e9));
        start = System.nanoTime();
        for (int s = 1; s <= steps; s++) policy.step(seqs, SamplingParams.greedy(), 0, s);
        bestDecode =
            Math.max(bestDecode, (double) batch * steps / ((System.nanoTime() - start) / 1e9));
      }
    }
    return new double[] {bestPrefill, bestDecode};
  }

  /**
   * Seconds of one forward + backward over {@code tokens} tokens (loss: mean log-softmax of the
   * next token), best of {@code repeats}.
   */
  private static double trainStep(TransformerModel model, int tokens, int repeats) {
    int vocab = Math.min(model.config().vocabSize(), 1000);
    model.parameters().values().forEach(p -> p.requires_grad_(true));
    double best = Double.MAX_VALUE;
    try {
      for (int rep = 0; rep < repeats; rep++) {
        try (PointerScope scope = new PointerScope()) {
          int[] ids = tokens(tokens + 1, vocab, 99);
          long start = System.nanoTime();
          Tensor input = model.ids(Arrays.copyOf(ids, tokens));
          Tensor target = model.ids(Arrays.copyOfRange(ids, 1, tokens + 1)).view(tokens, 1);
          Tensor logits = model.logits(input).view(tokens, -1);
          Tensor loss = torch.log_softmax(logits, -1).gather(1, target).mean().neg();
          loss.backward();
          best = Math.min(best, (System.nanoTime() - start) / 1e9);
          model.parameters().values().forEach(p -> p.grad().zero_());
        }
      }
    } finally {
      model.parameters().values().forEach(p -> p.requires_grad_(false));
    }
    return best;
  }

  /** The same figures from benchmarks/decode_reference.py, or none where torch is missing. */
  private static Map<String, Double> pytorchReference(
      Path dir, Map<String, String> opt, int threads) throws Exception {
    Map<String, Double> out = new LinkedHashMap<>();
    Process probe =
        new ProcessBuilder("python3", "-c", "import torch").redirectErrorStream(true).start();
    probe.getInputStream().readAllBytes();
    if (!probe.waitFor(60, TimeUnit.SECONDS) || probe.exitValue() != 0) return out;
    List<String> cmd =
        List.of(
            "python3",
            "benchmarks/decode_reference.py",
            dir.toString(),
            "--threads",
            String.valueOf(threads > 0 ? threads : torch.get_num_threads()),
            "--batches",
            opt.get("batches"),
            "--prompt",
            opt.get("prompt"),
            "--steps",
            opt.get("steps"),
            "--train-tokens",
            opt.get("train-tokens"),
            "--repeats",
            opt.get("repeats"));
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String stdout = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      System.out.println("PyTorch reference failed (exit " + p.exitValue() + ")");
      return out;
    }
    JsonNode json = new ObjectMapper().readTree(stdout);
    json.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asDouble()));
    return out;
  }

  private static long parameters(ModelConfig c) {
    long total = 0;
    for (long[] shape : ParameterLayout.shapes(c).values())
      total += Arrays.stream(shape).reduce(1, (a, b) -> a * b);
    return total;
  }

  /** Parameters read only by the embedding gather (a few rows per step): an untied embedding. */
  private static long embeddingOnly(ModelConfig c) {
    return c.tieWordEmbeddings() ? 0 : (long) c.vocabSize() * c.hiddenSize();
  }

  private static int[] tokens(int n, int vocab, long seed) {
    java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
    int[] out = new int[n];
    for (int i = 0; i < n; i++) out[i] = r.nextInt(vocab);
    return out;
  }
}
