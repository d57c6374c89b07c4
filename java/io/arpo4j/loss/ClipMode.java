package io.arpo4j.loss;

import io.arpo4j.config.Registry;
import java.util.Locale;

/**
 * How the ratio clip of the policy loss treats the gradient of the tokens it bounds (AEPO.md §3).
 * The loss value and the clip fraction are PPO's in both modes.
 */
public enum ClipMode {
  /** PPO: a token whose clipped term is the active one has no gradient. */
  PPO,
  /**
   * Stop-gradient clipping (GPPO, CE-GPPO, AEPO): the clipped bound is written b·δ/sg(δ), so a
   * bounded token keeps the gradient weight b·coefficient ({@code loss.clip_grad_low} below 1 − ε_l
   * with a negative advantage, {@code loss.clip_grad_high} above 1 + ε_h with a positive one).
   */
  STOP_GRADIENT;

  /** The names {@code loss.clip_mode} may take: {@code ppo}, {@code stop_gradient}. */
  public static final Registry<ClipMode> REGISTRY = new Registry<>("loss.clip_mode");

  static {
    for (ClipMode m : values()) REGISTRY.register(m.configName(), m);
  }

  /** The name used in configs, e.g. {@code stop_gradient}. */
  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
