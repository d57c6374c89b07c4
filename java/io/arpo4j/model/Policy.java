package io.arpo4j.model;

import java.util.List;

/**
 * What the rollout tree needs from a language model: sequences in a KV cache that can be forked
 * (sharing their prefix) and extended, and one batched decode step at a time. Implemented by the
 * transformer runtime and, in tests, by scripted fakes.
 */
public interface Policy extends AutoCloseable {

  int vocabSize();

  /** Token ids that end generation. */
  int[] eosTokenIds();

  TextCodec codec();

  /** A new sequence holding {@code prompt}; it is prefilled lazily by the next {@link #step}. */
  Sequence newSequence(int[] prompt);

  /** A child sharing the parent's tokens and KV cache; the two diverge from here on. O(blocks). */
  Sequence fork(Sequence parent);

  /**
   * A child holding the parent's first {@code length} tokens, sharing their cached keys and values;
   * its last token is computed again by its first step, which samples what follows the prefix.
   * Copies nothing; no forward pass.
   *
   * @throws IllegalArgumentException unless {@code 1 <= length <= parent.length()}
   */
  Sequence fork(Sequence parent, int length);

  /** Appends tokens (e.g. a tool result); only they are prefilled, by the next {@link #step}. */
  void append(Sequence sequence, int[] tokens);

  /**
   * Prefills what each sequence has pending, then samples one next token per sequence in one batch
   * and appends it. Result {@code i} belongs to {@code sequences.get(i)}.
   */
  List<SampledToken> step(List<Sequence> sequences, SamplingParams sampling, long seed, long step);

  /** Returns the sequence's KV blocks (those not shared with a live relative) to the pool. */
  void free(Sequence sequence);

  @Override
  default void close() {}
}
