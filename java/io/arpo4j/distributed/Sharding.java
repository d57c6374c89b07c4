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
  GRADIENTS,
  /**
   * ZeRO-3: each rank also keeps only its 1/N of the parameters ({@link ParameterShards}): a
   * decoder block's weights are all-gathered before its forward and its recomputed backward
   * (gradient checkpointing) and freed after, and its gradients are reduce-scattered as the
   * backward passes it; AdamW steps the shard.
   */
  FULL;

  /** The stages {@code distributed.sharding} may name: each one's name in lower case. */
  public static final Registry<Sharding> REGISTRY = new Registry<>("distributed.sharding");

  static {
    for (Sharding s : values()) REGISTRY.register(s.name(), s);
  }

  /** The stage {@code name} names. */
  public static Sharding parse(String name) {
    return REGISTRY.get(name);
  }
}
