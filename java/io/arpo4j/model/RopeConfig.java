package io.arpo4j.model;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Rotary position embedding parameters: the base {@code rope_theta} and an optional scaling. Read
 * from {@code rope_scaling} (transformers 4.x) or {@code rope_parameters} (transformers 5).
 *
 * @param type {@link Type#DEFAULT}, {@link Type#LINEAR} or {@link Type#LLAMA3}
 * @param factor linear / llama3 factor (1 for default)
 * @param lowFreqFactor llama3 only
 * @param highFreqFactor llama3 only
 * @param originalMaxPositions llama3 only: the context length the base model was trained with
 */
public record RopeConfig(
    double theta,
    Type type,
    double factor,
    double lowFreqFactor,
    double highFreqFactor,
    int originalMaxPositions) {

  /** The rope variants implemented. */
  public enum Type {
    DEFAULT,
    LINEAR,
    LLAMA3
  }

  public static RopeConfig plain(double theta) {
    return new RopeConfig(theta, Type.DEFAULT, 1, 0, 0, 0);
  }

  static RopeConfig fromJson(JsonNode config) {
    if (config.hasNonNull("partial_rotary_factor")
        && config.get("partial_rotary_factor").asDouble() != 1.0) {
      throw new IllegalArgumentException(
          "unsupported option partial_rotary_factor="
              + config.get("partial_rotary_factor")
              + "; only full rotary is implemented");
    }
    JsonNode params = config.get("rope_parameters");
    JsonNode scaling = config.get("rope_scaling");
    double theta = ModelConfig.positiveDouble(config, "rope_theta", 10000.0);
    JsonNode spec = null;
    if (params != null && !params.isNull()) {
      if (!params.isObject()) {
        throw new IllegalArgumentException("rope_parameters must be an object, got " + params);
      }
      theta = ModelConfig.positiveDouble(params, "rope_theta", theta);
      spec = params;
    }
    if (scaling != null && !scaling.isNull()) {
      if (!scaling.isObject()) {
        throw new IllegalArgumentException(
            "rope_scaling must be an object or null, got " + scaling);
      }
      spec = scaling;
    }
    if (spec == null) {
      return plain(theta);
    }
    String type = ModelConfig.text(spec, "rope_type", ModelConfig.text(spec, "type", "default"));
    switch (type) {
      case "default":
        return plain(theta);
      case "linear":
        return new RopeConfig(
            theta, Type.LINEAR, ModelConfig.positiveDouble(spec, "factor", 1.0), 0, 0, 0);
      case "llama3":
        double factor = required(spec, "factor");
        double low = required(spec, "low_freq_factor");
        double high = required(spec, "high_freq_factor");
        if (!(high > low)) {
          throw new IllegalArgumentException(
              "rope_scaling: high_freq_factor ("
                  + high
                  + ") must exceed low_freq_factor ("
                  + low
                  + ")");
        }
        int original = ModelConfig.positiveInt(spec, "original_max_position_embeddings", null);
        return new RopeConfig(theta, Type.LLAMA3, factor, low, high, original);
      default:
        throw new IllegalArgumentException(
            "unsupported rope_scaling type '" + type + "'; supported: default, linear, llama3");
    }
  }

  private static double required(JsonNode spec, String key) {
    if (!spec.hasNonNull(key)) {
      throw new IllegalArgumentException("rope_scaling of type llama3 is missing " + key);
    }
    return ModelConfig.positiveDouble(spec, key, 1.0);
  }
}
