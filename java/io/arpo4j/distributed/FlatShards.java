package io.arpo4j.distributed;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Parameters seen as one flat vector (in the given order) cut into buckets for the collectives;
 * each bucket's length is padded with zeros to a multiple of the world size N, and rank r owns the
 * r-th of its N equal parts. A rank's shard is its parts of all buckets, concatenated: a ZeRO
 * shard, laid out so that one bucket costs one reduce-scatter and one all-gather.
 */
public final class FlatShards {
  private final List<Tensor> parameters;
  private final long[] offsets; // of each parameter in the flat vector
  private final int ranks, rank;
  private final long total;
  private final List<long[]> buckets = new ArrayList<>(); // {start, length, padded length}
  private final long shardElements;

  /**
   * @param parameters one dtype and device, all of them
   * @param bucketElements at most this many elements per collective (rounded down to a multiple of
   *     the world size, at least one element per rank)
   */
  public FlatShards(List<Tensor> parameters, int ranks, int rank, long bucketElements) {
    if (parameters.isEmpty()) throw new IllegalArgumentException("no parameters to shard");
    this.parameters = List.copyOf(parameters);
    this.ranks = ranks;
    this.rank = rank;
    this.offsets = new long[parameters.size()];
    long n = 0;
    Tensor first = parameters.get(0);
    for (int i = 0; i < parameters.size(); i++) {
      Tensor p = parameters.get(i);
      if (p.scalar_type().value != first.scalar_type().value || p.is_cuda() != first.is_cuda()) {
        throw new IllegalArgumentException(
            "sharding needs parameters of one dtype and device type: parameter "
                + i
                + " is "
                + p.scalar_type()
                + " on "
                + p.device().str().getString()
                + ", the first "
                + first.scalar_type()
                + " on "
                + first.device().str().getString());
      }
      offsets[i] = n;
      n += p.numel();
    }
    this.total = n;
    long step = Math.max(ranks, bucketElements / ranks * ranks);
    long shard = 0;
    for (long start = 0; start < total; start += step) {
      long length = Math.min(step, total - start);
      long padded = (length + ranks - 1) / ranks * ranks;
      buckets.add(new long[] {start, length, padded});
      shard += padded / ranks;
    }
    this.shardElements = shard;
  }

  /** Elements of all parameters together. */
  public long parameterElements() {
    return total;
  }

  /** Elements of one rank's shard (the same on every rank; padding included). */
  public long shardElements() {
    return shardElements;
  }

  public int bucketCount() {
    return buckets.size();
  }

  /** This rank's shard of the parameters' current values (a new tensor). */
  public Tensor localParameters() {
    try (NoGradGuard noGrad = new NoGradGuard()) {
      Tensor shard = torch.zeros(new long[] {shardElements}, parameters.get(0).options());
      long shardOffset = 0;
      for (long[] k : buckets) {
        long part = k[2] / ranks, from = k[0] + rank * part;
        long length = Math.max(0, Math.min(part, k[0] + k[1] - from)); // the rest is padding
        if (length > 0) copy(shard.narrow(0, shardOffset, length), from, false);
        shardOffset += part;
      }
      return shard;
    }
  }

  /**
   * This rank's shard of the gradients summed over all ranks: per bucket, an all-reduce keeping
   * this rank's part ({@link Sharding#OPTIMIZER}) or a reduce-scatter ({@link Sharding#GRADIENTS},
   * which also frees each parameter's full gradient once its last bucket has been sent). A
   * parameter without a gradient contributes zeros. One bucket-sized buffer is the only copy
   * besides the returned shard.
   */
  public Tensor reduceGradients(Distributed dist, Sharding mode) {
    try (NoGradGuard noGrad = new NoGradGuard()) {
      Tensor shard = torch.zeros(new long[] {shardElements}, parameters.get(0).options());
      Tensor buffer = torch.zeros(new long[] {buckets.get(0)[2]}, shard.options());
      long shardOffset = 0;
      int freed = 0;
      for (long[] k : buckets) {
        long part = k[2] / ranks;
        Tensor bucket = buffer.narrow(0, 0, k[2]);
        copy(bucket.narrow(0, 0, k[1]), k[0], true);
        if (k[2] > k[1]) bucket.narrow(0, k[1], k[2] - k[1]).zero_();
        Tensor mine = shard.narrow(0, shardOffset, part);
        if (mode == Sharding.GRADIENTS) {
          dist.reduceScatterSum(bucket, mine, "gradient reduce-scatter");
          long end = k[0] + k[1];
          while (freed < parameters.size()
              && offsets[freed] + parameters.get(freed).numel() <= end) {
            parameters.get(freed++).mutable_grad().put(new Tensor());
          }
        } else {
          dist.allReduceSum(bucket, "gradient all-reduce");
          mine.copy_(bucket.narrow(0, rank * part, part));
        }
        shardOffset += part;
      }
      return shard;
    }
  }

  /**
   * Writes every rank's {@code shard} (this rank's given here) into the parameters: one all-gather
   * per bucket into one bucket-sized buffer.
   */
  public void gatherParameters(Distributed dist, Tensor shard) {
    try (NoGradGuard noGrad = new NoGradGuard()) {
      Tensor buffer = torch.zeros(new long[] {buckets.get(0)[2]}, shard.options());
      long shardOffset = 0;
      for (long[] k : buckets) {
        long part = k[2] / ranks;
        Tensor gathered = buffer.narrow(0, 0, k[2]);
        dist.allGather(gathered, shard.narrow(0, shardOffset, part), "parameter all-gather");
        shardOffset += part;
        write(gathered, k[0], k[1]);
      }
    }
  }

  /**
   * Copies {@code values[0, length)} into the parameters' elements {@code [start, start+length)}.
   */
  private void write(Tensor values, long start, long length) {
    long end = start + length;
    for (int i = 0; i < parameters.size(); i++) {
      Tensor p = parameters.get(i);
      long from = Math.max(start, offsets[i]), to = Math.min(end, offsets[i] + p.numel());
      if (from >= to) continue;
      p.view(-1)
          .narrow(0, from - offsets[i], to - from)
          .copy_(values.narrow(0, from - start, to - from));
    }
  }

  /**
   * Fills {@code out} with the elements {@code [start, start + out.numel())} of the parameters'
   * flat vector (of their gradients when {@code grads}, zeros where a parameter has none).
   */
  private void copy(Tensor out, long start, boolean grads) {
    long end = start + out.numel();
    for (int i = 0; i < parameters.size(); i++) {
      Tensor p = parameters.get(i);
      long from = Math.max(start, offsets[i]), to = Math.min(end, offsets[i] + p.numel());
      if (from >= to) continue;
      Tensor target = out.narrow(0, from - start, to - from);
      if (grads && !p.grad().defined()) {
        target.zero_();
      } else {
        Tensor source = grads ? p.grad() : p;
        target.copy_(source.reshape(-1).narrow(0, from - offsets[i], to - from));
      }
    }
  }
}
