package io.arpo4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.arpo4j.kernels.Kernels;
import io.arpo4j.kernels.Kernels.LayerTensors;
import io.arpo4j.kernels.NativeLibraries;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A decoder-only transformer (Llama / Qwen2 / Qwen3 family) over libtorch, numerically following
 * transformers' modeling code: RMSNorm computed in float32, rotary "rotate half" embeddings,
 * grouped-query attention, SwiGLU MLP, optional q/k/v/o/MLP biases and Qwen3's per-head q/k norm.
 *
 * <p>Two ways to run it: {@link #logits(Tensor)} over whole right-padded batches (no cache;
 * differentiable when the parameters require grad, which is what training uses), and {@link
 * #forward(KvCache, List, int[], LogitsMode)} over sequences in a paged {@link KvCache} (inference:
 * only the new tokens are computed).
 *
 * <p>Parameters are named and shaped as in HF checkpoints; {@link #parameters()} exposes them.
 */
public final class TransformerModel implements AutoCloseable {
  static {
    NativeLibraries.load(); // the bundled libtorch, before anything here touches a tensor
  }

  /** Which positions' logits a cached forward returns. */
  public enum LogitsMode {
    /** none (prefill only; the LM head is skipped) */
    NONE,
    /** the last new token of each sequence: [B, V] */
    LAST,
    /** every new token: [B, maxNew, V], rows past a sequence's count are padding */
    ALL
  }

  /**
   * How a cached forward pass (inference: decode steps and prefill) multiplies by the projection
   * and LM-head weights on the CPU with fp32 activations, through the kernel in blocks of 64 rows.
   * Training and scoring always use libtorch over the fp32 weights. On CUDA, or with bf16
   * activations, libtorch's matmul over the compute weights serves every pass (bf16 there already).
   */
  public enum DecodeWeights {
    /** libtorch's matmul over the fp32 weights (the reference path of the tests and benchmarks) */
    LIBTORCH,
    /** arpo4j's weight-streaming kernel over the fp32 weights: the default */
    FP32,
    /**
     * the kernel over a bf16 copy of the weights in every cached pass, made when selected and
     * refreshed from the fp32 weights by {@link #refreshComputeCopies()} (after each optimizer
     * step): half the bytes per step, with bf16's rounding of the weights and of the products'
     * activations
     */
    BF16
  }

  /** Standard deviation of the documented random initialiser (transformers' initializer_range). */
  public static final double INIT_STD = 0.02;

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final ModelConfig config;
  private final RuntimeOptions runtime;
  private final Map<String, Tensor> parameters;

  /** The parameters in the compute type: the same map unless {@link RuntimeOptions#mixed()}. */
  private final Map<String, Tensor> computeCopies;

  private final Weights stored;
  private final Weights compute;
  private final RotaryEmbedding rotary;
  private volatile boolean gradientCheckpointing;

  /** Cached forward passes run so far (a cost figure: each one reads every weight once). */
  private long cachedForwards;

  /** Of those, the ones that ran fused, one native call per layer. */
  private long fusedForwards;

  private volatile boolean fusedDecode = true;

  private volatile DecodeWeights decodeWeights = DecodeWeights.FP32;

  /**
   * Under {@link DecodeWeights#BF16} on a CPU fp32 model: bf16 copies (retained) of the projection
   * weights and the LM head, by parameter name (the head under its own name, the embedding's when
   * tied), and the weights a decode step reads (the copies, the rest shared with {@link #compute});
   * null otherwise.
   */
  private volatile Map<String, Tensor> bf16Copies;

  private volatile Weights bf16Decode;

  /**
   * The native descriptions of the layers for fused steps, per weights (the bf16 copies or the
   * compute weights); made on first use.
   */
  private final Map<Weights, Kernels.DecodeLayer[]> fusedLayers = new IdentityHashMap<>();

  /** LoRA adapters on the projections, owned by this model; null when none is attached. */
  private volatile LoraAdapter adapter;

  /** Gathers and frees sharded parameters around their use (ZeRO-3); null when not sharded. */
  private volatile ParameterResidency residency;

  /** The tensors a forward pass reads. */
  private record Weights(Tensor embed, Tensor finalNorm, Tensor lmHead, LayerTensors[] layers) {
    static Weights of(ModelConfig config, Map<String, Tensor> p) {
      LayerTensors[] layers = new LayerTensors[config.numLayers()];
      for (int i = 0; i < layers.length; i++) {
        layers[i] = layerOf(p, i);
      }
      Tensor embed = p.get("model.embed_tokens.weight");
      return new Weights(
          embed,
          p.get("model.norm.weight"),
          config.tieWordEmbeddings() ? embed : p.get("lm_head.weight"),
          layers);
    }
  }

  /**
   * One decoder layer's parameters (absent biases and norms are null), as the fused decode kernel
   * also takes them.
   */
  static LayerTensors layerOf(Map<String, Tensor> p, int index) {
    String n = ParameterLayout.layerPrefix(index);
    return new LayerTensors(
        p.get(n + "input_layernorm.weight"),
        p.get(n + "self_attn.q_proj.weight"),
        p.get(n + "self_attn.q_proj.bias"),
        p.get(n + "self_attn.k_proj.weight"),
        p.get(n + "self_attn.k_proj.bias"),
        p.get(n + "self_attn.v_proj.weight"),
        p.get(n + "self_attn.v_proj.bias"),
        p.get(n + "self_attn.q_norm.weight"),
        p.get(n + "self_attn.k_norm.weight"),
        p.get(n + "self_attn.o_proj.weight"),
        p.get(n + "self_attn.o_proj.bias"),
        p.get(n + "post_attention_layernorm.weight"),
        p.get(n + "mlp.gate_proj.weight"),
        p.get(n + "mlp.gate_proj.bias"),
        p.get(n + "mlp.up_proj.weight"),
        p.get(n + "mlp.up_proj.bias"),
        p.get(n + "mlp.down_proj.weight"),
        p.get(n + "mlp.down_proj.bias"));
  }

  /** The layer's weights cast to {@code type} inside the autograd graph (gradients reach these). */
  private static LayerTensors cast(LayerTensors l, ScalarType type) {
    return new LayerTensors(
        castTo(l.inputNorm(), type),
        castTo(l.q(), type),
        castTo(l.qBias(), type),
        castTo(l.k(), type),
        castTo(l.kBias(), type),
        castTo(l.v(), type),
        castTo(l.vBias(), type),
        castTo(l.qNorm(), type),
        castTo(l.kNorm(), type),
        castTo(l.o(), type),
        castTo(l.oBias(), type),
        castTo(l.postNorm(), type),
        castTo(l.gate(), type),
        castTo(l.gateBias(), type),
        castTo(l.up(), type),
        castTo(l.upBias(), type),
        castTo(l.down(), type),
        castTo(l.downBias(), type));
  }

  private static Tensor castTo(Tensor t, ScalarType type) {
    return t == null ? null : t.to(type);
  }

  /** Where a layer's attention finds its keys and values. */
  private interface KeyValueSource {
    /** q [B, heads, T, D]; k, v [B, kvHeads, T, D] of the new tokens; returns [B, heads, T, D]. */
    Tensor attend(int layer, Tensor q, Tensor k, Tensor v);
  }

  /**
   * Takes ownership of {@code parameters}, which then outlive any pointer scope they were made in.
   */
  private TransformerModel(
      ModelConfig config, RuntimeOptions runtime, Map<String, Tensor> parameters) {
    parameters.values().forEach(Tensor::retainReference);
    this.config = config;
    this.runtime = runtime;
    this.parameters = Collections.unmodifiableMap(parameters);
    if (runtime.mixed()) {
      Map<String, Tensor> copies = new LinkedHashMap<>();
      try (PointerScope scope = new PointerScope()) {
        parameters.forEach(
            (name, p) -> {
              Tensor copy = p.detach().to(runtime.scalarType()).contiguous();
              copy.retainReference();
              copies.put(name, copy);
            });
      }
      this.computeCopies = Collections.unmodifiableMap(copies);
    } else {
      this.computeCopies = this.parameters;
    }
    this.stored = Weights.of(config, this.parameters);
    this.compute = Weights.of(config, this.computeCopies);
    this.rotary = new RotaryEmbedding(config.rope(), config.headDim(), runtime);
  }

  /** A second handle on {@code source}'s weights (shared, not copied), without its adapter. */
  private TransformerModel(TransformerModel source) {
    this.config = source.config;
    this.runtime = source.runtime;
    this.parameters = source.parameters;
    this.computeCopies = source.computeCopies;
    parameters.values().forEach(Tensor::retainReference);
    if (computeCopies != parameters) {
      computeCopies.values().forEach(Tensor::retainReference);
    }
    this.stored = source.stored;
    this.compute = source.compute;
    this.rotary = new RotaryEmbedding(config.rope(), config.headDim(), runtime);
    this.gradientCheckpointing = source.gradientCheckpointing;
  }

  /** Loads config.json and the safetensors weights of an HF model directory. */
  public static TransformerModel load(Path dir, RuntimeOptions runtime) throws IOException {
    ModelConfig config = ModelConfig.load(dir);
    try (Checkpoint checkpoint = Checkpoint.open(dir)) {
      return fromCheckpoint(config, checkpoint, runtime);
    }
  }

  /**
   * Builds a model from an open checkpoint, checking it holds exactly the parameters config
   * implies.
   */
  public static TransformerModel fromCheckpoint(
      ModelConfig config, Checkpoint checkpoint, RuntimeOptions runtime) throws IOException {
    Map<String, long[]> expected = ParameterLayout.shapes(config);
    List<String> missing = new ArrayList<>();
    List<String> wrongShape = new ArrayList<>();
    List<String> unexpected = new ArrayList<>();
    for (Map.Entry<String, long[]> e : expected.entrySet()) {
      if (!checkpoint.names().contains(e.getKey())) {
        missing.add(e.getKey());
      } else {
        long[] actual = checkpoint.entry(e.getKey()).shape();
        if (!Arrays.equals(actual, e.getValue())) {
          wrongShape.add(
              e.getKey()
                  + " is "
                  + Arrays.toString(actual)
                  + ", config implies "
                  + Arrays.toString(e.getValue()));
        }
      }
    }
    for (String name : checkpoint.names()) {
      if (!expected.containsKey(name) && !ParameterLayout.isIgnorable(name, config)) {
        unexpected.add(name);
      }
    }
    if (!missing.isEmpty() || !wrongShape.isEmpty() || !unexpected.isEmpty()) {
      StringBuilder msg =
          new StringBuilder(
              "checkpoint "
                  + checkpoint.directory()
                  + " does not match its "
                  + config.modelType()
                  + " config:");
      if (!missing.isEmpty()) {
        msg.append(" missing tensors ").append(abbreviate(missing)).append(';');
      }
      if (!wrongShape.isEmpty()) {
        msg.append(" wrong shapes: ").append(abbreviate(wrongShape)).append(';');
      }
      if (!unexpected.isEmpty()) {
        msg.append(" unexpected tensors ").append(abbreviate(unexpected)).append(';');
      }
      throw new IllegalArgumentException(msg.substring(0, msg.length() - 1));
    }
    runtime.applyThreads();
    // one scope per tensor: the raw copy is freed before the next is read
    Map<String, Tensor> params = new LinkedHashMap<>();
    try {
      for (String name : expected.keySet()) {
        try (PointerScope scope = new PointerScope()) {
          Tensor converted =
              checkpoint
                  .read(name)
                  .to(runtime.torchDevice(), runtime.parameterType().scalarType())
                  .contiguous();
          converted.retainReference();
          params.put(name, converted);
        }
      }
      return new TransformerModel(config, runtime, params);
    } finally {
      params.values().forEach(Tensor::releaseReference); // the model holds its own reference
    }
  }

  /**
   * A model with freshly initialised weights, as transformers' {@code _init_weights} does:
   * embeddings and projection weights ~ N(0, {@value #INIT_STD}), biases 0, norm weights 1. Drawn
   * on the CPU from a generator seeded with {@code seed}, so the weights do not depend on the
   * device.
   */
  public static TransformerModel randomInit(ModelConfig config, long seed, RuntimeOptions runtime) {
    runtime.applyThreads();
    try (PointerScope scope = new PointerScope()) {
      Map<String, Tensor> params = new LinkedHashMap<>();
      Generator generator = torch.createCPUGenerator(seed);
      TensorOptions f32 = new TensorOptions().dtype(new ScalarTypeOptional(ScalarType.Float));
      for (Map.Entry<String, long[]> e : ParameterLayout.shapes(config).entrySet()) {
        String name = e.getKey();
        Tensor cpu;
        if (ParameterLayout.isNorm(name)) {
          cpu = torch.ones(e.getValue(), f32);
        } else if (ParameterLayout.isBias(name)) {
          cpu = torch.zeros(e.getValue(), f32);
        } else {
          cpu = torch.normal(0.0, INIT_STD, e.getValue(), new GeneratorOptional(generator), f32);
        }
        params.put(
            name, cpu.to(runtime.torchDevice(), runtime.parameterType().scalarType()).contiguous());
      }
      return new TransformerModel(config, runtime, params);
    }
  }

  public ModelConfig config() {
    return config;
  }

  public RuntimeOptions runtime() {
    return runtime;
  }

  /**
   * HF-named parameters in transformers' order (lm_head.weight absent when tied): what the
   * optimizer updates and {@link #save} writes, fp32 master weights under mixed precision.
   */
  public Map<String, Tensor> parameters() {
    return parameters;
  }

  /**
   * What an optimizer trains: the attached adapter's tensors (PEFT keys) when there is one, the
   * base weights stay frozen; otherwise {@link #parameters()}.
   */
  public Map<String, Tensor> trainableParameters() {
    LoraAdapter a = adapter;
    return a != null ? a.parameters() : parameters;
  }

  /**
   * Attaches LoRA adapters: every forward pass (training, scoring and cached generation) then adds
   * them to their projections, unmerged. The model owns the adapter and closes it with itself.
   */
  public void attach(LoraAdapter lora) {
    if (adapter != null) throw new IllegalStateException("an adapter is already attached");
    if (!lora.fits(config)) {
      throw new IllegalArgumentException("the adapter was made for a model of another shape");
    }
    adapter = lora;
  }

  /** The attached adapter, or null. */
  public LoraAdapter adapter() {
    return adapter;
  }

  /**
   * The parameters in blocks as {@link ParameterResidency} numbers them: one per decoder layer, in
   * order, then the rest (embeddings, final norm, LM head); each block in {@link #parameters()}'s
   * order.
   */
  public List<List<Tensor>> parameterBlocks() {
    List<List<Tensor>> blocks = new ArrayList<>();
    for (int i = 0; i <= config.numLayers(); i++) blocks.add(new ArrayList<>());
    parameters.forEach(
        (name, p) -> {
          int layer = config.numLayers();
          for (int i = 0; i < config.numLayers(); i++) {
            if (name.startsWith(ParameterLayout.layerPrefix(i))) layer = i;
          }
          blocks.get(layer).add(p);
        });
    return blocks;
  }

  /**
   * Shards the parameters ({@code residency} gathers each block around its use and frees it after),
   * or with null makes them whole again. Needs {@link #gradientCheckpointing()} for training: the
   * plain backward would need every layer's weights at once.
   */
  public void setResidency(ParameterResidency residency) {
    this.residency = residency;
    releaseFusedLayers(); // sharding moves the weights' storage: the descriptions would dangle
  }

  public ParameterResidency residency() {
    return residency;
  }

  /**
   * Keeps the embeddings, final norm and LM head gathered until closed when the parameters are
   * sharded (nothing otherwise): a forward pass over whole batches and the {@link #project}ions of
   * its hidden states run inside one.
   */
  public Held holdOuter() {
    ParameterResidency r = residency;
    if (r == null) return () -> {};
    r.gather(r.outer());
    return () -> r.release(r.outer());
  }

  /** Something gathered, released by {@link #close()}. */
  public interface Held extends AutoCloseable {
    @Override
    void close();
  }

  private void requireGathered(int block, String what) {
    ParameterResidency r = residency;
    if (r != null && !r.isGathered(block)) {
      throw new IllegalStateException(
          "the parameters are sharded (distributed.sharding: full): " + what);
    }
  }

  /**
   * This model's weights without the adapter: another handle on the same tensors (no copy), e.g.
   * the KL reference of a LoRA run. Close it independently; the weights live until both are closed.
   */
  public TransformerModel withoutAdapter() {
    return new TransformerModel(this);
  }

  /**
   * Writes the model with the adapter merged into its weights (W + s B A, in fp32, then {@code
   * dtype}) as an ordinary HF directory, as PEFT's merge_and_unload followed by save_pretrained.
   */
  public void saveMerged(Path dir, StorageType dtype) throws IOException {
    LoraAdapter a = adapter;
    if (a == null) throw new IllegalStateException("no adapter is attached: nothing to merge");
    try (PointerScope scope = new PointerScope()) {
      write(dir, a.merged(parameters), dtype, 5_000_000_000L);
    }
  }

  /**
   * Re-casts the compute copies from the master weights after an optimizer step (mixed precision;
   * nothing to do otherwise).
   */
  public synchronized void refreshComputeCopies() {
    if (computeCopies == parameters && bf16Copies == null) {
      return;
    }
    try (NativeSection section = NativeSection.enter();
        NoGradGuard noGrad = new NoGradGuard();
        PointerScope scope = new PointerScope()) {
      if (computeCopies != parameters) {
        parameters.forEach((name, master) -> computeCopies.get(name).copy_(master));
      }
      if (bf16Copies != null) {
        bf16Copies.forEach(
            (name, copy) -> {
              if (Kernels.isPackedBf16(copy)) Kernels.packBf16(parameters.get(name), copy);
              else copy.copy_(parameters.get(name));
            });
      }
    }
  }

  /** The weights decode steps multiply by on the CPU; see {@link DecodeWeights}. */
  public DecodeWeights decodeWeights() {
    return decodeWeights;
  }

  /**
   * Selects the weights decode steps multiply by (see {@link DecodeWeights}); {@code BF16} makes
   * the bf16 copies now (half the fp32 weights' memory) on a CPU fp32 model, where the kernel runs.
   */
  public synchronized void setDecodeWeights(DecodeWeights weights) {
    if (weights == null) throw new IllegalArgumentException("decode weights must not be null");
    boolean copies = weights == DecodeWeights.BF16 && usesDecodeKernel();
    if (copies && bf16Copies == null) {
      Map<String, Tensor> made = new LinkedHashMap<>();
      try (NativeSection section = NativeSection.enter();
          NoGradGuard noGrad = new NoGradGuard();
          PointerScope scope = new PointerScope()) {
        String head = config.tieWordEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight";
        // packed where this CPU's bf16 products read that layout (Kernels.packBf16): the LM head
        // on its own, the projections all or none (a fused layer takes one weight type)
        boolean packProjections =
            parameters.entrySet().stream()
                .filter(e -> e.getKey().endsWith("_proj.weight"))
                .allMatch(e -> packable(e.getValue()));
        parameters.forEach(
            (name, p) -> {
              if (name.endsWith("_proj.weight") || name.equals(head)) {
                boolean pack = name.equals(head) ? packable(p) : packProjections;
                Tensor copy =
                    pack
                        ? Kernels.packBf16(p.detach().contiguous(), null)
                        : p.detach().to(ScalarType.BFloat16).contiguous();
                made.put(name, retained(copy));
              }
            });
      }
      Map<String, Tensor> merged = new LinkedHashMap<>(computeCopies);
      made.forEach(
          (name, copy) -> {
            if (name.endsWith("_proj.weight")) merged.put(name, copy);
          });
      LayerTensors[] layers = new LayerTensors[config.numLayers()];
      for (int i = 0; i < layers.length; i++) layers[i] = layerOf(merged, i);
      bf16Copies = Collections.unmodifiableMap(made);
      bf16Decode =
          new Weights(
              compute.embed(),
              compute.finalNorm(),
              made.get(config.tieWordEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight"),
              layers);
    } else if (!copies && bf16Copies != null) {
      releaseBf16Copies();
    }
    decodeWeights = weights;
  }

  /** Whether a [N, K] weight's bf16 copy is packed on this CPU ({@link Kernels#packsBf16}). */
  private static boolean packable(Tensor weight) {
    return weight.dim() == 2 && Kernels.packsBf16(weight.size(0), weight.size(1));
  }

  private void releaseBf16Copies() {
    releaseFusedLayers();
    bf16Copies.values().forEach(Tensor::releaseReference);
    bf16Copies = null;
    bf16Decode = null;
  }

  /** Whether decode steps can run on the native kernel: fp32 activations on the CPU. */
  private boolean usesDecodeKernel() {
    return !runtime.isCuda() && runtime.dtype() == StorageType.F32;
  }

  /**
   * The layers' native descriptions for a fused decode step over {@code weights}, or null where the
   * step must run op by op: libtorch selected, LoRA attached, or weights sharded.
   */
  private synchronized Kernels.DecodeLayer[] fusedLayers(Weights weights) {
    if (decodeWeights == DecodeWeights.LIBTORCH
        || !fusedDecode
        || !usesDecodeKernel()
        || adapter != null
        || residency != null) {
      return null;
    }
    return fusedLayers.computeIfAbsent(
        weights,
        w -> {
          Kernels.DecodeLayer[] made = new Kernels.DecodeLayer[w.layers().length];
          for (int i = 0; i < made.length; i++) {
            made[i] =
                Kernels.decodeLayer(
                    w.layers()[i], config.numHeads(), config.numKvHeads(), config.rmsNormEps());
          }
          return made;
        });
  }

  private synchronized void releaseFusedLayers() {
    for (Kernels.DecodeLayer[] layers : fusedLayers.values()) {
      for (Kernels.DecodeLayer layer : layers) layer.close();
    }
    fusedLayers.clear();
  }

  /**
   * The weights a cached forward pass reads: under {@link DecodeWeights#BF16} the bf16 copies for
   * every pass, prompts included, so that a sequence's keys and values come from one set of weights
   * whatever the length of the pass that wrote them (and a long pass gains most from bf16
   * products).
   */
  private Weights cachedForwardWeights() {
    Weights bf16 = bf16Decode;
    return bf16 != null && decodeWeights == DecodeWeights.BF16 ? bf16 : compute;
  }

  /**
   * The weights of this forward pass. Training a mixed-precision model (grad mode on, masters
   * requiring grad) casts the masters inside the graph, so that gradients flow back through the
   * cast and accumulate in fp32; otherwise the stored compute copies serve.
   */
  private Weights forwardWeights() {
    if (!castsInGraph()) {
      return compute;
    }
    ScalarType type = runtime.scalarType();
    LayerTensors[] layers = new LayerTensors[stored.layers().length];
    for (int i = 0; i < layers.length; i++) {
      layers[i] = cast(stored.layers()[i], type);
    }
    Tensor embed = stored.embed().to(type);
    return new Weights(
        embed,
        stored.finalNorm().to(type),
        stored.lmHead() == stored.embed() ? embed : stored.lmHead().to(type),
        layers);
  }

  private boolean castsInGraph() {
    return computeCopies != parameters && GradMode.is_enabled() && stored.embed().requires_grad();
  }

  /** The LM head's weight for this forward pass (see {@link #forwardWeights}). */
  public Tensor lmHead() {
    return castsInGraph() ? stored.lmHead().to(runtime.scalarType()) : compute.lmHead();
  }

  /**
   * Writes config.json and the weights (converted to {@code dtype}) in HF layout, in one file or in
   * shards of at most {@code maxShardBytes}.
   */
  public void save(Path dir, StorageType dtype, long maxShardBytes) throws IOException {
    write(dir, parameters, dtype, maxShardBytes);
  }

  private void write(Path dir, Map<String, Tensor> weights, StorageType dtype, long maxShardBytes)
      throws IOException {
    Files.createDirectories(dir);
    try (PointerScope scope = new PointerScope()) {
      Map<String, Tensor> converted = new LinkedHashMap<>();
      for (Map.Entry<String, Tensor> e : weights.entrySet()) {
        converted.put(e.getKey(), e.getValue().detach().to(dtype.scalarType()));
      }
      Checkpoint.write(dir, converted, maxShardBytes);
    }
    ObjectNode json = config.toJson();
    json.put("torch_dtype", dtype.torchName());
    JSON.writeValue(dir.resolve("config.json").toFile(), json);
  }

  /** Saves in one safetensors file (shards only above 5 GB, as transformers does by default). */
  public void save(Path dir, StorageType dtype) throws IOException {
    save(dir, dtype, 5_000_000_000L);
  }

  /**
   * Logits [B, T, V] of a full forward pass over token ids [B, T] (int64, on the model's device).
   * Causal attention only, so right padding never influences real positions. Differentiable. The
   * caller closes the result.
   */
  public Tensor logits(Tensor inputIds) {
    try (PointerScope scope = new PointerScope()) {
      Tensor result = project(causalHidden(inputIds));
      result.retainReference();
      return result;
    }
  }

  /** The final-normed hidden states [B, T, hidden] of a full causal forward pass. */
  public Tensor hiddenStates(Tensor inputIds) {
    try (PointerScope scope = new PointerScope()) {
      Tensor result = causalHidden(inputIds);
      result.retainReference();
      return result;
    }
  }

  private Tensor causalHidden(Tensor inputIds) {
    checkIds(inputIds);
    if (residency != null) {
      requireGathered(residency.outer(), "run whole-batch forward passes inside holdOuter()");
      if (castsInGraph() || (GradMode.is_enabled() && stored.embed().requires_grad())) {
        throw new IllegalStateException(
            "the parameters are sharded (distributed.sharding: full): train with"
                + " gradient_checkpointing: true, whose backward gathers one layer at a time");
      }
    }
    long b = inputIds.size(0);
    long t = inputIds.size(1);
    Tensor positions =
        torch.arange(new Scalar(0L), new Scalar(t), longOptions()).unsqueeze(0).expand(b, t);
    Weights w = forwardWeights();
    Tensor h = torch.embedding(w.embed(), inputIds);
    KeyValueSource causal = (layer, q, k, v) -> attention(q, k, v, null);
    return rmsNorm(runLayers(w.layers(), h, positions, causal), w.finalNorm());
  }

  /**
   * Token ids as an int64 [rows, length] tensor on the model's device; rows must be equally long.
   */
  public Tensor ids(int[]... rows) {
    if (rows.length == 0 || rows[0].length == 0) {
      throw new IllegalArgumentException("ids needs at least one non-empty row");
    }
    int t = rows[0].length;
    long[] flat = new long[rows.length * t];
    for (int r = 0; r < rows.length; r++) {
      if (rows[r].length != t) {
        throw new IllegalArgumentException(
            "ids rows must have equal lengths, row " + r + " has " + rows[r].length + " not " + t);
      }
      for (int i = 0; i < t; i++) {
        flat[r * t + i] = rows[r][i];
      }
    }
    try (PointerScope scope = new PointerScope()) {
      Tensor result =
          torch.tensor(flat).view(rows.length, t).to(runtime.torchDevice(), ScalarType.Long);
      result.retainReference();
      return result;
    }
  }

  /** hidden [..., hidden] to logits [..., V] through the LM head (the embedding when tied). */
  public Tensor project(Tensor hidden) {
    return project(hidden, lmHead());
  }

  /** hidden [..., hidden] to logits [..., V] through {@code head} (from {@link #lmHead()}). */
  public static Tensor project(Tensor hidden, Tensor head) {
    return linear(hidden, head, null);
  }

  /**
   * Runs {@code counts[b]} pending tokens of each sequence through the model, writing their keys
   * and values into {@code cache} and marking them cached. Sequences may have different cached
   * lengths and counts. On the CPU (fp32 or bf16 activations) the new tokens are packed, one row
   * each, whatever their sequence (a decode step's single tokens beside a tool result or a prompt),
   * and attend the cache in place; elsewhere, and for {@link LogitsMode#ALL}, the batch is padded
   * to the longest count. Returns the requested logits in the model's dtype (the caller closes
   * them) or null for {@link LogitsMode#NONE}.
   */
  public Tensor forward(
      KvCache cache, List<CachedSequence> sequences, int[] counts, LogitsMode mode) {
    if (cache.model() != this) {
      throw new IllegalArgumentException("cache belongs to another model");
    }
    if (residency != null) {
      for (int i = 0; i <= config.numLayers(); i++) {
        requireGathered(
            i,
            "gather all weights before generating (one collective per layer and"
                + " token would need every rank to decode in step)");
      }
    }
    try (NativeSection section = NativeSection.enter();
        NoGradGuard noGrad = new NoGradGuard();
        CachedForward decode = CachedForward.enter();
        PointerScope scope = new PointerScope()) {
      KvCache.Plan plan = cache.plan(sequences, counts, mode != LogitsMode.ALL);
      cachedForwards++;
      int b = plan.batch();
      int t = plan.queryLength();
      Tensor h = torch.embedding(compute.embed(), plan.inputIds().view(b, t));
      Kernels.DecodeLayer[] fused =
          plan.inPlace() != null ? fusedLayers(cachedForwardWeights()) : null;
      if (fused != null) { // packed rows: each layer one native call (arpo_decode_layer)
        fusedForwards++;
        Tensor rows = h.view(b, -1);
        Tensor[] cosSin = rotary.cosSin(plan.positions().view(b, 1), ScalarType.Float);
        Tensor cos = cosSin[0].reshape(b, -1).contiguous();
        Tensor sin = cosSin[1].reshape(b, -1).contiguous();
        for (int i = 0; i < fused.length; i++) {
          Kernels.decodeLayer(
              fused[i],
              rows,
              cos,
              sin,
              cache.keys(i),
              cache.values(i),
              plan.inPlace(),
              (float) attentionScale());
        }
        if (mode == LogitsMode.LAST && b != sequences.size()) {
          rows = rows.index_select(0, plan.lastRows()); // each sequence's last token
        }
        Tensor result =
            mode == LogitsMode.NONE
                ? null
                : decodeLinear(
                    rmsNorm(rows, compute.finalNorm()), cachedForwardWeights().lmHead(), null);
        if (mode == LogitsMode.ALL) result = result.view(b, 1, -1); // [B, maxNew = 1, V]
        cache.commit(sequences, counts);
        if (result != null) result.retainReference();
        return result;
      }
      KeyValueSource paged =
          (layer, q, k, v) -> {
            long kvHeads = k.size(1);
            long d = k.size(3);
            Tensor kRows = k.transpose(1, 2).reshape(b * (long) t, kvHeads, d);
            Tensor vRows = v.transpose(1, 2).reshape(b * (long) t, kvHeads, d);
            if (plan.writeRows() != null) {
              kRows = kRows.index_select(0, plan.writeRows());
              vRows = vRows.index_select(0, plan.writeRows());
            }
            cache.keys(layer).index_copy_(0, plan.writeSlots(), kRows);
            cache.values(layer).index_copy_(0, plan.writeSlots(), vRows);
            if (plan.inPlace() != null) { // a decode step (T = 1) on the CPU
              Tensor attended =
                  Kernels.pagedAttention(
                      q.reshape(b, q.size(1), d).contiguous(),
                      cache.keys(layer),
                      cache.values(layer),
                      plan.inPlace(),
                      (float) attentionScale());
              return attended.view(b, q.size(1), 1, d);
            }
            if (plan.gatherSlots() == null) {
              return attention(
                  q, k, v, plan.mask()); // nothing cached before: the new tokens are all the keys
            }
            long l = plan.keyLength();
            Tensor keys =
                cache
                    .keys(layer)
                    .index_select(0, plan.gatherSlots())
                    .view(b, l, kvHeads, d)
                    .transpose(1, 2);
            Tensor values =
                cache
                    .values(layer)
                    .index_select(0, plan.gatherSlots())
                    .view(b, l, kvHeads, d)
                    .transpose(1, 2);
            return attention(q, keys, values, plan.mask());
          };
      Tensor hidden =
          runLayers(cachedForwardWeights().layers(), h, plan.positions().view(b, t), paged);
      Tensor result =
          switch (mode) {
            case NONE -> null;
            case LAST ->
                decodeLinear(
                    rmsNorm(
                        hidden.reshape(b * (long) t, -1).index_select(0, plan.lastRows()),
                        compute.finalNorm()),
                    cachedForwardWeights().lmHead(),
                    null);
            case ALL ->
                decodeLinear(
                    rmsNorm(hidden, compute.finalNorm()), cachedForwardWeights().lmHead(), null);
          };
      cache.commit(sequences, counts);
      if (result != null) {
        result.retainReference();
      }
      return result;
    }
  }

  /**
   * The decoder layers over h [B, T, hidden]; call inside a pointer scope, which frees the result.
   * Without autograd (a cached forward, scoring) each layer's intermediates are freed when the
   * layer ends. Under autograd the graph holds most of them for backward anyway, and freeing the
   * rest early raised a 2,048-token training step's peak RSS by 0.4 GiB: once mmapped buffers are
   * freed, glibc raises its mmap threshold and serves later ones from its heap, which stays
   * resident (with the threshold pinned, the peak fell by 0.2 GiB).
   */
  private Tensor runLayers(LayerTensors[] layers, Tensor h, Tensor positions, KeyValueSource kv) {
    Tensor[] cosSin = rotary.cosSin(positions, h.scalar_type());
    if (!GradMode.is_enabled()) return runLayersFreeingEach(layers, h, cosSin, kv);
    for (int i = 0; i < layers.length; i++) h = gatheredLayer(i, layers[i], h, cosSin, kv);
    return h;
  }

  /**
   * {@link #runLayers} without autograd. Each layer runs in a pointer scope of its own, so that its
   * intermediates (normed inputs, q/k/v, attention, the [B, T, intermediate] MLP tensors) do not
   * pile up over all layers until the caller's scope closes: prefilling 4,096 tokens of a 0.5B
   * model in one forward took the JVM past 15 GB. Only a layer's output outlives its scope, until
   * the next layer has consumed it.
   */
  private Tensor runLayersFreeingEach(
      LayerTensors[] layers, Tensor h, Tensor[] cosSin, KeyValueSource kv) {
    PointerScope callerScope = PointerScope.getInnerScope();
    Tensor retainedOutput = null; // the latest layer's output, kept past its layer's scope
    try {
      for (int i = 0; i < layers.length; i++) {
        Tensor output;
        try (PointerScope layerScope = new PointerScope()) {
          output = retained(gatheredLayer(i, layers[i], h, cosSin, kv));
        }
        if (retainedOutput != null) retainedOutput.releaseReference(); // layer i has consumed it
        retainedOutput = h = output;
      }
      if (retainedOutput != null) {
        callerScope.attach(retainedOutput);
        retainedOutput.releaseReference(); // leaves the caller's scope the only reference
        retainedOutput = null;
      }
      return h;
    } finally {
      if (retainedOutput != null) retainedOutput.releaseReference(); // a layer threw
    }
  }

  /** {@link #runLayer} with the layer's parameters gathered around it when they are sharded. */
  private Tensor gatheredLayer(
      int index, LayerTensors layer, Tensor h, Tensor[] cosSin, KeyValueSource kv) {
    ParameterResidency r = residency;
    if (r != null) r.gather(index);
    Tensor output = runLayer(index, layer, h, cosSin, kv);
    if (r != null) r.release(index);
    return output;
  }

  /** One decoder layer over h [B, T, hidden]. */
  private Tensor runLayer(
      int index, LayerTensors layer, Tensor h, Tensor[] cosSin, KeyValueSource kv) {
    long b = h.size(0);
    long t = h.size(1);
    int heads = config.numHeads();
    int kvHeads = config.numKvHeads();
    int d = config.headDim();
    Tensor x = rmsNorm(h, layer.inputNorm());
    Tensor q = project(index, Q, x, layer.q(), layer.qBias()).view(b, t, heads, d);
    Tensor k = project(index, K, x, layer.k(), layer.kBias()).view(b, t, kvHeads, d);
    Tensor v = project(index, V, x, layer.v(), layer.vBias()).view(b, t, kvHeads, d);
    if (layer.qNorm() != null) {
      q = rmsNorm(q, layer.qNorm());
      k = rmsNorm(k, layer.kNorm());
    }
    q = RotaryEmbedding.apply(q.transpose(1, 2), cosSin[0], cosSin[1]);
    k = RotaryEmbedding.apply(k.transpose(1, 2), cosSin[0], cosSin[1]);
    v = v.transpose(1, 2);
    Tensor attended = kv.attend(index, q, k, v).transpose(1, 2).reshape(b, t, (long) heads * d);
    h = h.add(project(index, O, attended, layer.o(), layer.oBias()));
    x = rmsNorm(h, layer.postNorm());
    Tensor gated =
        torch
            .silu(project(index, GATE, x, layer.gate(), layer.gateBias()))
            .mul(project(index, UP, x, layer.up(), layer.upBias()));
    return h.add(project(index, DOWN, gated, layer.down(), layer.downBias()));
  }

  /** How many {@link #forward(KvCache, List, int[], LogitsMode)} passes this model has run. */
  long cachedForwards() {
    return cachedForwards;
  }

  /** For benchmarks: whether cached forwards may run fused (default) or op by op on the kernels. */
  void setFusedDecode(boolean enabled) {
    fusedDecode = enabled;
  }

  /** How many of {@link #cachedForwards} ran fused. */
  long fusedForwards() {
    return fusedForwards;
  }

  /** Whether {@link #checkpointedHidden} is what training uses (gradient_checkpointing). */
  public boolean gradientCheckpointing() {
    return gradientCheckpointing;
  }

  public void setGradientCheckpointing(boolean enabled) {
    this.gradientCheckpointing = enabled;
  }

  /**
   * Activation checkpointing: the forward pass runs without a graph, keeping only each decoder
   * layer's input [B, T, hidden]; the final-normed hidden states come back inside a graph that
   * starts at the last layer's output. After that graph's backward, {@link Checkpointed#backward()}
   * recomputes each layer, last to first, inside a graph of its own and backpropagates through it
   * (then through the embedding), so at most one layer's activations exist at a time. Gradients
   * equal those of {@link #hiddenStates}'s graph. Close the result.
   */
  public Checkpointed checkpointedHidden(Tensor inputIds) {
    checkIds(inputIds);
    return new Checkpointed(inputIds);
  }

  /** See {@link #checkpointedHidden}. */
  public final class Checkpointed implements AutoCloseable {
    private final Tensor ids;
    private final Tensor[] cosSin;
    private final Tensor[]
        layerInputs; // retained; [i] is released once layer i has been backpropagated
    private final Tensor lastOutput; // the leaf the returned hidden states' graph starts at
    private final Tensor hidden;
    private final ParameterResidency shards = residency; // null unless sharded
    private boolean done, outerHeld;

    private Checkpointed(Tensor inputIds) {
      long b = inputIds.size(0);
      long t = inputIds.size(1);
      LayerTensors[] layers = compute.layers();
      layerInputs = new Tensor[layers.length];
      if (shards != null) {
        shards.gather(shards.outer()); // until the embedding's backward
        outerHeld = true;
      }
      try (PointerScope scope = new PointerScope()) {
        ids = retained(inputIds);
        Tensor positions =
            torch.arange(new Scalar(0L), new Scalar(t), longOptions()).unsqueeze(0).expand(b, t);
        cosSin = rotary.cosSin(positions, runtime.scalarType());
        retained(cosSin[0]);
        retained(cosSin[1]);
        Tensor h;
        try (NoGradGuard noGrad = new NoGradGuard()) {
          h = retained(torch.embedding(compute.embed(), inputIds));
          for (int i = 0; i < layers.length; i++) {
            layerInputs[i] = h; // takes over h's reference
            try (PointerScope layerScope = new PointerScope()) {
              if (shards != null) shards.gather(i);
              h = retained(runLayer(i, layers[i], layerInputs[i], cosSin, causal()));
              if (shards != null) shards.release(i);
            }
          }
        }
        lastOutput = retained(h.detach());
        lastOutput.requires_grad_(true);
        h.releaseReference();
        hidden =
            retained(rmsNorm(lastOutput, trainingWeight(stored.finalNorm(), compute.finalNorm())));
      }
    }

    /** The final-normed hidden states [B, T, hidden], in a graph from the last layer's output. */
    public Tensor hidden() {
      return hidden;
    }

    /**
     * After {@code hidden()}'s graph has been backpropagated: recomputes each layer with a graph
     * and backpropagates the incoming gradient through it, then through the embedding.
     */
    public void backward() {
      if (done) throw new IllegalStateException("backward was already called");
      done = true;
      Tensor grad = lastOutput.grad();
      if (grad == null || !grad.defined()) {
        throw new IllegalStateException(
            "backpropagate hidden() first: the last layer's output has no gradient");
      }
      try (PointerScope outer = new PointerScope()) {
        grad = retained(grad.detach());
        for (int i = layerInputs.length - 1; i >= 0; i--) {
          try (PointerScope scope = new PointerScope()) {
            Tensor input = layerInputs[i].detach();
            input.requires_grad_(true);
            if (shards != null) shards.gather(i);
            LayerTensors layer =
                castsInGraph()
                    ? cast(stored.layers()[i], runtime.scalarType())
                    : compute.layers()[i];
            Tensor out = runLayer(i, layer, input, cosSin, causal());
            out.backward(grad, new BoolOptional(), false, new TensorArrayRefOptional());
            if (shards != null) shards.reduceGradients(i); // the graph is gone: free the layer
            grad.releaseReference();
            grad = retained(input.grad().detach());
            layerInputs[i].releaseReference();
            layerInputs[i] = null;
          }
        }
        try (PointerScope scope = new PointerScope()) {
          if (stored.embed().requires_grad()) { // frozen under LoRA
            Tensor embedded = torch.embedding(trainingWeight(stored.embed(), compute.embed()), ids);
            embedded.backward(grad, new BoolOptional(), false, new TensorArrayRefOptional());
          }
          grad.releaseReference();
        }
        if (shards != null) {
          outerHeld = false;
          shards.reduceGradients(shards.outer());
        }
      }
    }

    @Override
    public void close() {
      if (outerHeld) {
        outerHeld = false;
        shards.release(shards.outer());
      }
      for (int i = 0; i < layerInputs.length; i++) {
        if (layerInputs[i] != null) {
          layerInputs[i].releaseReference();
          layerInputs[i] = null;
        }
      }
      ids.releaseReference();
      cosSin[0].releaseReference();
      cosSin[1].releaseReference();
      lastOutput.releaseReference();
      hidden.releaseReference();
    }
  }

  /** A weight as this forward pass reads it: cast in the graph when training a mixed model. */
  private Tensor trainingWeight(Tensor master, Tensor computeCopy) {
    return castsInGraph() ? master.to(runtime.scalarType()) : computeCopy;
  }

  private KeyValueSource causal() {
    return (layer, q, k, v) -> attention(q, k, v, null);
  }

  /** t, with a reference that outlives the current pointer scope; release it when done. */
  private static Tensor retained(Tensor t) {
    t.retainReference();
    return t;
  }

  private double attentionScale() {
    return 1.0 / Math.sqrt(config.headDim());
  }

  /** Scaled dot-product attention with GQA; mask null means plain causal. */
  private Tensor attention(Tensor q, Tensor k, Tensor v, Tensor mask) {
    double scale = attentionScale();
    boolean gqa = config.numKvHeads() != config.numHeads();
    TensorOptional maskOpt = mask == null ? new TensorOptional() : new TensorOptional(mask);
    return torch.scaled_dot_product_attention(
        q, k, v, maskOpt, 0.0, mask == null, new DoubleOptional(scale), gqa);
  }

  /** HF RMSNorm: normalise in float32, cast back, then scale by the weight. */
  private Tensor rmsNorm(Tensor x, Tensor weight) {
    ScalarType type = x.scalar_type();
    Tensor x32 = x.to(ScalarType.Float);
    Tensor variance =
        x32.pow(new Scalar(2.0)).mean(new long[] {-1}, true, new ScalarTypeOptional());
    Tensor normed = x32.mul(variance.add(new Scalar(config.rmsNormEps())).rsqrt());
    return weight.mul(normed.to(type));
  }

  // indices into LoraConfig.PROJECTIONS
  private static final int Q = 0, K = 1, V = 2, O = 3, GATE = 4, UP = 5, DOWN = 6;

  /**
   * Projection {@code p} of layer {@code layer}: the base linear map plus the adapter's, if any.
   */
  private Tensor project(int layer, int p, Tensor x, Tensor weight, Tensor bias) {
    Tensor y = decodeLinear(x, weight, bias);
    LoraAdapter lora = adapter;
    return lora == null ? y : lora.apply(layer, p, x, y);
  }

  /**
   * x [..., in] times weight [out, in]^T plus bias. One row (a decode step of one sequence) goes
   * through a matrix-vector product: {@code linear}'s matrix-matrix path packs the whole weight
   * first, which for one row reads it twice.
   */
  private static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
    long in = x.size(x.dim() - 1);
    if (x.numel() == in && x.dim() >= 1) {
      Tensor row = x.reshape(in);
      Tensor y = bias == null ? torch.mv(weight, row) : torch.addmv(bias, weight, row);
      long[] shape = x.sizes().vec().get();
      shape[shape.length - 1] = weight.size(0);
      return y.view(shape);
    }
    return bias == null
        ? torch.linear(x, weight)
        : torch.linear(x, weight, new TensorOptional(bias));
  }

  /**
   * Marks the calling thread as inside a cached forward pass (inference) until closed: only there
   * do products go to the decode kernel. Training and scoring, with or without autograd (the
   * checkpointed forward and the old log-probs run without), keep libtorch's arithmetic.
   */
  private record CachedForward(boolean outer) implements AutoCloseable {
    private static final ThreadLocal<Boolean> ACTIVE = ThreadLocal.withInitial(() -> false);

    static CachedForward enter() {
      CachedForward scope = new CachedForward(ACTIVE.get());
      ACTIVE.set(true);
      return scope;
    }

    static boolean active() {
      return ACTIVE.get();
    }

    @Override
    public void close() {
      ACTIVE.set(outer);
    }
  }

  /**
   * {@link #linear}, or the native weight-streaming kernel inside a cached forward pass with fp32
   * activations on the CPU, unless {@link DecodeWeights#LIBTORCH} is selected: a decode step reads
   * each weight once; a prefill reads it once per 64 rows, on OpenMP's threads (libtorch's matmul
   * runs in one OpenBLAS thread, see NativeLibraries). bf16 weights (the {@link DecodeWeights#BF16}
   * copies) only ever reach this point under those conditions.
   */
  private Tensor decodeLinear(Tensor x, Tensor weight, Tensor bias) {
    long in = x.size(x.dim() - 1);
    long rows = in == 0 ? 0 : x.numel() / in;
    if (decodeWeights == DecodeWeights.LIBTORCH
        || !CachedForward.active()
        || rows == 0
        || !x.is_cpu()
        || x.scalar_type().value != ScalarType.Float.value) {
      return linear(x, weight, bias);
    }
    Tensor flat = x.reshape(rows, in);
    if (flat.stride(1) != 1 || (rows > 1 && flat.stride(0) < in)) flat = flat.contiguous();
    long[] shape = x.sizes().vec().get();
    shape[shape.length - 1] = Kernels.projectionShape(weight)[0];
    return Kernels.decodeMatmul(flat, weight, bias).view(shape);
  }

  private void checkIds(Tensor ids) {
    if (ids.dim() != 2 || ids.scalar_type().intern() != ScalarType.Long) {
      throw new IllegalArgumentException("inputIds must be an int64 [batch, length] tensor");
    }
    if (ids.numel() > 0) {
      long min = ids.min().item_long();
      long max = ids.max().item_long();
      if (min < 0 || max >= config.vocabSize()) {
        throw new IllegalArgumentException(
            "inputIds must lie in [0, "
                + config.vocabSize()
                + "), got range ["
                + min
                + ", "
                + max
                + "]");
      }
    }
  }

  private TensorOptions longOptions() {
    return new TensorOptions()
        .dtype(new ScalarTypeOptional(ScalarType.Long))
        .device(new org.bytedeco.pytorch.DeviceOptional(runtime.torchDevice()));
  }

  private static String abbreviate(List<String> items) {
    int shown = Math.min(items.size(), 8);
    String list = String.join(", ", items.subList(0, shown));
    return "[" + list + (items.size() > shown ? ", ... (" + items.size() + " in all)" : "") + "]";
  }

  @Override
  public void close() {
    rotary.close();
    synchronized (this) {
      if (bf16Copies != null) releaseBf16Copies();
      releaseFusedLayers();
    }
    parameters.values().forEach(Tensor::releaseReference);
    if (computeCopies != parameters) {
      computeCopies.values().forEach(Tensor::releaseReference);
    }
    if (adapter != null) adapter.close();
  }
}
