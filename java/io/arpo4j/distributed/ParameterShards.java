package io.arpo4j.distributed;

import io.arpo4j.model.ParameterResidency;
import io.arpo4j.model.TransformerModel;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * ZeRO-3 ({@link Sharding#FULL}): a model's parameters in blocks (one per decoder layer, then the
 * embeddings, final norm and LM head), each block flattened and padded with zeros to a multiple of
 * the world size N, of which rank r keeps the r-th of N equal parts. {@link #shard()} is this
 * rank's parts of all blocks, concatenated: the only copy of the weights a rank holds between uses
 * and what AdamW steps. The model gathers a block (one all-gather) before reading it and frees it
 * after; after a block's backward its gradients are reduce-scattered into {@link #shard()}'s
 * gradient, where they accumulate over micro-batches.
 *
 * <p>Every rank must issue the same collectives: a rank with fewer micro-batches than another runs
 * {@link #idlePass}es for the difference ({@link #passes}).
 */
public final class ParameterShards implements ParameterResidency, AutoCloseable {
  private final TransformerModel model;
  private final Distributed dist;
  private final List<List<Tensor>> blocks;
  private final long[][][] shapes; // [block][parameter] = shape
  private final long[][] offsets; // [block][parameter] = first element in the block's vector
  private final long[] padded; // [block] = elements, padded to a multiple of N
  private final long[] shardOffset; // [block] = where its part starts in the shard
  private final int[] holds;
  private final Tensor shard;
  private boolean closed;

  private ParameterShards(TransformerModel model, Distributed dist) {
    this.model = model;
    this.dist = dist;
    this.blocks = model.parameterBlocks();
    int n = blocks.size(), ranks = dist.size();
    shapes = new long[n][][];
    offsets = new long[n][];
    padded = new long[n];
    shardOffset = new long[n];
    holds = new int[n];
    long shardElements = 0;
    for (int b = 0; b < n; b++) {
      List<Tensor> params = blocks.get(b);
      shapes[b] = new long[params.size()][];
      offsets[b] = new long[params.size()];
      long total = 0;
      for (int i = 0; i < params.size(); i++) {
        shapes[b][i] = params.get(i).sizes().vec().get();
        offsets[b][i] = total;
        total += params.get(i).numel();
      }
      padded[b] = (total + ranks - 1) / ranks * ranks;
      shardOffset[b] = shardElements;
      shardElements += padded[b] / ranks;
    }
    try (PointerScope scope = new PointerScope();
        NoGradGuard noGrad = new NoGradGuard()) {
      Tensor first = blocks.get(n - 1).get(0);
      shard = torch.zeros(new long[] {shardElements}, first.options());
      shard.retainReference();
      for (int b = 0; b < n; b++) {
        long part = padded[b] / ranks, from = dist.rank() * part;
        List<Tensor> params = blocks.get(b);
        for (int i = 0; i < params.size(); i++) {
          long start = Math.max(from, offsets[b][i]);
          long end = Math.min(from + part, offsets[b][i] + params.get(i).numel());
          if (start >= end) continue;
          shard
              .narrow(0, shardOffset[b] + start - from, end - start)
              .copy_(params.get(i).reshape(-1).narrow(0, start - offsets[b][i], end - start));
        }
        for (Tensor p : params) p.set_(); // freed: the shard is the only copy now
      }
    }
  }

  /**
   * Shards {@code model}'s parameters over {@code dist}'s ranks (which must hold equal weights) and
   * makes the model gather each block around its use. {@link #close()} makes them whole again.
   */
  public static ParameterShards attach(TransformerModel model, Distributed dist) {
    if (model.residency() != null) throw new IllegalStateException("the model is already sharded");
    if (model.adapter() != null) {
      throw new IllegalArgumentException(
          "distributed.sharding: full with a LoRA adapter is not built: use optimizer or gradients");
    }
    if (model.runtime().mixed()) {
      throw new IllegalArgumentException(
          "distributed.sharding: full is not built for precision: bf16-mixed: set precision:"
              + " fp32");
    }
    ParameterShards shards = new ParameterShards(model, dist);
    model.setResidency(shards);
    return shards;
  }

  /** This rank's part of every block, concatenated (padding included); AdamW's parameter. */
  public Tensor shard() {
    return shard;
  }

  /** Whether {@link #close()} has made the parameters whole again. */
  public boolean isClosed() {
    return closed;
  }

  @Override
  public int outer() {
    return blocks.size() - 1;
  }

  @Override
  public boolean isGathered(int block) {
    return holds[block] > 0;
  }

  @Override
  public void gather(int block) {
    if (closed) throw new IllegalStateException("the parameters are no longer sharded");
    if (holds[block]++ > 0) return;
    try (PointerScope scope = new PointerScope();
        NoGradGuard noGrad = new NoGradGuard()) {
      long part = padded[block] / dist.size();
      Tensor gathered =
          torch.empty(new long[] {padded[block]}, shard.options(), new MemoryFormatOptional());
      dist.allGather(gathered, shard.narrow(0, shardOffset[block], part), "parameter all-gather");
      List<Tensor> params = blocks.get(block);
      for (int i = 0; i < params.size(); i++) {
        long[] shape = shapes[block][i];
        long n = 1;
        for (long d : shape) n *= d;
        params.get(i).set_(gathered.narrow(0, offsets[block][i], n).view(shape));
      }
    }
  }

  @Override
  public void release(int block) {
    if (holds[block] <= 0) throw new IllegalStateException("block " + block + " is not gathered");
    if (--holds[block] > 0) return;
    try (PointerScope scope = new PointerScope();
        NoGradGuard noGrad = new NoGradGuard()) {
      for (Tensor p : blocks.get(block)) p.set_();
    }
  }

  @Override
  public void reduceGradients(int block) {
    try (PointerScope scope = new PointerScope();
        NoGradGuard noGrad = new NoGradGuard()) {
      long part = padded[block] / dist.size();
      Tensor flat = torch.zeros(new long[] {padded[block]}, shard.options());
      List<Tensor> params = blocks.get(block);
      for (int i = 0; i < params.size(); i++) {
        Tensor p = params.get(i);
        if (!p.grad().defined()) continue; // no gradient: zeros
        flat.narrow(0, offsets[block][i], p.numel()).copy_(p.grad().reshape(-1));
        p.mutable_grad().put(new Tensor());
      }
      Tensor mine = torch.empty(new long[] {part}, shard.options(), new MemoryFormatOptional());
      dist.reduceScatterSum(flat, mine, "gradient reduce-scatter");
      if (!shard.grad().defined()) shard.mutable_grad().put(torch.zeros_like(shard));
      shard.grad().narrow(0, shardOffset[block], part).add_(mine);
    }
    release(block);
  }

  /**
   * How many micro-batch passes every rank runs: the most that any rank has ({@code local} is this
   * rank's).
   */
  public int passes(int local) {
    if (!dist.isDistributed()) return local;
    double[] counts = new double[dist.size()];
    counts[dist.rank()] = local;
    int most = 0;
    for (double c : dist.allReduceSum(counts)) most = Math.max(most, (int) c);
    return most;
  }

  /**
   * The collectives of a micro-batch pass without rows, contributing zero gradients: the order in
   * which {@link TransformerModel}'s whole-batch forward ({@code backward} false) or its
   * checkpointed forward and backward ({@code backward} true) gather and reduce the blocks.
   */
  public void idlePass(boolean backward) {
    int outer = outer();
    gather(outer);
    for (int i = 0; i < outer; i++) {
      gather(i);
      release(i);
    }
    if (!backward) {
      release(outer);
      return;
    }
    for (int i = outer - 1; i >= 0; i--) {
      gather(i);
      reduceGradients(i);
    }
    reduceGradients(outer);
  }

  /**
   * Gathers every block until the returned handle is closed: the weights whole for generation or
   * for writing a checkpoint (every rank calls it).
   */
  public TransformerModel.Held gatherAll() {
    for (int b = 0; b < blocks.size(); b++) gather(b);
    return () -> {
      for (int b = 0; b < blocks.size(); b++) release(b);
    };
  }

  /** Makes the model's parameters whole again (every rank calls it) and stops sharding it. */
  @Override
  public void close() {
    if (closed) return;
    for (int b = 0; b < blocks.size(); b++) {
      if (holds[b] == 0) gather(b);
    }
    closed = true;
    model.setResidency(null);
    shard.releaseReference();
  }
}
