package io.arpo4j.model;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Paged key/value cache. Per layer, keys and values live in one pool of fixed-size blocks ({@code
 * [capacityBlocks * blockSize, kvHeads, headDim]}); each sequence owns a table of block ids. Blocks
 * are reference counted, so {@link #fork} shares the parent's whole prefix by copying its block
 * table (O(blocks), no tensor copy). When a sequence then writes into a block another sequence
 * still uses, which can only be its partly filled last block, that block is copied first
 * (copy-on-write). The pool grows by doubling when it runs out of blocks.
 *
 * <p>Not thread-safe: one rollout driver uses it at a time.
 */
public final class KvCache implements AutoCloseable {

  public static final int DEFAULT_BLOCK_SIZE = 16;

  private final TransformerModel model;
  private final int blockSize;
  private final Tensor[] keys;
  private final Tensor[] values;
  private int capacityBlocks;
  private int[] refCounts;
  private final ArrayDeque<Integer> freeBlocks = new ArrayDeque<>();

  /**
   * Everything a batched forward over pending tokens needs, as tensors on the model's device.
   *
   * @param inputIds [B * T] new token ids, 0 in padding rows
   * @param positions [B * T] absolute positions
   * @param writeRows rows of the [B * T] new tokens that are real (null when none is padding)
   * @param writeSlots cache slot of each real new token, in row order
   * @param gatherSlots [B * L] cache slots of every key (null when nothing was cached before: then
   *     the new tokens are all the keys, L = T)
   * @param mask [B, 1, T, L] bool, true where a query may attend to a key (null: plain causal)
   * @param lastRows [B] row of each sequence's last new token
   */
  record Plan(
      int batch,
      int queryLength,
      int keyLength,
      Tensor inputIds,
      Tensor positions,
      Tensor writeRows,
      Tensor writeSlots,
      Tensor gatherSlots,
      Tensor mask,
      Tensor lastRows) {}

  public KvCache(TransformerModel model) {
    this(model, DEFAULT_BLOCK_SIZE, 64);
  }

  public KvCache(TransformerModel model, int blockSize, int initialBlocks) {
    if (blockSize <= 0 || initialBlocks <= 0) {
      throw new IllegalArgumentException(
          "blockSize and initialBlocks must be positive, got "
              + blockSize
              + " and "
              + initialBlocks);
    }
    this.model = model;
    this.blockSize = blockSize;
    int layers = model.config().numLayers();
    this.keys = new Tensor[layers];
    this.values = new Tensor[layers];
    this.capacityBlocks = 0;
    this.refCounts = new int[0];
    grow(initialBlocks);
  }

  public TransformerModel model() {
    return model;
  }

  public int blockSize() {
    return blockSize;
  }

  public int capacityBlocks() {
    return capacityBlocks;
  }

  /** Blocks referenced by at least one sequence. */
  public int usedBlocks() {
    return capacityBlocks - freeBlocks.size();
  }

  /** How many sequences share {@code seq}'s block number {@code index} (for tests and stats). */
  public int sharing(CachedSequence seq, int index) {
    return refCounts[seq.block(index)];
  }

  /** A new sequence holding {@code tokens}, all pending. */
  public CachedSequence newSequence(int[] tokens) {
    checkTokens(tokens, "tokens");
    if (tokens.length == 0) {
      throw new IllegalArgumentException("a sequence needs at least one token");
    }
    return new CachedSequence(this, tokens);
  }

  /** A child sharing every token and cached block of {@code parent}. Copies no tensor data. */
  public CachedSequence fork(CachedSequence parent) {
    checkLive(parent);
    CachedSequence child = new CachedSequence(parent);
    for (int i = 0; i < child.blockCount(); i++) {
      refCounts[child.block(i)]++;
    }
    return child;
  }

  /** Appends pending tokens (a tool result, a sampled token). */
  public void append(CachedSequence seq, int[] tokens) {
    checkLive(seq);
    checkTokens(tokens, "tokens");
    seq.appendTokens(tokens);
  }

  /** Releases the sequence's blocks; those no other sequence shares return to the pool. */
  public void free(CachedSequence seq) {
    checkOwned(seq);
    if (seq.isFreed()) {
      return;
    }
    for (int i = 0; i < seq.blockCount(); i++) {
      release(seq.block(i));
    }
    seq.markFreed();
  }

  Tensor keys(int layer) {
    return keys[layer];
  }

  Tensor values(int layer) {
    return values[layer];
  }

  /**
   * Prepares a forward over {@code counts[b]} pending tokens of each sequence: makes sure blocks
   * exist (copying a shared partial block first) and builds the index tensors. Called inside the
   * forward pass's pointer scope, which frees the tensors.
   */
  Plan plan(List<CachedSequence> seqs, int[] counts) {
    if (seqs.isEmpty() || seqs.size() != counts.length) {
      throw new IllegalArgumentException(
          "need one count per sequence and at least one sequence, got "
              + seqs.size()
              + " and "
              + counts.length);
    }
    Map<CachedSequence, Boolean> seen = new IdentityHashMap<>();
    int b = seqs.size();
    int t = 0;
    int l = 0;
    boolean anyCached = false;
    boolean equalCounts = true;
    for (int i = 0; i < b; i++) {
      CachedSequence s = seqs.get(i);
      checkLive(s);
      if (seen.put(s, Boolean.TRUE) != null) {
        throw new IllegalArgumentException(
            "sequence at batch index " + i + " appears twice in one batch");
      }
      if (counts[i] < 1 || counts[i] > s.pendingLength()) {
        throw new IllegalArgumentException(
            "count "
                + counts[i]
                + " for batch index "
                + i
                + " must be in [1, "
                + s.pendingLength()
                + "] (pending tokens)");
      }
      t = Math.max(t, counts[i]);
      l = Math.max(l, s.cachedLength() + counts[i]);
      anyCached |= s.cachedLength() > 0;
      equalCounts &= counts[i] == counts[0];
    }
    for (int i = 0; i < b; i++) {
      reserve(seqs.get(i), seqs.get(i).cachedLength() + counts[i]);
    }

    long[] ids = new long[b * t];
    long[] positions = new long[b * t];
    long[] limits = new long[b * t];
    int real = Arrays.stream(counts).sum();
    long[] writeRows = new long[real];
    long[] writeSlots = new long[real];
    long[] lastRows = new long[b];
    long[] gather = anyCached ? new long[b * l] : null;
    int w = 0;
    for (int i = 0; i < b; i++) {
      CachedSequence s = seqs.get(i);
      int start = s.cachedLength();
      int end = start + counts[i];
      for (int j = 0; j < t; j++) {
        int row = i * t + j;
        int pos = start + j;
        positions[row] = pos;
        limits[row] = Math.min(pos, end - 1); // padding rows attend to real keys only
        if (j < counts[i]) {
          ids[row] = s.token(pos);
          writeRows[w] = row;
          writeSlots[w++] = slot(s, pos);
        }
      }
      lastRows[i] = (long) i * t + counts[i] - 1;
      if (gather != null) {
        for (int j = 0; j < end; j++) {
          gather[i * l + j] = slot(s, j);
        }
      }
    }
    boolean padded = real != b * t;
    Tensor mask = null;
    if (anyCached || !equalCounts) {
      int keyLen = anyCached ? l : t;
      Tensor keyIndex =
          torch.arange(new Scalar(0L), new Scalar((long) keyLen), longs()).view(1, 1, 1, keyLen);
      mask = keyIndex.le(toDevice(limits).view(b, 1, t, 1));
    }
    return new Plan(
        b,
        t,
        anyCached ? l : t,
        toDevice(ids),
        toDevice(positions),
        padded ? toDevice(writeRows) : null,
        toDevice(writeSlots),
        gather == null ? null : toDevice(gather),
        mask,
        toDevice(lastRows));
  }

  /** Marks the planned tokens cached once the forward pass has written them. */
  void commit(List<CachedSequence> seqs, int[] counts) {
    for (int i = 0; i < seqs.size(); i++) {
      seqs.get(i).markCached(counts[i]);
    }
  }

  /** Ensures blocks for positions [0, length); copies the partial last block if it is shared. */
  private void reserve(CachedSequence s, int length) {
    int start = s.cachedLength();
    int partial = start % blockSize;
    if (partial != 0) {
      int index = start / blockSize;
      int shared = s.block(index);
      if (refCounts[shared] > 1) {
        int copy = allocate();
        copyBlock(shared, copy, partial);
        release(shared);
        s.setBlock(index, copy);
      }
    }
    int needed = (length + blockSize - 1) / blockSize;
    while (s.blockCount() < needed) {
      s.addBlock(allocate());
    }
  }

  private long slot(CachedSequence s, int position) {
    return (long) s.block(position / blockSize) * blockSize + position % blockSize;
  }

  private int allocate() {
    if (freeBlocks.isEmpty()) {
      grow(capacityBlocks * 2);
    }
    int block = freeBlocks.pop();
    refCounts[block] = 1;
    return block;
  }

  private void release(int block) {
    if (--refCounts[block] == 0) {
      freeBlocks.push(block);
    }
  }

  private void copyBlock(int from, int to, int slots) {
    try (PointerScope scope = new PointerScope()) {
      for (int layer = 0; layer < keys.length; layer++) {
        keys[layer]
            .narrow(0, (long) to * blockSize, slots)
            .copy_(keys[layer].narrow(0, (long) from * blockSize, slots));
        values[layer]
            .narrow(0, (long) to * blockSize, slots)
            .copy_(values[layer].narrow(0, (long) from * blockSize, slots));
      }
    }
  }

  /** Grows the pools to {@code newCapacity} blocks, keeping every block id and its contents. */
  private void grow(int newCapacity) {
    ModelConfig c = model.config();
    long slots = (long) newCapacity * blockSize;
    TensorOptions options =
        new TensorOptions()
            .dtype(new ScalarTypeOptional(model.runtime().scalarType()))
            .device(new org.bytedeco.pytorch.DeviceOptional(model.runtime().torchDevice()));
    long oldSlots = (long) capacityBlocks * blockSize;
    for (int layer = 0; layer < keys.length; layer++) {
      // zeros, not empty: masked-out keys still enter the attention product, so they must be finite
      Tensor k = torch.zeros(new long[] {slots, c.numKvHeads(), c.headDim()}, options);
      Tensor v = torch.zeros(new long[] {slots, c.numKvHeads(), c.headDim()}, options);
      // grow may run inside a forward pass's pointer scope; the pools must outlive it
      k.retainReference();
      v.retainReference();
      if (keys[layer] != null) {
        try (PointerScope scope = new PointerScope()) {
          k.narrow(0, 0, oldSlots).copy_(keys[layer]);
          v.narrow(0, 0, oldSlots).copy_(values[layer]);
        }
        keys[layer].releaseReference();
        values[layer].releaseReference();
      }
      keys[layer] = k;
      values[layer] = v;
    }
    refCounts = Arrays.copyOf(refCounts, newCapacity);
    for (int block = newCapacity - 1; block >= capacityBlocks; block--) {
      freeBlocks.push(block);
    }
    capacityBlocks = newCapacity;
  }

  private Tensor toDevice(long[] values) {
    Tensor cpu = torch.tensor(values);
    return model.runtime().isCuda() ? cpu.to(model.runtime().torchDevice(), ScalarType.Long) : cpu;
  }

  private TensorOptions longs() {
    return new TensorOptions()
        .dtype(new ScalarTypeOptional(ScalarType.Long))
        .device(new org.bytedeco.pytorch.DeviceOptional(model.runtime().torchDevice()));
  }

  private void checkTokens(int[] tokens, String name) {
    int vocab = model.config().vocabSize();
    for (int i = 0; i < tokens.length; i++) {
      if (tokens[i] < 0 || tokens[i] >= vocab) {
        throw new IllegalArgumentException(
            name + "[" + i + "] = " + tokens[i] + " is outside the vocabulary [0, " + vocab + ")");
      }
    }
  }

  private void checkOwned(CachedSequence seq) {
    if (seq == null || seq.cache() != this) {
      throw new IllegalArgumentException("sequence does not belong to this cache");
    }
  }

  private void checkLive(CachedSequence seq) {
    checkOwned(seq);
    if (seq.isFreed()) {
      throw new IllegalArgumentException("sequence has been freed");
    }
  }

  @Override
  public void close() {
    for (int layer = 0; layer < keys.length; layer++) {
      keys[layer].releaseReference();
      values[layer].releaseReference();
    }
  }
}
