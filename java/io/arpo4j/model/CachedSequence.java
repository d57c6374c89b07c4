package io.arpo4j.model;

import java.util.Arrays;

/**
 * A token sequence whose keys and values live in a {@link KvCache}: all its tokens, the table of
 * cache blocks holding them, and how many of them are already cached (the rest are pending and get
 * computed by the next forward pass). Created, forked and freed through its cache.
 */
public final class CachedSequence implements Sequence {

  private final KvCache cache;
  private int[] tokens;
  private int length;
  private int[] blocks;
  private int blockCount;
  private int cached;
  private boolean freed;
  private final int tableRow;

  CachedSequence(KvCache cache, int[] tokens, int tableRow) {
    this.cache = cache;
    this.tableRow = tableRow;
    this.tokens = Arrays.copyOf(tokens, Math.max(16, tokens.length * 2));
    this.length = tokens.length;
    this.blocks = new int[8];
  }

  /**
   * A child holding {@code parent}'s first {@code length} tokens, of which the first {@code cached}
   * are cached, in the parent's blocks that hold them (the cache adjusts their reference counts and
   * fills the child's table row).
   */
  CachedSequence(CachedSequence parent, int length, int cached, int tableRow) {
    this.cache = parent.cache;
    this.tableRow = tableRow;
    this.tokens = Arrays.copyOf(parent.tokens, parent.tokens.length);
    this.length = length;
    this.blocks = Arrays.copyOf(parent.blocks, parent.blocks.length);
    this.blockCount = (cached + cache.blockSize() - 1) / cache.blockSize();
    this.cached = cached;
  }

  @Override
  public int length() {
    return length;
  }

  @Override
  public int[] tokens() {
    return Arrays.copyOf(tokens, length);
  }

  public int token(int index) {
    if (index < 0 || index >= length) {
      throw new IndexOutOfBoundsException("token index " + index + " outside [0, " + length + ")");
    }
    return tokens[index];
  }

  /** Tokens whose keys and values are in the cache. */
  public int cachedLength() {
    return cached;
  }

  /** Tokens still to be run through the model. */
  public int pendingLength() {
    return length - cached;
  }

  public boolean isFreed() {
    return freed;
  }

  KvCache cache() {
    return cache;
  }

  void appendTokens(int[] more) {
    if (length + more.length > tokens.length) {
      tokens = Arrays.copyOf(tokens, Math.max(tokens.length * 2, length + more.length));
    }
    System.arraycopy(more, 0, tokens, length, more.length);
    length += more.length;
  }

  /** This sequence's row of the cache's block table. */
  int tableRow() {
    return tableRow;
  }

  int blockCount() {
    return blockCount;
  }

  int block(int index) {
    return blocks[index];
  }

  void setBlock(int index, int block) {
    blocks[index] = block;
  }

  void addBlock(int block) {
    if (blockCount == blocks.length) {
      blocks = Arrays.copyOf(blocks, blocks.length * 2);
    }
    blocks[blockCount++] = block;
  }

  void markCached(int count) {
    cached += count;
  }

  /** Drops the block table; the cache has already released the blocks. */
  void markFreed() {
    freed = true;
    blockCount = 0;
  }
}
