package io.arpo4j.model;

import io.arpo4j.kernels.Kernels;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.IntPointer;
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
 * are reference counted, so {@link #fork} shares the parent's whole prefix, or its first tokens, by
 * copying its block table (O(blocks), no tensor copy). When a sequence then writes into a block
 * another sequence still uses, which can only be its partly filled last block, that block is copied
 * first (copy-on-write). The pool grows by doubling when it runs out of blocks.
 *
 * <p>The block tables also live in one int32 tensor on the CPU, a row per live sequence, updated
 * where a block is added, replaced or forked, so a forward pass finds them without rebuilding
 * anything: on the CPU every new token of a pass (a decode step's, a prompt's, a tool result's)
 * becomes a row of its own that {@link Kernels#pagedAttention} or the fused layer attends in place;
 * on CUDA the keys are gathered through index tensors computed from them for libtorch's attention.
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
   * int32 [tableRows, tableColumns] on the CPU: row {@link CachedSequence#tableRow()} holds that
   * sequence's block ids. Entries past a sequence's blocks are stale or 0, always a valid block id.
   */
  private Tensor blockTable;

  private IntPointer tableData;
  private int tableRows;
  private int tableColumns;
  private final ArrayDeque<Integer> freeRows = new ArrayDeque<>();

  /** Whether CPU decode steps attend in place (else they gather like a prefill; for benchmarks). */
  private boolean inPlaceAttention = true;

  /**
   * Everything a batched forward over pending tokens needs, as tensors on the model's device. A
   * padded plan lays the B sequences' new tokens out as [B, T] rows (T the most new tokens of any);
   * a packed plan (where {@code inPlace} is set) gives every new token a row of its own, [N, 1]
   * with N the new tokens of all sequences, each row attending its own sequence's keys up to its
   * position in place, so a decode step can carry prompts and tool results in the same forward
   * pass.
   *
   * @param batch B (padded) or N (packed): the leading dimension of the forward pass
   * @param queryLength T (padded) or 1 (packed)
   * @param inputIds [batch * queryLength] new token ids, 0 in padding rows
   * @param positions [batch * queryLength] absolute positions
   * @param writeRows rows of the [B * T] new tokens that are real (null when none is padding)
   * @param writeSlots cache slot of each real new token, in row order
   * @param gatherSlots [B * L] cache slots of every key (null when nothing was cached before: then
   *     the new tokens are all the keys, L = T; null with {@code inPlace})
   * @param mask [B, 1, T, L] bool, true where a query may attend to a key (null: plain causal, or
   *     {@code inPlace})
   * @param inPlace the block tables for {@link Kernels#pagedAttention}, one entry per row, when the
   *     plan is packed, else null
   * @param lastRows [sequences] row of each sequence's last new token
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
      Kernels.PagedTable inPlace,
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
    growTable(8, 8);
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
    return new CachedSequence(this, tokens, takeTableRow());
  }

  /** A child sharing every token and cached block of {@code parent}. Copies no tensor data. */
  public CachedSequence fork(CachedSequence parent) {
    checkLive(parent);
    return share(
        new CachedSequence(parent, parent.length(), parent.cachedLength(), takeTableRow()));
  }

  /**
   * A child holding {@code parent}'s first {@code length} tokens, sharing the blocks of those the
   * parent has cached, except that its last token stays pending: its first forward recomputes that
   * token's keys and values, which yields the logits of what follows the prefix. Copies no tensor
   * data; when the child then writes into the shared partly filled block, {@link #reserve} copies
   * it, as it does for the parent's own later writes there.
   */
  public CachedSequence fork(CachedSequence parent, int length) {
    checkLive(parent);
    if (length < 1 || length > parent.length()) {
      throw new IllegalArgumentException(
          "fork length " + length + " outside [1, " + parent.length() + "]");
    }
    int cached = Math.min(parent.cachedLength(), length - 1);
    return share(new CachedSequence(parent, length, cached, takeTableRow()));
  }

  /** Counts a new child's blocks as shared and fills its row of the block table. */
  private CachedSequence share(CachedSequence child) {
    long row = (long) child.tableRow() * tableColumns;
    for (int i = 0; i < child.blockCount(); i++) {
      refCounts[child.block(i)]++;
      tableData.put(row + i, child.block(i));
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
    freeRows.push(seq.tableRow());
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
   * exist (copying a shared partial block first) and builds the index tensors. The plan is packed
   * where in-place attention runs and the caller accepts it ({@code packable}, or one token per
   * sequence, where the two layouts agree), else padded. Called inside the forward pass's pointer
   * scope, which frees the tensors.
   */
  Plan plan(List<CachedSequence> seqs, int[] counts, boolean packable) {
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
    }
    for (int i = 0; i < b; i++) {
      reserve(seqs.get(i), seqs.get(i).cachedLength() + counts[i]);
    }
    return (packable || t == 1) && packsRows()
        ? packedPlan(seqs, counts)
        : paddedPlan(seqs, counts, t);
  }

  /** Every new token a row of its own, attending in place (see {@link Plan}). */
  private Plan packedPlan(List<CachedSequence> seqs, int[] counts) {
    int n = Arrays.stream(counts).sum();
    long[] ids = new long[n];
    long[] positions = new long[n];
    long[] writeSlots = new long[n];
    int[] tableRows = new int[n];
    int[] lengths = new int[n];
    long[] lastRows = new long[seqs.size()];
    int row = 0;
    for (int i = 0; i < seqs.size(); i++) {
      CachedSequence s = seqs.get(i);
      for (int pos = s.cachedLength(); pos < s.cachedLength() + counts[i]; pos++, row++) {
        ids[row] = s.token(pos);
        positions[row] = pos;
        writeSlots[row] = slot(s, pos);
        tableRows[row] = s.tableRow();
        lengths[row] = pos + 1; // its own key included, and every earlier one of this pass
      }
      lastRows[i] = row - 1;
    }
    Tensor slots = torch.tensor(writeSlots);
    Kernels.PagedTable inPlace =
        Kernels.pagedTable(
            blockTable, torch.tensor(tableRows), torch.tensor(lengths), blockSize, slots);
    return new Plan(
        n,
        1,
        0,
        torch.tensor(ids),
        torch.tensor(positions),
        null,
        slots,
        null,
        null,
        inPlace,
        torch.tensor(lastRows));
  }

  /** The new tokens as [B, T] rows, right-padded, attending through gathered keys and a mask. */
  private Plan paddedPlan(List<CachedSequence> seqs, int[] counts, int t) {
    int b = seqs.size();
    int l = 0;
    boolean anyCached = false;
    boolean equalCounts = true;
    for (int i = 0; i < b; i++) {
      l = Math.max(l, seqs.get(i).cachedLength() + counts[i]);
      anyCached |= seqs.get(i).cachedLength() > 0;
      equalCounts &= counts[i] == counts[0];
    }
    long[] ids = new long[b * t];
    long[] positions = new long[b * t];
    long[] limits = new long[b * t];
    int real = Arrays.stream(counts).sum();
    long[] writeRows = new long[real];
    long[] writeSlots = new long[real];
    long[] lastRows = new long[b];
    int[] rows = new int[b];
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
      rows[i] = s.tableRow();
    }
    Tensor gather = null;
    Tensor mask = null;
    if (anyCached) {
      gather = gatherSlots(rows, l);
    }
    if (anyCached || !equalCounts) {
      int keyLen = anyCached ? l : t;
      Tensor keyIndex =
          torch.arange(new Scalar(0L), new Scalar((long) keyLen), longs()).view(1, 1, 1, keyLen);
      mask = keyIndex.le(toDevice(limits).view(b, 1, t, 1));
    }
    boolean padded = real != b * t;
    return new Plan(
        b,
        t,
        anyCached ? l : t,
        toDevice(ids),
        toDevice(positions),
        padded ? toDevice(writeRows) : null,
        toDevice(writeSlots),
        gather,
        mask,
        null,
        toDevice(lastRows));
  }

  /**
   * Whether forward passes get packed plans, attending the pools in place (the kernel runs on the
   * CPU, over fp32 or bf16 pools).
   */
  boolean packsRows() {
    StorageType type = model.runtime().dtype();
    return inPlaceAttention
        && !model.runtime().isCuda()
        && (type == StorageType.F32 || type == StorageType.BF16);
  }

  /** For benchmarks: whether CPU passes are packed and attend in place (default) or padded. */
  void setInPlaceAttention(boolean enabled) {
    inPlaceAttention = enabled;
  }

  /**
   * [B * keyLength] pool slots of positions 0 .. keyLength - 1 of the sequences in table rows
   * {@code rows}, on the model's device, from the block table with tensor operations (no per-slot
   * loop). Past a sequence's length the slots are those of stale table entries: valid, masked out.
   */
  private Tensor gatherSlots(int[] rows, int keyLength) {
    int blocks = (keyLength + blockSize - 1) / blockSize;
    Tensor tables =
        blockTable.index_select(0, torch.tensor(rows).to(ScalarType.Long)).narrow(1, 0, blocks);
    Tensor position =
        torch.arange(
            new Scalar(0L),
            new Scalar((long) keyLength),
            new TensorOptions().dtype(new ScalarTypeOptional(ScalarType.Long)));
    Tensor blockIds = tables.index_select(1, position.floor_divide(new Scalar((long) blockSize)));
    Tensor slots =
        blockIds
            .to(ScalarType.Long)
            .mul(new Scalar((long) blockSize))
            .add(position.remainder(new Scalar((long) blockSize)));
    Tensor flat = slots.view(-1);
    return model.runtime().isCuda()
        ? flat.to(model.runtime().torchDevice(), ScalarType.Long)
        : flat;
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
        tableData.put((long) s.tableRow() * tableColumns + index, copy);
      }
    }
    int needed = (length + blockSize - 1) / blockSize;
    if (needed > tableColumns) {
      growTable(tableRows, Math.max(2 * tableColumns, needed));
    }
    while (s.blockCount() < needed) {
      int block = allocate();
      tableData.put((long) s.tableRow() * tableColumns + s.blockCount(), block);
      s.addBlock(block);
    }
  }

  private int takeTableRow() {
    if (freeRows.isEmpty()) {
      growTable(2 * tableRows, tableColumns);
    }
    return freeRows.pop();
  }

  /** Grows the block table to [rows, columns], keeping every entry; new entries are block 0. */
  private void growTable(int rows, int columns) {
    Tensor table =
        torch.zeros(
            new long[] {rows, columns},
            new TensorOptions().dtype(new ScalarTypeOptional(ScalarType.Int)));
    table.retainReference(); // may grow inside a forward pass's pointer scope; must outlive it
    if (blockTable != null) {
      try (PointerScope scope = new PointerScope()) {
        table.narrow(0, 0, tableRows).narrow(1, 0, tableColumns).copy_(blockTable);
      }
      blockTable.releaseReference();
    }
    blockTable = table;
    tableData = new IntPointer(table.data_ptr());
    for (int row = rows - 1; row >= tableRows; row--) {
      freeRows.push(row);
    }
    tableRows = rows;
    tableColumns = columns;
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
    blockTable.releaseReference();
  }
}
