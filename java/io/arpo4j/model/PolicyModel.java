package io.arpo4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.kernels.NativeLibraries;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * A language model ready for rollouts and training: the transformer, its tokenizer and its
 * end-of-sequence ids, loaded from (and saved to) a Hugging Face model directory.
 *
 * <p>Typical use:
 *
 * <pre>{@code
 * try (PolicyModel pm = PolicyModel.load("default", RuntimeOptions.auto());
 *      TransformerPolicy policy = pm.newPolicy()) {
 *   Sequence s = policy.newSequence(pm.tokenizer().encode("..."));
 *   List<SampledToken> next = policy.step(List.of(s), SamplingParams.greedy(), seed, 0);
 * }
 * }</pre>
 *
 * Training updates {@link #model()}'s parameters in place; policies created from this model sample
 * from the updated weights (their caches should be fresh after an update).
 *
 * <p>Contract: whoever loads a PolicyModel owns it and closes it; {@link #close()} frees the
 * weights and the tokenizer, after which neither it nor a policy made from it may be used. A {@code
 * Trainer} given a model with {@code Trainer.Builder.model} trains it but leaves it open. Each
 * {@link TransformerPolicy} has its own KV cache and serves one thread; several policies may sample
 * from one model concurrently while nothing trains it. Loading checks the files before any tensor
 * is allocated (sizes, shapes, offsets, finite weights) and fails with an {@link
 * IllegalArgumentException} naming the file and tensor or key.
 */
public final class PolicyModel implements AutoCloseable {
  static {
    NativeLibraries.load(); // the bundled libtorch, before anything here touches a tensor
  }

  /** The name that selects the embedded default model instead of a directory. */
  public static final String DEFAULT_NAME = "default";

  /** The warning, once, where a command's output comes from the default model. */
  public static final String DEFAULT_IS_UNTRAINED =
      "model 'default' is the embedded model with random weights (untrained): its text is noise";

  private static final String GENERATION_CONFIG = "generation_config.json";

  private final TransformerModel model;
  private final HfTokenizer tokenizer;
  private final int[] eosTokenIds;
  private final byte[] generationConfig;

  PolicyModel(TransformerModel model, HfTokenizer tokenizer, byte[] generationConfig) {
    this.model = model;
    this.tokenizer = tokenizer;
    this.generationConfig = generationConfig;
    this.eosTokenIds = eosIds(model.config(), tokenizer, generationConfig);
  }

  /** {@code default} for the embedded model, else an HF model directory. */
  public static PolicyModel load(String dirOrDefault, RuntimeOptions runtime) throws IOException {
    return DEFAULT_NAME.equals(dirOrDefault)
        ? loadDefault(runtime)
        : load(Path.of(dirOrDefault), runtime);
  }

  /**
   * config.json, safetensors weights, tokenizer.json (+ tokenizer_config.json,
   * generation_config.json).
   */
  public static PolicyModel load(Path dir, RuntimeOptions runtime) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("model directory " + dir + " does not exist");
    }
    HfTokenizer tokenizer = HfTokenizer.load(dir);
    try {
      TransformerModel model = TransformerModel.load(dir, runtime);
      Path gen = dir.resolve(GENERATION_CONFIG);
      return new PolicyModel(
          model, tokenizer, Files.isRegularFile(gen) ? Files.readAllBytes(gen) : null);
    } catch (IOException | RuntimeException e) {
      tokenizer.close();
      throw e;
    }
  }

  /** The embedded default model with its documented random initial weights. */
  public static PolicyModel loadDefault(RuntimeOptions runtime) {
    return create(DefaultModel.config(), DefaultModel.tokenizer(), DefaultModel.SEED, runtime);
  }

  /** The embedded default model on the CPU in fp32. */
  public static PolicyModel loadDefault() {
    return loadDefault(RuntimeOptions.cpu());
  }

  /**
   * A randomly initialised model (see {@link TransformerModel#randomInit}) with {@code tokenizer}.
   */
  public static PolicyModel create(
      ModelConfig config, HfTokenizer tokenizer, long seed, RuntimeOptions runtime) {
    return new PolicyModel(TransformerModel.randomInit(config, seed, runtime), tokenizer, null);
  }

  public TransformerModel model() {
    return model;
  }

  public HfTokenizer tokenizer() {
    return tokenizer;
  }

  /** Union of config.json's, generation_config.json's and the tokenizer's eos ids. */
  public int[] eosTokenIds() {
    return eosTokenIds.clone();
  }

  /** A policy over this model with its own, empty KV cache. */
  public TransformerPolicy newPolicy() {
    return newPolicy(KvCache.DEFAULT_BLOCK_SIZE, TransformerPolicy.MAX_PREFILL_TOKENS);
  }

  /**
   * A policy with a KV cache of {@code blockSize}-token blocks that prefills at most {@code
   * maxPrefillTokens} new tokens per forward pass (bounding activation memory).
   */
  public TransformerPolicy newPolicy(int blockSize, int maxPrefillTokens) {
    return new TransformerPolicy(this, new KvCache(model, blockSize, 64), maxPrefillTokens);
  }

  /**
   * Saves in HF layout: config.json, model.safetensors (weights in {@code dtype}), tokenizer files
   * and generation_config.json when there was one, so transformers can load the result.
   */
  public void save(Path dir, StorageType dtype) throws IOException {
    model.save(dir, dtype);
    saveSideFiles(dir);
  }

  /**
   * As {@link #save}, with the attached LoRA adapter merged into the weights ({@link
   * TransformerModel#saveMerged}): an ordinary HF model directory.
   */
  public void saveMerged(Path dir, StorageType dtype) throws IOException {
    model.saveMerged(dir, dtype);
    saveSideFiles(dir);
  }

  private void saveSideFiles(Path dir) throws IOException {
    tokenizer.save(dir);
    if (generationConfig != null) {
      Files.write(dir.resolve(GENERATION_CONFIG), generationConfig);
    }
  }

  @Override
  public void close() {
    model.close();
    tokenizer.close();
  }

  private static int[] eosIds(ModelConfig config, HfTokenizer tokenizer, byte[] generationConfig) {
    Set<Integer> ids = new LinkedHashSet<>();
    for (int id : config.eosTokenIds()) {
      ids.add(id);
    }
    if (generationConfig != null) {
      try {
        JsonNode gen = new ObjectMapper().readTree(generationConfig);
        for (int id : ModelConfig.intList(gen, "eos_token_id")) {
          ids.add(id);
        }
      } catch (IOException e) {
        throw new IllegalArgumentException(
            GENERATION_CONFIG + " is not valid JSON: " + e.getMessage(), e);
      }
    }
    tokenizer.eosTokenId().ifPresent(ids::add);
    for (int id : ids) {
      if (id >= config.vocabSize()) {
        throw new IllegalArgumentException(
            "eos token id " + id + " is outside the model's vocabulary of " + config.vocabSize());
      }
    }
    return ids.stream().mapToInt(Integer::intValue).toArray();
  }
}
