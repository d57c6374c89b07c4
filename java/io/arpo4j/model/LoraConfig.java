package io.arpo4j.model;

import java.util.List;

/**
 * The settings of a LoRA adapter, as Hugging Face PEFT names them in {@code adapter_config.json}:
 * each targeted projection computes {@code W x + s B A x} with A [r, in], B [out, r] and {@code s =
 * alpha / r} ({@code alpha / sqrt(r)} under rsLoRA).
 *
 * @param r the adapter rank ({@code r})
 * @param alpha {@code lora_alpha}
 * @param dropout {@code lora_dropout}: dropout on the adapter's input while training
 * @param targetModules {@code target_modules}: projection names matched as PEFT does (a module's
 *     name equals an entry or ends with "." + entry), or one entry {@code all-linear}
 * @param useRslora {@code use_rslora}: scale by alpha / sqrt(r)
 */
public record LoraConfig(
    int r, double alpha, double dropout, List<String> targetModules, boolean useRslora) {

  /** The projections of a decoder layer, in the order the forward pass runs them. */
  public static final List<String> PROJECTIONS =
      List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

  /** PEFT's shorthand for every linear layer but the output head. */
  public static final String ALL_LINEAR = "all-linear";

  public LoraConfig {
    if (r <= 0) throw new IllegalArgumentException("lora r must be > 0, got " + r);
    if (!(alpha > 0) || Double.isInfinite(alpha)) {
      throw new IllegalArgumentException("lora alpha must be > 0, got " + alpha);
    }
    if (!(dropout >= 0 && dropout < 1)) {
      throw new IllegalArgumentException("lora dropout must lie in [0, 1), got " + dropout);
    }
    if (targetModules == null || targetModules.isEmpty()) {
      throw new IllegalArgumentException("lora target_modules must name at least one projection");
    }
    targetModules = List.copyOf(targetModules);
  }

  /** The factor of the adapter's output. */
  public double scaling() {
    return useRslora ? alpha / Math.sqrt(r) : alpha / r;
  }

  /**
   * Whether the projection {@code module} (its full name, e.g. {@code
   * model.layers.0.self_attn.q_proj}) carries an adapter, by PEFT's rule for a list of targets.
   */
  public boolean targets(String module) {
    for (String t : targetModules) {
      if (t.equals(ALL_LINEAR) || module.equals(t) || module.endsWith("." + t)) return true;
    }
    return false;
  }
}
