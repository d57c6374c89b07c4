package io.arpo4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.kernels.BlasThreads;
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
 * python3 -c "import torch"} works (else Debian's {@code /usr/bin/python3} with python3-torch), a
 * plain PyTorch eager forward of the same weights (benchmarks/decode_reference.py).
 *
 * <p>Usage: {@code benchmarks/run.sh decode [--shape qwen2.5-0.5b|small] [--threads N] [--batches
 * 1,4,16,64] [--prompt P] [--steps S] [--train-tokens T] [--agreement-tokens A] [--pytorch auto|no]
 * [--context 1024,4096] [--context-batch B]}. Decode is greedy, each figure the best of {@code
 * --repeats} runs, in three ways per batch, back to back: libtorch's matmul over the fp32 weights,
 * arpo4j's decode kernel over the fp32 weights (the default) and over bf16 copies
 * (rollout.decode_weights: bf16). The weight-streaming bound of a decode step is one read of every
 * weight matrix (embedding gather excluded, the LM head included) at the measured bandwidth, twice
 * as many steps per second for bf16 weights. Then the greedy tokens of the bf16 weights are
 * compared with the fp32 ones over {@code A} tokens, on this shape's random weights and on the
 * embedded demo model.
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
    opt.put("agreement-tokens", "1000");
    opt.put("pytorch", "auto");
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
    int agreementTokens = Integer.parseInt(opt.get("agreement-tokens"));
    String agreement = "";
    String demoAgreement = "";
    // random weights (any tokenizer: token ids are drawn directly), written as an HF directory
    // for the PyTorch reference to read; with the tokenizer, so that RolloutThroughput --model
    // can load it too
    try (PolicyModel pm = PolicyModel.create(config, DefaultModel.tokenizer(), 1234, runtime)) {
      pm.save(dir, StorageType.F32);
      TransformerModel model = pm.model();
      for (TransformerModel.DecodeWeights w : TransformerModel.DecodeWeights.values()) {
        model.setDecodeWeights(w);
        decodeSteps(pm, 1, 8, 2, 0); // warm-up
      }
      for (int b : batches) {
        for (TransformerModel.DecodeWeights w : TransformerModel.DecodeWeights.values()) {
          model.setDecodeWeights(w);
          if (w != TransformerModel.DecodeWeights.LIBTORCH) { // the kernels op by op: the before
            model.setFusedDecode(false);
            ours.put(decodeRow(b, w) + " op-by-op", decodeSteps(pm, b, prompt, steps, repeats)[1]);
            model.setFusedDecode(true);
          }
          ours.put(decodeRow(b, w), decodeSteps(pm, b, prompt, steps, repeats)[1]);
        }
      }
      // prefill's products: libtorch's matmul, then the kernel in blocks of 64 rows over the fp32
      // weights and over the bf16 copies
      for (TransformerModel.DecodeWeights w : TransformerModel.DecodeWeights.values()) {
        model.setDecodeWeights(w);
        String way =
            switch (w) {
              case LIBTORCH -> "libtorch";
              case FP32 -> "kernel";
              case BF16 -> "bf16";
            };
        ours.put(
            "prefill " + (4 * prompt) + " " + way, decodeSteps(pm, 1, 4 * prompt, 1, repeats)[0]);
      }
      model.setDecodeWeights(TransformerModel.DecodeWeights.FP32); // the rows below: the default
      ours.put("train step " + trainTokens + " (s)", trainStep(model, trainTokens, repeats));
      for (int context : contexts) {
        double[] rates = longContextSteps(pm, contextBatch, context, steps, repeats);
        longContext.add(new double[] {context, rates[0], rates[1]});
      }
      if (agreementTokens > 0) agreement = bf16Agreement(pm, agreementTokens, prompt);
    }
    // the embedded demo model (0.8M parameters), where per-call overhead, not bandwidth, rules
    Map<String, Double> demoRows = new LinkedHashMap<>();
    try (PolicyModel demo = PolicyModel.loadDefault(runtime)) {
      for (int b : new int[] {1, 16}) {
        for (TransformerModel.DecodeWeights w : TransformerModel.DecodeWeights.values()) {
          demo.model().setDecodeWeights(w);
          decodeSteps(demo, b, 16, 32, 1); // warm-up
          demoRows.put(decodeRow(b, w), decodeSteps(demo, b, 16, 32, repeats)[1]);
        }
      }
      if (agreementTokens > 0) demoAgreement = bf16Agreement(demo, agreementTokens, 16);
    }
    // sampled again at the end: on a shared machine one sample may catch a busy moment
    bandwidth = Math.max(bandwidth, readBandwidth());
    System.out.printf(
        Locale.ROOT,
        "shape %s (%.0fM parameters), fp32, %d libtorch threads, decode kernel path %s;"
            + " read bandwidth %.1f GB/s (sum over a 1 GiB buffer, best of the run's start and"
            + " end)%n",
        opt.get("shape"),
        parameters(config) / 1e6,
        torch.get_num_threads(),
        io.arpo4j.kernels.Kernels.Isa.best(),
        bandwidth / 1e9);
    Map<String, Double> reference = pytorchReference(dir, opt, threads);
    System.out.printf(
        Locale.ROOT, "%-34s %12s %10s %12s %8s%n", "", "arpo4j", "% of bound", "PyTorch", "ratio");
    for (Map.Entry<String, Double> e : ours.entrySet()) {
      String name = e.getKey();
      String ofBound = "";
      String refName = name;
      if (name.startsWith("decode b=")) {
        String[] parts = name.substring("decode b=".length()).split(" ");
        int b = Integer.parseInt(parts[0]);
        double bytes = parts[1].equals("bf16") ? weightBytes / 2 : weightBytes;
        double bound = bandwidth / bytes * b;
        ofBound = String.format(Locale.ROOT, "%.0f%%", 100 * e.getValue() / bound);
        refName = "decode b=" + b;
      } else if (name.startsWith("prefill ")) {
        refName = name.substring(0, name.lastIndexOf(' ')); // one PyTorch figure for both ways
      }
      Double ref = reference.get(refName);
      String ratio = "";
      if (ref != null) {
        // tok/s: higher is better; seconds: lower is better; the ratio is arpo4j's speed /
        // PyTorch's
        double r = name.endsWith("(s)") ? ref / e.getValue() : e.getValue() / ref;
        ratio = String.format(Locale.ROOT, "%.2f", r);
      }
      System.out.printf(
          Locale.ROOT,
          "%-34s %12.2f %10s %12s %8s%n",
          name + (name.endsWith("(s)") ? "" : " tok/s"),
          e.getValue(),
          ofBound,
          ref == null ? "-" : String.format(Locale.ROOT, "%.2f", ref),
          ratio);
    }
    System.out.printf(
        Locale.ROOT,
        "weight-streaming bound at batch 1: %.2f tok/s fp32 (%.2f GB of weights per step),"
            + " %.2f tok/s bf16%n",
        bandwidth / weightBytes,
        weightBytes / 1e9,
        2 * bandwidth / weightBytes);
    if (reference.isEmpty() && !opt.get("pytorch").equals("no"))
      System.out.println("PyTorch reference: no python3 with torch");
    System.out.print("embedded demo model, prompt 16, 32 steps:");
    demoRows.forEach(
        (name, v) -> System.out.printf(Locale.ROOT, " %s %.0f tok/s;", name.substring(7), v));
    System.out.println();
    if (agreementTokens > 0) {
      System.out.println("bf16 vs fp32 greedy tokens, " + opt.get("shape") + ": " + agreement);
      System.out.println("bf16 vs fp32 greedy tokens, embedded demo model: " + demoAgreement);
    }
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

  /** A decode row's name: batch and way (libtorch, kernel fp32, kernel bf16). */
  private static String decodeRow(int batch, TransformerModel.DecodeWeights w) {
    return "decode b="
        + batch
        + " "
        + switch (w) {
          case LIBTORCH -> "libtorch";
          case FP32 -> "fp32";
          case BF16 -> "bf16";
        };
  }

  /**
   * Greedy decode of 8 prompts, about {@code tokens} tokens in all, with fp32 and then bf16
   * weights: how many generated tokens are identical at the same position, and after how many steps
   * each sequence first diverged.
   */
  private static String bf16Agreement(PolicyModel pm, int tokens, int prompt) {
    int batch = 8;
    int steps = Math.max(1, tokens / batch);
    int vocab = Math.min(pm.model().config().vocabSize(), 1000);
    int[][][] out = new int[2][][];
    TransformerModel.DecodeWeights[] ways = {
      TransformerModel.DecodeWeights.FP32, TransformerModel.DecodeWeights.BF16
    };
    for (int w = 0; w < 2; w++) {
      pm.model().setDecodeWeights(ways[w]);
      out[w] = new int[batch][steps];
      try (TransformerPolicy policy = pm.newPolicy()) {
        List<Sequence> seqs = new ArrayList<>();
        for (int b = 0; b < batch; b++) seqs.add(policy.newSequence(tokens(prompt, vocab, 7 + b)));
        for (int s = 0; s < steps; s++) {
          List<SampledToken> next = policy.step(seqs, SamplingParams.greedy(), 0, s);
          for (int b = 0; b < batch; b++) out[w][b][s] = next.get(b).token();
        }
      }
    }
    pm.model().setDecodeWeights(TransformerModel.DecodeWeights.FP32);
    int same = 0;
    StringBuilder firsts = new StringBuilder();
    for (int b = 0; b < batch; b++) {
      int first = -1;
      for (int s = 0; s < steps; s++) {
        if (out[0][b][s] == out[1][b][s]) same++;
        else if (first < 0) first = s;
      }
      firsts.append(b == 0 ? "" : ",").append(first < 0 ? "-" : String.valueOf(first));
    }
    return String.format(
        Locale.ROOT,
        "%d of %d identical at the same position (%d sequences x %d steps); first divergence"
            + " per sequence (step, - = none): %s",
        same,
        batch * steps,
        batch,
        steps,
        firsts);
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
        try (PointerScope scope = new PointerScope();
            BlasThreads products = BlasThreads.training()) { // as the trainers run it
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
    if (opt.get("pytorch").equals("no")) return out;
    String python = pythonWithTorch();
    if (python == null) return out;
    System.out.println("PyTorch reference: " + python);
    List<String> cmd =
        List.of(
            python,
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

  /**
   * {@code python3} on the PATH when it imports torch, else Debian's {@code /usr/bin/python3}
   * (python3-torch), else null.
   */
  private static String pythonWithTorch() throws Exception {
    for (String python : List.of("python3", "/usr/bin/python3")) {
      try {
        Process probe =
            new ProcessBuilder(python, "-c", "import torch").redirectErrorStream(true).start();
        probe.getInputStream().readAllBytes();
        if (probe.waitFor(60, TimeUnit.SECONDS) && probe.exitValue() == 0) return python;
      } catch (java.io.IOException notThere) {
        // try the next
      }
    }
    return null;
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
