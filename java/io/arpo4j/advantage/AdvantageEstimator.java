package io.arpo4j.advantage;

import java.util.Locale;

/** How rewards become per-trajectory advantages (ARPO.md §5–§6). */
public enum AdvantageEstimator {
  /** GRPO / ARPO: (r - group mean) / (group std + eps), unbiased std as verl. */
  GRPO,
  /**
   * REINFORCE++ with a group baseline: r - group mean, then whitened over the batch's valid tokens
   * (each trajectory weighted by its token count), as verl and OpenRLHF do.
   */
  REINFORCE_PLUS_PLUS,
  /**
   * Dr.GRPO: r - group mean, no division by the group's std (which favours easy and hard prompts).
   */
  DR_GRPO;

  public static AdvantageEstimator fromConfigName(String name) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "grpo" -> GRPO;
      case "reinforce++", "reinforce_plus_plus" -> REINFORCE_PLUS_PLUS;
      case "dr-grpo", "dr_grpo" -> DR_GRPO;
      default ->
          throw new IllegalArgumentException(
              "unknown advantage estimator '" + name + "' (expected grpo, reinforce++ or dr-grpo)");
    };
  }
}
