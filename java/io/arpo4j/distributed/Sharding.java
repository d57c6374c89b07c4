package io.arpo4j.distributed;

import io.arpo4j.config.Registry;

/**
 * What data-parallel ranks split between them instead of each holding a copy ({@code
 * distributed.sharding}), ZeRO's stages: see docs/distributed.md.
 */
public enum Sharding {
  /** Plain data parallelism: gradients all-reduced, every rank steps AdamW on all parameters. */
  NONE,
  /**
   * ZeRO-1: gradients all-reduced, each rank keeps AdamW's moments (and its fp32 step) for 1/N of
   * the flat parameter buffer only, steps that shard and all-gathers the weights.
   */
  OPTIMIZER,
  /**
   * ZeRO-2: as {@link #OPTIMIZER}, but the gradients are reduce-scattered, so each rank receives
   * (and keeps through the step) only its shard's summed gradient; the full gradients are freed.
   */
  GRADIENTS;

  /** The stages {@code distributed.sharding} may name: each one's name in lower case. */
  public static final Registry<Sharding> REGISTRY = new Registry<>("distributed.sharding");

  static {
    for (Sharding s : values()) REGISTRY.register(s.name(), s);
  }

  /**
   * The stage {@code name} names; {@code full} (ZeRO-3) is refused with a line saying it is not
   * built.
   */
  public static Sharding parse(String name) {
    if ("full".equalsIgnoreCase(name)) {
      throw new IllegalArgumentException(
          "distributed.sharding: full (ZeRO-3, per-block parameter sharding) is not built yet;"
              + " use optimizer or gradients (see docs/distributed.md)");
    }
    return REGISTRY.get(name);
  }
}
