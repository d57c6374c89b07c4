package io.arpo4j.distributed;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
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

  /** {start, length, padded length} of bucket {@code b} in the flat vector. */
  long[] bucket(int b) {
    return buckets.get(b).clone();
  }

  /** This rank's shard of the parameters' current values (a new tensor). */
  public Tensor localParameters() {
    try (NoGradGuard noGrad = new NoGradGuard()) {
      List<Tensor> parts = new ArrayList<>();
      for (int b = 0; b < buckets.size(); b++) {
        long[] k = buckets.get(b);
        Tensor padded = padded(slice(parameters, k[0], k[1], false), k[2]);
        parts.add(padded.narrow(0, rank * (k[2] / ranks), k[2] / ranks));
      }
      return torch.cat(new TensorVector(parts.toArray(new Tensor[0]))).clone();
    }
  }

  /**
   * This rank's shard of the gradients summed over all ranks: per bucket, an all-reduce keeping
   * this rank's part ({@link Sharding#OPTIMIZER}) or a reduce-scatter ({@link Sharding#GRADIENTS},
   * which also frees each parameter's full gradient once its last bucket has been sent). A
   * parameter without a gradient contributes zeros.
   */
  public Tensor reduceGradients(Distributed dist, Sharding mode) {
    try (NoGradGuard noGrad = new NoGradGuard()) {
      List<Tensor> parts = new ArrayList<>();
      int freed = 0;
      for (long[] k : buckets) {
        Tensor padded = padded(slice(parameters, k[0], k[1], true), k[2]).contiguous();
        long part = k[2] / ranks;
        if (mode == Sharding.GRADIENTS) {
          parts.add(dist.reduceScatterSum(padded, "gradient reduce-scatter"));
          long end = k[0] + k[1];
          while (freed < parameters.size()
              && offsets[freed] + parameters.get(freed).numel() <= end) {
            parameters.get(freed++).mutable_grad().put(new Tensor());
          }
        } else {
          dist.allReduceSum(padded, "gradient all-reduce");
          parts.add(padded.narrow(0, rank * part, part).clone());
        }
      }
      return torch.cat(new TensorVector(parts.toArray(new Tensor[0])));
    }
  }

  /**
   * Writes every rank's {@code shard} (this rank's given here) into the parameters: one all-gather
   * per bucket.
   */
  public void gatherParameters(Distributed dist, Tensor shard) {
    try (NoGradGuard noGrad = new NoGradGuard()) {
      long shardOffset = 0;
      for (long[] k : buckets) {
        long part = k[2] / ranks;
        Tensor gathered = torch.zeros(new long[] {k[2]}, shard.options());
        dist.allGather(
            gathered, shard.narrow(0, shardOffset, part).contiguous(), "parameter all-gather");
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
   * The elements {@code [start, start+length)} of the parameters' flat vector (their gradients when
   * {@code grads}, zeros where a parameter has none).
   */
  private Tensor slice(List<Tensor> tensors, long start, long length, boolean grads) {
    List<Tensor> pieces = new ArrayList<>();
    long end = start + length;
    for (int i = 0; i < tensors.size(); i++) {
      Tensor p = tensors.get(i);
      long from = Math.max(start, offsets[i]), to = Math.min(end, offsets[i] + p.numel());
      if (from >= to) continue;
      Tensor source = p;
      if (grads) source = p.grad().defined() ? p.grad() : torch.zeros_like(p);
      pieces.add(source.reshape(-1).narrow(0, from - offsets[i], to - from));
    }
    return torch.cat(new TensorVector(pieces.toArray(new Tensor[0])));
  }

  private static Tensor padded(Tensor t, long length) {
    long pad = length - t.numel();
    return pad == 0 ? t : torch.constant_pad_nd(t, 0, pad);
  }
}
