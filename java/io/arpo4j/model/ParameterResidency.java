package io.arpo4j.model;

/**
 * Where a model's parameters are between uses when the data-parallel ranks shard them (ZeRO-3,
 * {@code distributed.sharding: full}): each block's parameters exist only while it is gathered and
 * are freed after. Block {@code i < numLayers} is decoder layer i; {@link #outer} names the
 * embeddings, final norm and LM head. Gathers are counted: only the first of nested gathers
 * communicates and only the last release frees, so every rank must make the same calls in the same
 * order.
 */
public interface ParameterResidency {
  /** The block of the embeddings, final norm and LM head: one past the last decoder layer. */
  int outer();

  /** Makes the block's parameters present (an all-gather unless already gathered). */
  void gather(int block);

  /** Undoes one {@link #gather}; the last one frees the block's parameters. */
  void release(int block);

  /**
   * After the block's backward: its gradients go to the ranks that own them (a reduce-scatter) and
   * leave the parameters; then {@link #release}.
   */
  void reduceGradients(int block);

  /** Whether the block's parameters are present now. */
  boolean isGathered(int block);
}
