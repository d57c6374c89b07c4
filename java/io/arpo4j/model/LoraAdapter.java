package io.arpo4j.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Low-rank adapters (LoRA) on a {@link TransformerModel}'s decoder projections, in Hugging Face
 * PEFT's format: each targeted projection computes {@code W x + s B(A(dropout(x)))} with A [r, in]
 * initialised Kaiming-uniform (a = sqrt 5, i.e. U(-1/sqrt(in), 1/sqrt(in)), nn.Linear's default), B
 * [out, r] zeros, so a fresh adapter leaves the model unchanged. The adapter's tensors are fp32 on
 * the model's device whatever the base's dtype; they are what an optimizer trains while the base
 * stays frozen.
 *
 * <p>{@link #save} writes {@code adapter_config.json} and {@code adapter_model.safetensors} with
 * PEFT's keys ({@code base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight}) and config
 * fields, and {@link #load} reads such a directory written by PEFT. Attach an adapter with {@link
 * TransformerModel#attach}; the model then owns it.
 */
public final class LoraAdapter implements AutoCloseable {
  public static final String CONFIG_FILE = "adapter_config.json";
  public static final String WEIGHTS_FILE = "adapter_model.safetensors";

  /** PeftModel's prefix of the base model's parameter names. */
  private static final String KEY_PREFIX = "base_model.model.";

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final LoraConfig config;
  private final String baseModel;
  private final int layers;
  private final Tensor[][] a; // [layer][projection], null where not targeted
  private final Tensor[][] b;
  private final Map<String, Tensor> tensors; // PEFT key -> tensor, layer by layer, A before B
  private final double scaling;

  private LoraAdapter(
      LoraConfig config, String baseModel, ModelConfig model, Map<String, Tensor> tensors) {
    this.config = config;
    this.baseModel = baseModel;
    this.layers = model.numLayers();
    this.a = new Tensor[layers][LoraConfig.PROJECTIONS.size()];
    this.b = new Tensor[layers][LoraConfig.PROJECTIONS.size()];
    for (int i = 0; i < layers; i++) {
      for (int p = 0; p < LoraConfig.PROJECTIONS.size(); p++) {
        String module = module(i, p);
        a[i][p] = tensors.get(key(module, "lora_A"));
        b[i][p] = tensors.get(key(module, "lora_B"));
      }
    }
    tensors.values().forEach(Tensor::retainReference);
    this.tensors = Collections.unmodifiableMap(tensors);
    this.scaling = config.scaling();
  }

  /**
   * A fresh adapter for {@code model}: A drawn from a CPU generator seeded with {@code seed}, B
   * zeros.
   *
   * @param baseModel what {@code base_model_name_or_path} records (a directory or hub name)
   */
  public static LoraAdapter create(
      TransformerModel model, LoraConfig config, long seed, String baseModel) {
    Map<String, long[]> shapes = shapes(model, config);
    try (PointerScope scope = new PointerScope();
        NoGradGuard noGrad = new NoGradGuard()) {
      Generator generator = torch.createCPUGenerator(seed);
      TensorOptions f32 = new TensorOptions().dtype(new ScalarTypeOptional(ScalarType.Float));
      Map<String, Tensor> tensors = new LinkedHashMap<>();
      for (Map.Entry<String, long[]> e : shapes.entrySet()) {
        long[] shape = e.getValue();
        Tensor cpu;
        if (e.getKey().endsWith(".lora_A.weight")) {
          double bound = 1.0 / Math.sqrt(shape[1]); // kaiming_uniform_(a=sqrt(5)) on [r, in]
          cpu =
              torch
                  .empty(shape, f32, new org.bytedeco.pytorch.MemoryFormatOptional())
                  .uniform_(-bound, bound, new GeneratorOptional(generator));
        } else {
          cpu = torch.zeros(shape, f32);
        }
        tensors.put(e.getKey(), cpu.to(model.runtime().torchDevice(), ScalarType.Float));
      }
      return new LoraAdapter(config, baseModel, model.config(), tensors);
    }
  }

  /**
   * The base model a PEFT adapter directory records ({@code base_model_name_or_path}), or null when
   * it records none.
   */
  public static String baseModelOf(Path dir) throws IOException {
    Path configFile = dir.resolve(CONFIG_FILE);
    try {
      return baseModelOf(JSON.readTree(configFile.toFile()));
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(configFile + " is not valid JSON: " + e.getMessage(), e);
    }
  }

  private static String baseModelOf(JsonNode config) {
    JsonNode base = config.path("base_model_name_or_path");
    return base.isTextual() && !base.asText().isBlank() ? base.asText() : null;
  }

  /**
   * Reads a PEFT LoRA directory ({@value #CONFIG_FILE} + {@value #WEIGHTS_FILE}) for {@code model},
   * checking the config and every tensor's name and shape before any tensor is read. Settings that
   * change the computation and that this class does not implement (DoRA, biases, fan_in_fan_out,
   * per-module ranks, layer subsets, modules_to_save, regular-expression targets) are refused.
   */
  public static LoraAdapter load(Path dir, TransformerModel model) throws IOException {
    Path configFile = dir.resolve(CONFIG_FILE);
    Path weightsFile = dir.resolve(WEIGHTS_FILE);
    if (!Files.isRegularFile(configFile)) {
      throw new IllegalArgumentException("adapter directory " + dir + " has no " + CONFIG_FILE);
    }
    if (!Files.isRegularFile(weightsFile)) {
      throw new IllegalArgumentException(
          "adapter directory "
              + dir
              + " has no "
              + WEIGHTS_FILE
              + (Files.exists(dir.resolve("adapter_model.bin"))
                  ? " (only adapter_model.bin, a pickle: save with safe_serialization=True)"
                  : ""));
    }
    JsonNode json;
    try {
      json = JSON.readTree(configFile.toFile());
    } catch (IOException e) {
      throw new IllegalArgumentException(configFile + " is not valid JSON: " + e.getMessage(), e);
    }
    LoraConfig config = parseConfig(configFile, json);
    String base = baseModelOf(json);
    Map<String, long[]> expected = shapes(model, config);
    try (SafetensorsFile file = SafetensorsFile.open(weightsFile);
        PointerScope scope = new PointerScope()) {
      List<String> problems = new ArrayList<>();
      for (Map.Entry<String, long[]> e : expected.entrySet()) {
        SafetensorsFile.Entry entry = file.entries().get(e.getKey());
        if (entry == null) {
          problems.add("missing " + e.getKey());
        } else if (!Arrays.equals(entry.shape(), e.getValue())) {
          problems.add(
              e.getKey()
                  + " is "
                  + Arrays.toString(entry.shape())
                  + ", expected "
                  + Arrays.toString(e.getValue()));
        } else if (entry.type() != StorageType.F32
            && entry.type() != StorageType.BF16
            && entry.type() != StorageType.F16) {
          problems.add(e.getKey() + " has dtype " + entry.type() + ", not a float type");
        }
      }
      for (String name : file.entries().keySet()) {
        if (!expected.containsKey(name)) problems.add("unexpected " + name);
      }
      if (!problems.isEmpty()) {
        int shown = Math.min(problems.size(), 6);
        throw new IllegalArgumentException(
            weightsFile
                + " does not match "
                + CONFIG_FILE
                + " and the model: "
                + String.join("; ", problems.subList(0, shown))
                + (problems.size() > shown ? "; ... (" + problems.size() + " in all)" : ""));
      }
      Map<String, Tensor> tensors = new LinkedHashMap<>();
      for (String name : expected.keySet()) {
        Tensor t = file.read(name).to(model.runtime().torchDevice(), ScalarType.Float);
        if (!torch.isfinite(t).all().item_bool()) {
          throw new IllegalArgumentException(weightsFile + ": " + name + " has non-finite values");
        }
        tensors.put(name, t.contiguous());
      }
      return new LoraAdapter(config, base, model.config(), tensors);
    }
  }

  private static LoraConfig parseConfig(Path file, JsonNode json) {
    String peftType = json.path("peft_type").asText("");
    if (!peftType.equals("LORA")) {
      throw new IllegalArgumentException(
          file + ": peft_type is '" + peftType + "', only LORA adapters are supported");
    }
    refuseUnless(file, json, "bias", "none");
    refuseTrue(file, json, "fan_in_fan_out");
    refuseTrue(file, json, "use_dora");
    for (String field : List.of("rank_pattern", "alpha_pattern")) {
      JsonNode n = json.get(field);
      if (n != null && !n.isNull() && n.size() > 0) {
        throw new IllegalArgumentException(
            file + ": " + field + " (per-module ranks or alphas) is not supported");
      }
    }
    for (String field : List.of("layers_to_transform", "modules_to_save", "layer_replication")) {
      JsonNode n = json.get(field);
      if (n != null && !n.isNull() && !(n.isArray() && n.isEmpty())) {
        throw new IllegalArgumentException(file + ": " + field + " is not supported");
      }
    }
    JsonNode r = json.get("r");
    JsonNode alpha = json.get("lora_alpha");
    if (r == null || !r.canConvertToInt() || alpha == null || !alpha.isNumber()) {
      throw new IllegalArgumentException(file + ": r (an integer) and lora_alpha are required");
    }
    JsonNode targets = json.get("target_modules");
    List<String> modules = new ArrayList<>();
    if (targets != null && targets.isArray()) {
      targets.forEach(t -> modules.add(t.asText()));
    } else if (targets != null && targets.isTextual()) {
      if (!targets.asText().equals(LoraConfig.ALL_LINEAR)) {
        throw new IllegalArgumentException(
            file
                + ": target_modules is a regular expression ('"
                + targets.asText()
                + "'); only a list of module names or all-linear is supported");
      }
      modules.add(LoraConfig.ALL_LINEAR);
    } else {
      throw new IllegalArgumentException(
          file + ": target_modules must be a list of module names or all-linear");
    }
    try {
      return new LoraConfig(
          r.asInt(),
          alpha.asDouble(),
          json.path("lora_dropout").asDouble(0.0),
          modules,
          json.path("use_rslora").asBoolean(false));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
  }

  private static void refuseUnless(Path file, JsonNode json, String field, String allowed) {
    JsonNode n = json.get(field);
    if (n != null && !n.isNull() && !n.asText().equals(allowed)) {
      throw new IllegalArgumentException(
          file + ": " + field + " is '" + n.asText() + "', only '" + allowed + "' is supported");
    }
  }

  private static void refuseTrue(Path file, JsonNode json, String field) {
    if (json.path(field).asBoolean(false)) {
      throw new IllegalArgumentException(file + ": " + field + " = true is not supported");
    }
  }

  /**
   * The PEFT key -> shape of every adapter tensor {@code config} puts on {@code model}; every
   * target must match at least one projection.
   */
  private static Map<String, long[]> shapes(TransformerModel model, LoraConfig config) {
    Map<String, long[]> out = new LinkedHashMap<>();
    Set<String> unmatched = new LinkedHashSet<>(config.targetModules());
    for (int i = 0; i < model.config().numLayers(); i++) {
      for (int p = 0; p < LoraConfig.PROJECTIONS.size(); p++) {
        String module = module(i, p);
        if (!config.targets(module)) continue;
        unmatched.removeIf(
            t -> t.equals(LoraConfig.ALL_LINEAR) || module.equals(t) || module.endsWith("." + t));
        Tensor w = model.parameters().get(module + ".weight");
        out.put(key(module, "lora_A"), new long[] {config.r(), w.size(1)});
        out.put(key(module, "lora_B"), new long[] {w.size(0), config.r()});
      }
    }
    if (!unmatched.isEmpty()) {
      throw new IllegalArgumentException(
          "lora target_modules "
              + unmatched
              + " match no decoder projection (LoRA applies to "
              + String.join(", ", LoraConfig.PROJECTIONS)
              + ")");
    }
    return out;
  }

  /**
   * The HF name of projection {@code p} of layer {@code layer}, e.g. model.layers.0.mlp.up_proj.
   */
  static String module(int layer, int p) {
    String name = LoraConfig.PROJECTIONS.get(p);
    return ParameterLayout.layerPrefix(layer) + (p < 4 ? "self_attn." : "mlp.") + name;
  }

  private static String key(String module, String part) {
    return KEY_PREFIX + module + "." + part + ".weight";
  }

  public LoraConfig config() {
    return config;
  }

  /** {@code base_model_name_or_path}; null when unknown. */
  public String baseModel() {
    return baseModel;
  }

  /** The adapter's tensors by PEFT key (what an optimizer trains and {@link #save} writes). */
  public Map<String, Tensor> parameters() {
    return tensors;
  }

  /** Whether this adapter was built for a model with {@code config}'s layers. */
  boolean fits(ModelConfig model) {
    return model.numLayers() == layers;
  }

  /**
   * {@code y + s B(A(dropout(x)))} for projection {@code p} of layer {@code layer}, where {@code y}
   * is the base projection of {@code x}; {@code y} itself where the projection has no adapter.
   * Dropout applies only while training: autograd records and the adapter requires grad.
   */
  Tensor apply(int layer, int p, Tensor x, Tensor y) {
    Tensor down = a[layer][p];
    if (down == null) return y;
    ScalarType type = x.scalar_type();
    Tensor in =
        config.dropout() > 0 && GradMode.is_enabled() && down.requires_grad()
            ? torch.dropout(x, config.dropout(), true)
            : x;
    Tensor delta = torch.linear(torch.linear(in, down.to(type)), b[layer][p].to(type));
    return y.add(delta.mul(new Scalar(scaling)));
  }

  /**
   * {@code base} (HF names) with each targeted weight replaced by {@code W + s B A}, computed in
   * fp32 and stored in W's dtype; the other tensors are {@code base}'s own.
   */
  Map<String, Tensor> merged(Map<String, Tensor> base) {
    Map<String, Tensor> out = new LinkedHashMap<>(base);
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (int i = 0; i < layers; i++) {
        for (int p = 0; p < LoraConfig.PROJECTIONS.size(); p++) {
          if (a[i][p] == null) continue;
          String name = module(i, p) + ".weight";
          Tensor w = base.get(name);
          Tensor delta = b[i][p].detach().mm(a[i][p].detach()).mul(new Scalar(scaling));
          out.put(name, w.detach().to(ScalarType.Float).add(delta).to(w.scalar_type()));
        }
      }
    }
    return out;
  }

  /**
   * Writes {@value #CONFIG_FILE} (PEFT's LoraConfig fields) and {@value #WEIGHTS_FILE} (fp32,
   * PEFT's keys) into {@code dir}.
   */
  public void save(Path dir) throws IOException {
    Files.createDirectories(dir);
    try (PointerScope scope = new PointerScope()) {
      Map<String, Tensor> detached = new LinkedHashMap<>();
      tensors.forEach((k, t) -> detached.put(k, t.detach()));
      SafetensorsWriter.write(dir.resolve(WEIGHTS_FILE), detached, Map.of("format", "pt"));
    }
    JSON.writeValue(dir.resolve(CONFIG_FILE).toFile(), configJson());
  }

  /** adapter_config.json as PEFT's LoraConfig.to_dict() writes it for these settings. */
  private ObjectNode configJson() {
    ObjectNode json = JSON.createObjectNode();
    json.putObject("alpha_pattern");
    json.putNull("auto_mapping");
    if (baseModel == null) {
      json.putNull("base_model_name_or_path");
    } else {
      json.put("base_model_name_or_path", baseModel);
    }
    json.put("bias", "none");
    json.put("fan_in_fan_out", false);
    json.put("inference_mode", true);
    json.put("init_lora_weights", true);
    json.putNull("layer_replication");
    json.putNull("layers_pattern");
    json.putNull("layers_to_transform");
    if (config.alpha() == Math.rint(config.alpha())) {
      json.put("lora_alpha", (long) config.alpha()); // PEFT's field is an int
    } else {
      json.put("lora_alpha", config.alpha());
    }
    json.put("lora_dropout", config.dropout());
    json.putNull("modules_to_save");
    json.put("peft_type", "LORA");
    json.put("r", config.r());
    json.putObject("rank_pattern");
    json.putNull("revision");
    if (config.targetModules().equals(List.of(LoraConfig.ALL_LINEAR))) {
      json.put("target_modules", LoraConfig.ALL_LINEAR);
    } else {
      ArrayNode targets = json.putArray("target_modules");
      config.targetModules().forEach(targets::add);
    }
    json.put("task_type", "CAUSAL_LM");
    json.put("use_dora", false);
    json.put("use_rslora", config.useRslora());
    return json;
  }

  @Override
  public void close() {
    tensors.values().forEach(Tensor::releaseReference);
  }
}
