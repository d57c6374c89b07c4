package io.arpo4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The architecture described by a Hugging Face {@code config.json}, for the decoder-only families
 * this runtime reproduces: {@code qwen2} (Qwen2, Qwen2.5), {@code qwen3} and {@code llama}.
 *
 * <p>Defaults for absent keys are those of the matching transformers config class. Anything the
 * runtime cannot reproduce exactly (another model type, sliding-window attention, a rope scaling
 * other than none/linear/llama3, an activation other than SiLU, quantization) is rejected with an
 * {@link IllegalArgumentException} naming the key and value.
 *
 * @param modelType {@code qwen2}, {@code qwen3} or {@code llama}
 * @param headDim per-head width; may differ from hiddenSize / numHeads (Qwen3)
 * @param qkvBias whether q/k/v projections carry a bias
 * @param outputBias whether o_proj carries a bias
 * @param mlpBias whether gate/up/down projections carry a bias
 * @param qkNorm whether q and k are RMS-normalised per head before rotary (Qwen3)
 * @param eosTokenIds end-of-sequence ids from config.json (may be empty)
 * @param json the parsed file, kept so that saving writes back every key the model was read with
 */
public record ModelConfig(
    String modelType,
    int vocabSize,
    int hiddenSize,
    int intermediateSize,
    int numLayers,
    int numHeads,
    int numKvHeads,
    int headDim,
    double rmsNormEps,
    RopeConfig rope,
    int maxPositionEmbeddings,
    boolean tieWordEmbeddings,
    boolean qkvBias,
    boolean outputBias,
    boolean mlpBias,
    boolean qkNorm,
    int[] eosTokenIds,
    ObjectNode json) {

  /** The model types this runtime implements. */
  public static final Set<String> SUPPORTED_MODEL_TYPES = Set.of("qwen2", "qwen3", "llama");

  /** More decoder layers than any published model has; larger values are typos or hostile input. */
  public static final int MAX_LAYERS = 1024;

  /** 2^40 (about 1.1 trillion) parameters: checked before any tensor is allocated. */
  public static final long MAX_PARAMETERS = 1L << 40;

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Reads {@code dir/config.json}. */
  public static ModelConfig load(Path dir) throws IOException {
    Path file = dir.resolve("config.json");
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("no config.json in model directory " + dir);
    }
    JsonNode node;
    try {
      node = JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new IllegalArgumentException(file + " is not valid JSON: " + e.getMessage(), e);
    }
    try {
      return fromJson(node);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
  }

  /** Parses a config.json tree; fails with a message naming the offending key. */
  public static ModelConfig fromJson(JsonNode node) {
    if (node == null || !node.isObject()) {
      throw new IllegalArgumentException("config.json must be a JSON object");
    }
    ObjectNode json = ((ObjectNode) node).deepCopy();
    String modelType = text(json, "model_type", null);
    if (modelType == null) {
      throw new IllegalArgumentException("config.json has no model_type");
    }
    if (!SUPPORTED_MODEL_TYPES.contains(modelType)) {
      throw new IllegalArgumentException(
          "unsupported model_type '" + modelType + "'; supported: qwen2, qwen3, llama");
    }
    rejectUnsupportedOptions(json, modelType);

    int hidden = positiveInt(json, "hidden_size", null);
    int heads = positiveInt(json, "num_attention_heads", null);
    int kvHeads = positiveInt(json, "num_key_value_heads", heads);
    if (heads % kvHeads != 0) {
      throw new IllegalArgumentException(
          "num_attention_heads ("
              + heads
              + ") must be a multiple of num_key_value_heads ("
              + kvHeads
              + ")");
    }
    Integer explicitHeadDim =
        json.hasNonNull("head_dim") ? positiveInt(json, "head_dim", null) : null;
    int headDim;
    if (explicitHeadDim != null) {
      headDim = explicitHeadDim;
    } else if (modelType.equals("qwen3")) {
      headDim = 128; // Qwen3Config's default; real Qwen3 configs always spell it out
    } else {
      if (hidden % heads != 0) {
        throw new IllegalArgumentException(
            "hidden_size ("
                + hidden
                + ") is not divisible by num_attention_heads ("
                + heads
                + ") and no head_dim is given");
      }
      headDim = hidden / heads;
    }
    if (headDim % 2 != 0) {
      throw new IllegalArgumentException(
          "head_dim must be even for rotary embeddings, got " + headDim);
    }
    boolean attentionBias = bool(json, "attention_bias", false);
    boolean qkvBias = modelType.equals("qwen2") || attentionBias;
    boolean outputBias = !modelType.equals("qwen2") && attentionBias;
    boolean mlpBias = modelType.equals("llama") && bool(json, "mlp_bias", false);
    int layers = positiveInt(json, "num_hidden_layers", null);
    if (layers > MAX_LAYERS) {
      throw new IllegalArgumentException(
          "num_hidden_layers "
              + layers
              + " is more than the "
              + MAX_LAYERS
              + " this runtime accepts (the largest published models have about 130)");
    }
    ModelConfig config =
        new ModelConfig(
            modelType,
            positiveInt(json, "vocab_size", null),
            hidden,
            positiveInt(json, "intermediate_size", null),
            layers,
            heads,
            kvHeads,
            headDim,
            positiveDouble(json, "rms_norm_eps", 1e-6),
            RopeConfig.fromJson(json),
            positiveInt(json, "max_position_embeddings", 32768),
            bool(json, "tie_word_embeddings", false),
            qkvBias,
            outputBias,
            mlpBias,
            modelType.equals("qwen3"),
            intList(json, "eos_token_id"),
            json);
    if (config.parameterCount() > MAX_PARAMETERS) {
      throw new IllegalArgumentException(
          String.format(
              java.util.Locale.ROOT,
              "config.json describes %.3g parameters, more than the %.3g this runtime accepts"
                  + " (check hidden_size, intermediate_size, vocab_size and num_hidden_layers)",
              config.parameterEstimate(),
              (double) MAX_PARAMETERS));
    }
    return config;
  }

  /**
   * The number of parameters this config implies, computed without allocating anything (in double
   * arithmetic, so absurd configs saturate at {@link Long#MAX_VALUE} instead of overflowing).
   */
  public long parameterCount() {
    double total = parameterEstimate();
    return total >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) total;
  }

  private double parameterEstimate() {
    double h = hiddenSize;
    double q = (double) numHeads * headDim;
    double kv = (double) numKvHeads * headDim;
    double inter = intermediateSize;
    double perLayer =
        2 * h // input and post-attention norms
            + q * h
            + 2 * kv * h
            + h * q
            + 3 * inter * h
            + (qkvBias ? q + 2 * kv : 0)
            + (outputBias ? h : 0)
            + (mlpBias ? 2 * inter + h : 0)
            + (qkNorm ? 2.0 * headDim : 0);
    return perLayer * numLayers + (double) vocabSize * h * (tieWordEmbeddings ? 1 : 2) + h;
  }

  /** The config as JSON, ready to be written as config.json. */
  public ObjectNode toJson() {
    return json.deepCopy();
  }

  /** Query heads per key/value head. */
  public int groupSize() {
    return numHeads / numKvHeads;
  }

  private static void rejectUnsupportedOptions(ObjectNode json, String modelType) {
    String act = text(json, "hidden_act", "silu");
    if (!act.equals("silu")) {
      throw new IllegalArgumentException(
          "unsupported hidden_act '" + act + "'; only silu is implemented");
    }
    if (bool(json, "use_sliding_window", false)) {
      throw new IllegalArgumentException(
          "unsupported option use_sliding_window=true ("
              + modelType
              + "); only full attention is implemented");
    }
    if (json.hasNonNull("quantization_config")) {
      throw new IllegalArgumentException(
          "unsupported option quantization_config: quantized checkpoints are not implemented");
    }
    if (json.has("pretraining_tp") && json.get("pretraining_tp").asInt(1) < 1) {
      throw new IllegalArgumentException("pretraining_tp must be >= 1");
    }
  }

  static String text(JsonNode json, String key, String fallback) {
    JsonNode v = json.get(key);
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (!v.isTextual()) {
      throw new IllegalArgumentException(key + " must be a string, got " + v);
    }
    return v.asText();
  }

  static int positiveInt(JsonNode json, String key, Integer fallback) {
    JsonNode v = json.get(key);
    if (v == null || v.isNull()) {
      if (fallback == null) {
        throw new IllegalArgumentException("config.json is missing " + key);
      }
      return fallback;
    }
    if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() <= 0) {
      throw new IllegalArgumentException(key + " must be a positive integer, got " + v);
    }
    return v.asInt();
  }

  static double positiveDouble(JsonNode json, String key, double fallback) {
    JsonNode v = json.get(key);
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (!v.isNumber() || !(v.asDouble() > 0) || !Double.isFinite(v.asDouble())) {
      throw new IllegalArgumentException(key + " must be a positive number, got " + v);
    }
    return v.asDouble();
  }

  static boolean bool(JsonNode json, String key, boolean fallback) {
    JsonNode v = json.get(key);
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (!v.isBoolean()) {
      throw new IllegalArgumentException(key + " must be true or false, got " + v);
    }
    return v.asBoolean();
  }

  /** An int, a list of ints, or null (empty). */
  static int[] intList(JsonNode json, String key) {
    JsonNode v = json.get(key);
    List<Integer> out = new ArrayList<>();
    if (v == null || v.isNull()) {
      return new int[0];
    }
    if (v.isArray()) {
      v.forEach(e -> out.add(checkedId(key, e)));
    } else {
      out.add(checkedId(key, v));
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  private static int checkedId(String key, JsonNode v) {
    if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0) {
      throw new IllegalArgumentException(key + " must hold non-negative integers, got " + v);
    }
    return v.asInt();
  }
}
