package io.arpo4j.kernels;

import java.util.function.IntToLongFunction;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.LayoutOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The native kernels over libtorch tensors, on CPU or CUDA (chosen by the logits' device). Every
 * argument is checked here, before any native code runs: a bad shape, dtype, device, stride, index
 * or temperature raises {@link IllegalArgumentException} naming the argument. Outputs are new fp32
 * tensors on the input's device (int64 for sampled tokens).
 *
 * <p>Contract: the inputs stay the caller's and are only read; every output tensor is new and owned
 * by the caller, who closes it (or lets a {@code PointerScope} do so). The methods keep no state,
 * so they may run concurrently from any number of threads, on different tensors; on CUDA each call
 * is queued on the current stream of the logits' device and returns without waiting for the GPU.
 */
public final class Kernels {
  static {
    NativeLibraries.load(); // the bundled libtorch, before anything here touches a tensor
  }

  private Kernels() {}

  /** Per-row outputs of {@link #tokenStats}: all fp32 [N]. */
  public record TokenStats(Tensor logprob, Tensor entropy, Tensor logsumexp) {}

  /** Per-row outputs of {@link #sample}: tokens int64 [B], logprob and entropy fp32 [B]. */
  public record Sampled(Tensor tokens, Tensor logprob, Tensor entropy) {}

  /**
   * Output of {@link #clippedSurrogate}: the scalar loss (fp32 [1]), d loss / d logprob (fp32, the
   * shape of logprob), and masked-mean statistics; {@code clipGradKeptFraction} is the fraction of
   * tokens the ratio clip bounded whose gradient the stop-gradient clip still passed (0 under PPO).
   */
  public record Surrogate(
      Tensor loss,
      Tensor gradLogprob,
      float clipFraction,
      float approxKl,
      float meanRatio,
      float dualClipFraction,
      float clipGradKeptFraction) {}

  /**
   * Log-probability of {@code targets}, entropy and log-sum-exp of softmax(logits / T) per row, in
   * one pass over each row of {@code logits} [N, V] (fp32 or bf16, last dimension contiguous).
   *
   * @param targets int64 [N] in [0, V), or null to skip logprob (then {@code logprob()} is null)
   */
  public static TokenStats tokenStats(Tensor logits, Tensor targets, float temperature) {
    Logits l = Logits.check("logits", logits);
    requirePositiveTemperature(temperature);
    if (targets != null) l.requireTargets("targets", targets);
    Tensor logprob = targets == null ? null : floatVector(logits, l.rows);
    Tensor entropy = floatVector(logits, l.rows);
    Tensor lse = floatVector(logits, l.rows);
    KernelBackend backend = KernelBackend.on(logits);
    checkStatus(
        backend,
        backend.tokenStats(
            l.data,
            l.dtype,
            l.rows,
            l.vocab,
            l.stride,
            longs(targets),
            temperature,
            floats(logprob),
            floats(entropy),
            floats(lse)));
    return new TokenStats(logprob, entropy, lse);
  }

  /**
   * Samples one token per row of {@code logits} [B, V] from softmax(logits / T) after top-k then
   * top-p filtering, with a counter-based RNG: the same (seed, step) give the same tokens on the
   * same device. T = 0 is greedy. The returned logprob and entropy are of the unfiltered
   * temperature distribution (of softmax(logits) when T = 0).
   *
   * @param topP nucleus mass in (0, 1]; 1 disables
   * @param topK tokens kept, 0 disables (values >= V keep everything)
   */
  public static Sampled sample(
      Tensor logits, float temperature, float topP, int topK, long seed, long step) {
    Logits l = Logits.check("logits", logits);
    if (!(temperature >= 0f) || !Float.isFinite(temperature)) {
      throw new IllegalArgumentException("temperature must be finite and >= 0, got " + temperature);
    }
    if (!(topP > 0f && topP <= 1f))
      throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
    if (topK < 0) throw new IllegalArgumentException("topK must be >= 0, got " + topK);
    Tensor tokens =
        logits.new_empty(
            new long[] {l.rows},
            new ScalarTypeOptional(ScalarType.Long),
            new LayoutOptional(),
            new DeviceOptional(),
            new BoolOptional());
    Tensor logprob = floatVector(logits, l.rows);
    Tensor entropy = floatVector(logits, l.rows);
    KernelBackend backend = KernelBackend.on(logits);
    checkStatus(
        backend,
        backend.sample(
            l.data,
            l.dtype,
            l.rows,
            l.vocab,
            l.stride,
            temperature,
            topP,
            topK,
            seed,
            step,
            longs(tokens),
            floats(logprob),
            floats(entropy)));
    return new Sampled(tokens, logprob, entropy);
  }

  /**
   * The clipped surrogate loss of ARPO.md §6 over a padded batch: {@code logprob}, {@code
   * oldLogprob}, {@code advantage} and {@code mask} are fp32 [S, L] (or [L] for one sequence),
   * contiguous, on one device; mask is 1 for tokens that train and 0 for padding and tool output.
   *
   * @param epsLow lower clip range, in [0, 1)
   * @param epsHigh upper clip range, >= 0 (DAPO's clip-higher raises it)
   * @param dualClipC dual-clip bound for negative advantages, > 1; values <= 1 disable it
   * @param clipGradLow stop-gradient clip (AEPO.md §3): a token with A < 0 below 1 - epsLow keeps
   *     the gradient weight (1 - epsLow) * clipGradLow instead of 0; >= 0, 0 is PPO
   * @param clipGradHigh the same for A > 0 above 1 + epsHigh, weight (1 + epsHigh) * clipGradHigh;
   *     the loss value and the clip fraction do not depend on either
   */
  public static Surrogate clippedSurrogate(
      Tensor logprob,
      Tensor oldLogprob,
      Tensor advantage,
      Tensor mask,
      float epsLow,
      float epsHigh,
      float dualClipC,
      float clipGradLow,
      float clipGradHigh,
      LossAggregation aggregation) {
    long[] shape = requireTokenMatrix("logprob", logprob);
    requireSameTokenMatrix("oldLogprob", oldLogprob, logprob, shape);
    requireSameTokenMatrix("advantage", advantage, logprob, shape);
    requireSameTokenMatrix("mask", mask, logprob, shape);
    if (!(epsLow >= 0f && epsLow < 1f))
      throw new IllegalArgumentException("epsLow must be in [0, 1), got " + epsLow);
    if (!(epsHigh >= 0f) || !Float.isFinite(epsHigh)) {
      throw new IllegalArgumentException("epsHigh must be finite and >= 0, got " + epsHigh);
    }
    if (Float.isNaN(dualClipC)) throw new IllegalArgumentException("dualClipC must not be NaN");
    if (!(clipGradLow >= 0f) || !Float.isFinite(clipGradLow)) {
      throw new IllegalArgumentException("clipGradLow must be finite and >= 0, got " + clipGradLow);
    }
    if (!(clipGradHigh >= 0f) || !Float.isFinite(clipGradHigh)) {
      throw new IllegalArgumentException(
          "clipGradHigh must be finite and >= 0, got " + clipGradHigh);
    }
    if (aggregation == null) throw new IllegalArgumentException("aggregation must not be null");
    Tensor loss = floatVector(logprob, 1);
    Tensor grad =
        logprob.new_empty(
            shape,
            new ScalarTypeOptional(ScalarType.Float),
            new LayoutOptional(),
            new DeviceOptional(),
            new BoolOptional());
    float[] s = new float[NativeKernels.ARPO_NUM_STATS];
    KernelBackend backend = KernelBackend.on(logprob);
    checkStatus(
        backend,
        backend.clippedSurrogate(
            floats(logprob),
            floats(oldLogprob),
            floats(advantage),
            floats(mask),
            shape[0],
            shape[1],
            epsLow,
            epsHigh,
            dualClipC,
            clipGradLow,
            clipGradHigh,
            aggregationMode(aggregation),
            floats(loss),
            floats(grad),
            s));
    return new Surrogate(
        loss,
        grad.view(logprob.sizes().vec().get()),
        s[NativeKernels.ARPO_STAT_CLIP_FRAC],
        s[NativeKernels.ARPO_STAT_APPROX_KL],
        s[NativeKernels.ARPO_STAT_MEAN_RATIO],
        s[NativeKernels.ARPO_STAT_DUAL_CLIP_FRAC],
        s[NativeKernels.ARPO_STAT_CLIP_GRAD_KEPT_FRAC]);
  }

  /** The header's arpo_agg_mode of an aggregation. */
  static int aggregationMode(LossAggregation aggregation) {
    return switch (aggregation) {
      case TOKEN_MEAN -> NativeKernels.ARPO_AGG_TOKEN_MEAN;
      case SEQ_MEAN_TOKEN_MEAN -> NativeKernels.ARPO_AGG_SEQ_MEAN_TOKEN_MEAN;
      case SEQ_SUM_TOKEN_MEAN -> NativeKernels.ARPO_AGG_SEQ_SUM_TOKEN_MEAN;
    };
  }

  /**
   * Writes d(sum g_lp logprob + g_h entropy)/d logits over the logits buffer itself (same dtype),
   * given the {@link #tokenStats} of these logits. The logits' values are gone afterwards.
   *
   * @param gradEntropy fp32 [N] or null when the loss has no entropy term
   */
  public static void logprobBackwardInPlace(
      Tensor logits,
      Tensor targets,
      TokenStats stats,
      Tensor gradLogprob,
      Tensor gradEntropy,
      float temperature) {
    Logits l = Logits.check("logits", logits);
    requirePositiveTemperature(temperature);
    l.requireTargets("targets", targets);
    if (stats == null) throw new IllegalArgumentException("stats must not be null");
    l.requireRowVector("stats.logsumexp", stats.logsumexp());
    l.requireRowVector("gradLogprob", gradLogprob);
    if (gradEntropy != null) {
      l.requireRowVector("gradEntropy", gradEntropy);
      l.requireRowVector("stats.entropy", stats.entropy());
    }
    Tensor entropy = gradEntropy == null ? null : stats.entropy();
    KernelBackend backend = KernelBackend.on(logits);
    checkStatus(
        backend,
        backend.logprobBackward(
            l.data,
            l.dtype,
            l.rows,
            l.vocab,
            l.stride,
            longs(targets),
            floats(stats.logsumexp()),
            floats(entropy),
            floats(gradLogprob),
            floats(gradEntropy),
            temperature));
  }

  /** The instruction-set paths of {@link #decodeMatmul}; AUTO is the best the CPU has. */
  public enum Isa {
    AUTO(NativeKernels.ARPO_ISA_AUTO),
    SCALAR(NativeKernels.ARPO_ISA_SCALAR),
    AVX2(NativeKernels.ARPO_ISA_AVX2),
    AVX512(NativeKernels.ARPO_ISA_AVX512),
    /** AVX-512 with AVX512_BF16: bf16 weights times bf16-rounded activations by vdpbf16ps. */
    AVX512_BF16(NativeKernels.ARPO_ISA_AVX512_BF16);

    private final int code;

    Isa(int code) {
      this.code = code;
    }

    /** Whether this CPU can run the path (AUTO always can). */
    public boolean supported() {
      return this == AUTO || NativeKernels.arpo_decode_matmul_isa_supported(code) != 0;
    }

    /** The path AUTO runs on this CPU. */
    public static Isa best() {
      int best = NativeKernels.arpo_decode_matmul_best_isa();
      for (Isa isa : values()) if (isa != AUTO && isa.code == best) return isa;
      throw new IllegalStateException("unknown instruction set code " + best);
    }
  }

  /** Outputs per block of a packed bf16 weight ({@link #packBf16}). */
  public static final int PACKED_OUTPUTS = 64;

  /**
   * Whether {@link #packBf16} serves [n, k] weights on this CPU: its best decode path is {@link
   * Isa#AVX512_BF16} (the only one that reads the layout), n is a multiple of {@value
   * #PACKED_OUTPUTS} and k even.
   */
  public static boolean packsBf16(long n, long k) {
    return packableShape(n, k) && Isa.best() == Isa.AVX512_BF16;
  }

  /** Whether [n, k] weights fill whole packed blocks: n a multiple of 64, k even. */
  private static boolean packableShape(long n, long k) {
    return n > 0 && k > 0 && n % PACKED_OUTPUTS == 0 && k % 2 == 0;
  }

  /** Whether {@code w} is a packed bf16 weight: bf16 [N / 64, K / 2, 64, 2] ({@link #packBf16}). */
  public static boolean isPackedBf16(Tensor w) {
    return w.dim() == 4
        && is(w.scalar_type(), ScalarType.BFloat16)
        && w.size(2) == PACKED_OUTPUTS
        && w.size(3) == 2;
  }

  /** {N, K} of a [N, K] weight or of a packed bf16 one; null for other shapes. */
  public static long[] projectionShape(Tensor w) {
    if (isPackedBf16(w)) return new long[] {w.size(0) * PACKED_OUTPUTS, w.size(1) * 2};
    return w.dim() == 2 ? new long[] {w.size(0), w.size(1)} : null;
  }

  /**
   * {@code weight} (fp32 [N, K], CPU, contiguous) rounded to bf16 (to nearest even) in the layout
   * of the {@link Isa#AVX512_BF16} path's packed products (native/include/arpo4j.h, arpo_pack_bf16:
   * blocks of 64 outputs, each [K / 2][64][2]), written into {@code packed} (bf16 [N / 64, K / 2,
   * 64, 2], CPU, contiguous), or into a new tensor when {@code packed} is null; N a multiple of 64,
   * K even. {@link #decodeMatmul} and {@link #decodeLayer} take the result where a [N, K] weight
   * goes; on that path each product of 1-64 rows runs up to twice as fast as on [N, K] bf16
   * weights.
   *
   * @return {@code packed}, or the new tensor
   */
  public static Tensor packBf16(Tensor weight, Tensor packed) {
    requireDefined("weight", weight);
    if (weight.dim() != 2 || !weight.is_cpu() || !weight.is_contiguous()) {
      throw new IllegalArgumentException(
          "weight must be a contiguous 2-D CPU tensor, got " + shapeOf(weight));
    }
    if (!is(weight.scalar_type(), ScalarType.Float))
      throw new IllegalArgumentException("weight must be float32, got " + weight.scalar_type());
    long n = weight.size(0), k = weight.size(1);
    if (!packableShape(n, k)) {
      throw new IllegalArgumentException(
          "packed bf16 weights need N a multiple of 64 and K even, got " + shapeOf(weight));
    }
    long[] shape = {n / PACKED_OUTPUTS, k / 2, PACKED_OUTPUTS, 2};
    if (packed == null) {
      packed =
          weight.new_empty(
              shape,
              new ScalarTypeOptional(ScalarType.BFloat16),
              new LayoutOptional(),
              new DeviceOptional(),
              new BoolOptional());
    } else if (!isPackedBf16(packed)
        || !java.util.Arrays.equals(packed.sizes().vec().get(), shape)
        || !packed.is_cpu()
        || !packed.is_contiguous()) {
      throw new IllegalArgumentException(
          "packed must be a contiguous bf16 CPU tensor "
              + java.util.Arrays.toString(shape)
              + ", got "
              + shapeOf(packed));
    }
    int rc = NativeKernels.arpo_pack_bf16(floats(weight), n, k, packed.data_ptr());
    checkStatus(KernelBackend.Cpu.INSTANCE, rc);
    return packed;
  }

  /** Rows up to which {@link #decodeMatmul} is meant to be used (a decode step's batch). */
  public static final int DECODE_MAX_ROWS = 64;

  /**
   * {@code x @ weight^T + bias} for the few rows of a decode step on the CPU, reading each weight
   * once for all rows (native/include/arpo4j.h, arpo_decode_matmul), with libtorch's thread count.
   * On CUDA use libtorch's matmul: it is already bound by the weights' reads there.
   *
   * @param x fp32 [rows, K] on the CPU, last dimension contiguous (a row stride >= K is fine)
   * @param weight fp32 or bf16 [N, K], contiguous, on the CPU (bf16 weights multiply x rounded to
   *     bf16, as a bf16 model's activations are; the products are exact and the sums fp32)
   * @param bias fp32 [N], contiguous, or null
   * @return a new fp32 [rows, N]
   */
  public static Tensor decodeMatmul(Tensor x, Tensor weight, Tensor bias) {
    return decodeMatmul(x, weight, bias, Isa.AUTO);
  }

  /** {@link #decodeMatmul(Tensor, Tensor, Tensor)} on a given path (tests and benchmarks). */
  public static Tensor decodeMatmul(Tensor x, Tensor weight, Tensor bias, Isa isa) {
    requireDefined("x", x);
    requireDefined("weight", weight);
    if (isa == null) throw new IllegalArgumentException("isa must not be null");
    if (!x.is_cpu() || !weight.is_cpu() || (bias != null && !bias.is_cpu())) {
      throw new IllegalArgumentException(
          "decodeMatmul runs on the CPU only (use libtorch's matmul on CUDA), got x on "
              + x.device().str().getString());
    }
    if (x.dim() != 2)
      throw new IllegalArgumentException("x must be 2-D [rows, K], got " + shapeOf(x));
    if (!is(x.scalar_type(), ScalarType.Float))
      throw new IllegalArgumentException("x must be float32, got " + x.scalar_type());
    long rows = x.size(0), k = x.size(1);
    if (rows <= 0 || k <= 0) throw new IllegalArgumentException("x must be non-empty");
    if (x.stride(1) != 1 || (rows > 1 && x.stride(0) < k)) {
      throw new IllegalArgumentException(
          "x must be contiguous in its last dimension with non-overlapping rows, got strides "
              + java.util.Arrays.toString(x.strides().vec().get()));
    }
    long[] nk = projectionShape(weight);
    if (nk == null || nk[1] != k) {
      throw new IllegalArgumentException(
          "weight must be 2-D [N, "
              + k
              + "] (or packed bf16 [N / 64, "
              + k / 2
              + ", 64, 2]) to match x, got "
              + shapeOf(weight));
    }
    int dtype;
    if (isPackedBf16(weight)) {
      dtype = NativeKernels.ARPO_BF16_PACKED;
      Isa runs = isa == Isa.AUTO ? Isa.best() : isa;
      if (runs != Isa.AVX512_BF16) {
        throw new IllegalArgumentException(
            "packed bf16 weights run on the AVX512_BF16 path only, not " + runs);
      }
    } else if (is(weight.scalar_type(), ScalarType.Float)) {
      dtype = NativeKernels.ARPO_F32;
    } else if (is(weight.scalar_type(), ScalarType.BFloat16)) {
      dtype = NativeKernels.ARPO_BF16;
    } else {
      throw new IllegalArgumentException(
          "weight must be float32 or bfloat16, got " + weight.scalar_type());
    }
    if (!weight.is_contiguous())
      throw new IllegalArgumentException("weight must be contiguous; call .contiguous() first");
    long n = nk[0];
    if (n <= 0) throw new IllegalArgumentException("weight must be non-empty");
    if (bias != null) {
      if (bias.dim() != 1 || bias.size(0) != n || !is(bias.scalar_type(), ScalarType.Float)) {
        throw new IllegalArgumentException(
            "bias must be float32 [" + n + "], got " + bias.scalar_type() + " " + shapeOf(bias));
      }
      if (!bias.is_contiguous())
        throw new IllegalArgumentException("bias must be contiguous; call .contiguous() first");
    }
    if (!isa.supported())
      throw new IllegalArgumentException("this CPU cannot run the " + isa + " path");
    Tensor y =
        x.new_empty(
            new long[] {rows, n},
            new ScalarTypeOptional(ScalarType.Float),
            new LayoutOptional(),
            new DeviceOptional(),
            new BoolOptional());
    int rc =
        NativeKernels.arpo_decode_matmul(
            floats(x),
            rows,
            k,
            rows > 1 ? x.stride(0) : k,
            weight.data_ptr(),
            dtype,
            n,
            floats(bias),
            floats(y),
            org.bytedeco.pytorch.global.torch.get_num_threads(),
            isa.code);
    checkStatus(KernelBackend.Cpu.INSTANCE, rc);
    return y;
  }

  /**
   * Which cached keys each query row of {@link #pagedAttention} attends, checked once and then
   * shared by every layer of a forward pass (see {@link #pagedTable}).
   */
  public static final class PagedTable {
    private final Tensor blockTable;
    private final Tensor seqRows;
    private final Tensor lengths;
    private final int blockSize;
    private final long rows;
    private final long minSlots;
    private final Tensor writeSlots;

    private PagedTable(
        Tensor blockTable,
        Tensor seqRows,
        Tensor lengths,
        int blockSize,
        long minSlots,
        Tensor writeSlots) {
      this.blockTable = blockTable;
      this.seqRows = seqRows;
      this.lengths = lengths;
      this.blockSize = blockSize;
      this.rows = seqRows.size(0);
      this.minSlots = minSlots;
      this.writeSlots = writeSlots;
    }

    /** Query rows. */
    public long rows() {
      return rows;
    }
  }

  /**
   * Checks the block tables of a paged key/value cache for {@link #pagedAttention}: query row r
   * belongs to the sequence whose block ids are row {@code seqRows[r]} of {@code blockTable}, and
   * attends its keys at positions 0 .. {@code lengths[r] - 1}, position p lying in slot {@code
   * blockTable[seqRows[r], p / blockSize] * blockSize + p % blockSize} of the pools. All int32 on
   * the CPU, contiguous; every entry of the table must be a block id (>= 0; the pools must hold the
   * largest), lengths in [1, blockSize * table columns].
   *
   * @param blockTable int32 [sequences, max blocks]
   * @param seqRows int32 [N]: the table row of each query row
   * @param lengths int32 [N]: keys each query row attends
   */
  public static PagedTable pagedTable(
      Tensor blockTable, Tensor seqRows, Tensor lengths, int blockSize) {
    return pagedTable(blockTable, seqRows, lengths, blockSize, null);
  }

  /**
   * {@link #pagedTable(Tensor, Tensor, Tensor, int)} for a decode step that also writes each row's
   * new key and value ({@link #decodeLayer}): row r's into slot {@code writeSlots[r]} (int64 [N] on
   * the CPU, contiguous, slots the table's blocks hold), or null where nothing is written.
   */
  public static PagedTable pagedTable(
      Tensor blockTable, Tensor seqRows, Tensor lengths, int blockSize, Tensor writeSlots) {
    requireDefined("blockTable", blockTable);
    if (blockTable.dim() != 2 || blockTable.numel() == 0) {
      throw new IllegalArgumentException(
          "blockTable must be non-empty 2-D [sequences, blocks], got " + shapeOf(blockTable));
    }
    requireCpuInts("blockTable", blockTable);
    requireDefined("seqRows", seqRows);
    if (seqRows.dim() != 1 || seqRows.numel() == 0) {
      throw new IllegalArgumentException(
          "seqRows must be non-empty 1-D [N], got " + shapeOf(seqRows));
    }
    requireCpuInts("seqRows", seqRows);
    requireDefined("lengths", lengths);
    if (lengths.dim() != 1 || lengths.size(0) != seqRows.size(0)) {
      throw new IllegalArgumentException(
          "lengths must be 1-D [" + seqRows.size(0) + "] like seqRows, got " + shapeOf(lengths));
    }
    requireCpuInts("lengths", lengths);
    if (blockSize < 1)
      throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
    long sequences = blockTable.size(0);
    long maxLength = blockTable.size(1) * blockSize;
    requireRange("seqRows", seqRows, 0, sequences - 1);
    requireRange("lengths", lengths, 1, maxLength);
    long[] blocks = cpuMinMax(blockTable);
    long minBlock = blocks[0];
    if (minBlock < 0) {
      throw new IllegalArgumentException(
          "blockTable entries must be block ids >= 0, found " + minBlock);
    }
    long maxBlock = blocks[1];
    long minSlots = (maxBlock + 1) * blockSize;
    if (writeSlots != null) {
      if (writeSlots.dim() != 1 || writeSlots.size(0) != seqRows.size(0)) {
        throw new IllegalArgumentException(
            "writeSlots must be 1-D ["
                + seqRows.size(0)
                + "] like seqRows, got "
                + shapeOf(writeSlots));
      }
      if (!is(writeSlots.scalar_type(), ScalarType.Long)
          || !writeSlots.is_cpu()
          || !writeSlots.is_contiguous()) {
        throw new IllegalArgumentException("writeSlots must be int64, contiguous, on the CPU");
      }
      requireRange("writeSlots", writeSlots, 0, minSlots - 1);
    }
    return new PagedTable(blockTable, seqRows, lengths, blockSize, minSlots, writeSlots);
  }

  /**
   * Decode attention over a paged key/value cache, reading keys and values in place: for each query
   * row r and head h, softmax(scale * q[r, h] . k) over the keys {@code table} gives row r,
   * weighting their values; query head h reads kv head h / (heads / kvHeads) (grouped-query
   * attention). fp32 accumulation. CPU only (a CUDA cache keeps libtorch's attention).
   *
   * @param q [N, heads, headDim], fp32 or bf16, contiguous, on the CPU
   * @param keyPool [slots, kvHeads, headDim] in q's dtype, contiguous, holding every block the
   *     table names
   * @param valuePool the same shape and dtype as keyPool
   * @return [N, heads, headDim] in q's dtype, new
   */
  public static Tensor pagedAttention(
      Tensor q, Tensor keyPool, Tensor valuePool, PagedTable table, float scale) {
    requireDefined("q", q);
    if (table == null) throw new IllegalArgumentException("table must not be null");
    if (q.dim() != 3 || q.size(0) != table.rows) {
      throw new IllegalArgumentException(
          "q must be 3-D [" + table.rows + ", heads, headDim], got " + shapeOf(q));
    }
    int dtype = attentionType("q", q);
    long heads = q.size(1), headDim = q.size(2);
    requireDefined("keyPool", keyPool);
    if (keyPool.dim() != 3 || keyPool.size(2) != headDim) {
      throw new IllegalArgumentException(
          "keyPool must be 3-D [slots, kvHeads, " + headDim + "], got " + shapeOf(keyPool));
    }
    requireDefined("valuePool", valuePool);
    if (!java.util.Arrays.equals(keyPool.sizes().vec().get(), valuePool.sizes().vec().get())) {
      throw new IllegalArgumentException(
          "valuePool must have keyPool's shape "
              + shapeOf(keyPool)
              + ", got "
              + shapeOf(valuePool));
    }
    for (Tensor pool : new Tensor[] {keyPool, valuePool}) {
      String name = pool == keyPool ? "keyPool" : "valuePool";
      if (attentionType(name, pool) != dtype) {
        throw new IllegalArgumentException(
            name + " must have q's dtype " + q.scalar_type() + ", got " + pool.scalar_type());
      }
    }
    long kvHeads = keyPool.size(1);
    if (heads <= 0 || headDim <= 0 || kvHeads <= 0 || heads % kvHeads != 0) {
      throw new IllegalArgumentException(
          "q's heads ("
              + heads
              + ") must be a positive multiple of the pools' kvHeads ("
              + kvHeads
              + "), headDim > 0");
    }
    if (keyPool.size(0) < table.minSlots) {
      throw new IllegalArgumentException(
          "the pools hold "
              + keyPool.size(0)
              + " slots but the block table names blocks up to slot "
              + (table.minSlots - 1));
    }
    if (!Float.isFinite(scale)) throw new IllegalArgumentException("scale must be finite");
    Tensor out =
        q.new_empty(
            new long[] {table.rows, heads, headDim},
            new ScalarTypeOptional(),
            new LayoutOptional(),
            new DeviceOptional(),
            new BoolOptional());
    int rc =
        NativeKernels.arpo_paged_attention(
            q.data_ptr(),
            keyPool.data_ptr(),
            valuePool.data_ptr(),
            dtype,
            table.rows,
            heads,
            kvHeads,
            headDim,
            ints(table.blockTable),
            table.blockTable.size(1),
            table.blockSize,
            ints(table.seqRows),
            ints(table.lengths),
            scale,
            out.data_ptr());
    checkStatus(KernelBackend.Cpu.INSTANCE, rc);
    return out;
  }

  // ---- fused decode layer ------------------------------------------------------------------

  /**
   * One decoder layer's tensors, for {@link #decodeLayer} and as the model holds its layers: HF
   * names, {@code [out, in]} weights. Biases and the per-head norms (Qwen3) may be null.
   */
  public record LayerTensors(
      Tensor inputNorm,
      Tensor q,
      Tensor qBias,
      Tensor k,
      Tensor kBias,
      Tensor v,
      Tensor vBias,
      Tensor qNorm,
      Tensor kNorm,
      Tensor o,
      Tensor oBias,
      Tensor postNorm,
      Tensor gate,
      Tensor gateBias,
      Tensor up,
      Tensor upBias,
      Tensor down,
      Tensor downBias) {}

  /**
   * A decoder layer checked once for {@link #decodeLayer}, whose native description points at the
   * tensors' memory: valid while they live and keep their storage (updates in place are fine). Not
   * tied to any pointer scope; {@link #close} frees the description.
   */
  public static final class DecodeLayer implements AutoCloseable {
    private final NativeKernels.LayerWeights weights;
    private final long hidden, heads, kvHeads, headDim, intermediate;
    private final float rmsEps;

    private DecodeLayer(
        NativeKernels.LayerWeights weights,
        long hidden,
        long heads,
        long kvHeads,
        long headDim,
        long intermediate,
        float rmsEps) {
      this.weights = weights;
      this.hidden = hidden;
      this.heads = heads;
      this.kvHeads = kvHeads;
      this.headDim = headDim;
      this.intermediate = intermediate;
      this.rmsEps = rmsEps;
    }

    @Override
    public void close() {
      weights.releaseReference();
    }
  }

  /**
   * Checks a layer's tensors for {@link #decodeLayer}: every weight on the CPU, contiguous; the
   * seven projections all fp32 or all bf16 ({@code q [heads * D, H]}, {@code k, v [kvHeads * D,
   * H]}, {@code o [H, heads * D]}, {@code gate, up [I, H]}, {@code down [H, I]}); norms and biases
   * fp32 of their output's size.
   */
  public static DecodeLayer decodeLayer(LayerTensors t, int heads, int kvHeads, double rmsEps) {
    if (t == null) throw new IllegalArgumentException("layer tensors must not be null");
    if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0) {
      throw new IllegalArgumentException(
          "heads (" + heads + ") must be a positive multiple of kvHeads (" + kvHeads + ")");
    }
    if (!(rmsEps >= 0) || !Double.isFinite(rmsEps))
      throw new IllegalArgumentException("rmsEps must be finite and >= 0, got " + rmsEps);
    long h = requireVector("inputNorm", t.inputNorm(), -1);
    requireDefined("q", t.q());
    long[] qShape = projectionShape(t.q());
    if (qShape == null || qShape[0] % heads != 0) {
      throw new IllegalArgumentException(
          "q must be 2-D [heads * headDim, "
              + h
              + "] with heads = "
              + heads
              + ", got "
              + shapeOf(t.q()));
    }
    long d = qShape[0] / heads;
    if (d <= 0 || d % 2 != 0)
      throw new IllegalArgumentException("headDim must be even and > 0, got " + d);
    requireDefined("gate", t.gate());
    long[] gateShape = projectionShape(t.gate());
    long inter = gateShape != null ? gateShape[0] : -1;
    int dtype = requireProjection("q", t.q(), heads * d, h, -1);
    requireProjection("k", t.k(), kvHeads * d, h, dtype);
    requireProjection("v", t.v(), kvHeads * d, h, dtype);
    requireProjection("o", t.o(), h, heads * d, dtype);
    requireProjection("gate", t.gate(), inter, h, dtype);
    requireProjection("up", t.up(), inter, h, dtype);
    requireProjection("down", t.down(), h, inter, dtype);
    requireVector("postNorm", t.postNorm(), h);
    NativeKernels.LayerWeights w = new NativeKernels.LayerWeights();
    w.retainReference(); // owned by the DecodeLayer, whatever pointer scope is open
    w.input_norm(floats(t.inputNorm()))
        .q(t.q().data_ptr())
        .q_bias(optionalVector("qBias", t.qBias(), heads * d))
        .k(t.k().data_ptr())
        .k_bias(optionalVector("kBias", t.kBias(), kvHeads * d))
        .v(t.v().data_ptr())
        .v_bias(optionalVector("vBias", t.vBias(), kvHeads * d))
        .q_norm(optionalVector("qNorm", t.qNorm(), d))
        .k_norm(optionalVector("kNorm", t.kNorm(), d))
        .o(t.o().data_ptr())
        .o_bias(optionalVector("oBias", t.oBias(), h))
        .post_norm(floats(t.postNorm()))
        .gate(t.gate().data_ptr())
        .gate_bias(optionalVector("gateBias", t.gateBias(), inter))
        .up(t.up().data_ptr())
        .up_bias(optionalVector("upBias", t.upBias(), inter))
        .down(t.down().data_ptr())
        .down_bias(optionalVector("downBias", t.downBias(), h))
        .weight_dtype(dtype);
    return new DecodeLayer(w, h, heads, kvHeads, d, inter, (float) rmsEps);
  }

  /**
   * Runs one decoder layer over N new tokens (native/include/arpo4j.h, arpo_decode_layer) in place
   * on {@code hidden}: norm, q/k/v, rotary, the new keys and values written to the pools at the
   * table's write slots, attention over the paged cache, o, norm, SwiGLU MLP, both residuals. Rows
   * may belong to one sequence at consecutive positions (a prefill): every row's key is written
   * before any row attends, so each sees the earlier ones up to its table length. Meant for a
   * decode step (1-{@value #DECODE_MAX_ROWS} rows, each weight read once) and works for more, in
   * blocks of 64 rows.
   *
   * @param hidden fp32 [N, H] on the CPU, contiguous, N = the table's rows
   * @param cos fp32 [N, headDim], the rows' rotary cosines (scaling applied), contiguous
   * @param sin likewise
   * @param keyPool fp32 [slots, kvHeads, headDim], contiguous, holding the table's blocks
   * @param valuePool likewise
   * @param table from {@link #pagedTable(Tensor, Tensor, Tensor, int, Tensor)} with write slots
   */
  public static void decodeLayer(
      DecodeLayer layer,
      Tensor hidden,
      Tensor cos,
      Tensor sin,
      Tensor keyPool,
      Tensor valuePool,
      PagedTable table,
      float scale) {
    if (layer == null || table == null)
      throw new IllegalArgumentException("layer and table must not be null");
    if (table.writeSlots == null)
      throw new IllegalArgumentException(
          "the table must name the write slots (pagedTable with writeSlots)");
    long n = table.rows;
    requireCpuFloats("hidden", hidden, n, layer.hidden);
    requireCpuFloats("cos", cos, n, layer.headDim);
    requireCpuFloats("sin", sin, n, layer.headDim);
    for (Tensor pool : new Tensor[] {keyPool, valuePool}) {
      String name = pool == keyPool ? "keyPool" : "valuePool";
      requireDefined(name, pool);
      if (pool.dim() != 3 || pool.size(1) != layer.kvHeads || pool.size(2) != layer.headDim) {
        throw new IllegalArgumentException(
            name
                + " must be [slots, "
                + layer.kvHeads
                + ", "
                + layer.headDim
                + "], got "
                + shapeOf(pool));
      }
      if (attentionType(name, pool) != NativeKernels.ARPO_F32)
        throw new IllegalArgumentException(name + " must be float32, got " + pool.scalar_type());
      if (pool.size(0) < table.minSlots) {
        throw new IllegalArgumentException(
            name
                + " holds "
                + pool.size(0)
                + " slots but the table names slots up to "
                + (table.minSlots - 1));
      }
    }
    if (!Float.isFinite(scale)) throw new IllegalArgumentException("scale must be finite");
    int rc =
        NativeKernels.arpo_decode_layer(
            floats(hidden),
            n,
            layer.hidden,
            layer.heads,
            layer.kvHeads,
            layer.headDim,
            layer.intermediate,
            layer.rmsEps,
            layer.weights,
            floats(cos),
            floats(sin),
            floats(keyPool),
            floats(valuePool),
            longs(table.writeSlots),
            ints(table.blockTable),
            table.blockTable.size(1),
            table.blockSize,
            ints(table.seqRows),
            ints(table.lengths),
            scale,
            0);
    checkStatus(KernelBackend.Cpu.INSTANCE, rc);
  }

  /** The arpo_dtype of a CPU, contiguous [rows, cols] fp32 or bf16 weight, or a packed one. */
  private static int requireProjection(String name, Tensor w, long rows, long cols, int dtype) {
    requireDefined(name, w);
    long[] shape = projectionShape(w);
    if (shape == null || shape[0] != rows || shape[1] != cols || rows <= 0 || cols <= 0) {
      throw new IllegalArgumentException(
          name + " must be 2-D [" + rows + ", " + cols + "], got " + shapeOf(w));
    }
    int type = attentionType(name, w);
    if (isPackedBf16(w)) type = NativeKernels.ARPO_BF16_PACKED;
    if (dtype >= 0 && type != dtype) {
      throw new IllegalArgumentException(
          name + " must have q's dtype (all projections one dtype), got " + w.scalar_type());
    }
    return type;
  }

  /** The length of a CPU, contiguous fp32 vector (of {@code length} when that is >= 0). */
  private static long requireVector(String name, Tensor t, long length) {
    requireDefined(name, t);
    if (t.dim() != 1 || (length >= 0 && t.size(0) != length) || t.size(0) <= 0) {
      throw new IllegalArgumentException(
          name + " must be 1-D [" + (length >= 0 ? length : "H") + "], got " + shapeOf(t));
    }
    if (attentionType(name, t) != NativeKernels.ARPO_F32)
      throw new IllegalArgumentException(name + " must be float32, got " + t.scalar_type());
    return t.size(0);
  }

  private static FloatPointer optionalVector(String name, Tensor t, long length) {
    if (t == null) return null;
    requireVector(name, t, length);
    return floats(t);
  }

  private static void requireCpuFloats(String name, Tensor t, long rows, long cols) {
    requireDefined(name, t);
    if (t.dim() != 2 || t.size(0) != rows || t.size(1) != cols) {
      throw new IllegalArgumentException(
          name + " must be [" + rows + ", " + cols + "], got " + shapeOf(t));
    }
    if (attentionType(name, t) != NativeKernels.ARPO_F32)
      throw new IllegalArgumentException(name + " must be float32, got " + t.scalar_type());
  }

  // ---- argument checks -------------------------------------------------------------------

  /** A checked [rows, vocab] logits matrix with its kernel-facing description. */
  private record Logits(
      Tensor tensor, long rows, long vocab, long stride, int dtype, Pointer data) {
    static Logits check(String name, Tensor t) {
      requireDefined(name, t);
      if (t.dim() != 2)
        throw new IllegalArgumentException(name + " must be 2-D [N, V], got " + shapeOf(t));
      int dtype;
      ScalarType st = t.scalar_type();
      if (is(st, ScalarType.Float)) {
        dtype = NativeKernels.ARPO_F32;
      } else if (is(st, ScalarType.BFloat16)) {
        dtype = NativeKernels.ARPO_BF16;
      } else {
        throw new IllegalArgumentException(name + " must be float32 or bfloat16, got " + st);
      }
      long rows = t.size(0), vocab = t.size(1);
      if (rows <= 0 || vocab <= 0)
        throw new IllegalArgumentException(name + " must be non-empty, got " + shapeOf(t));
      if (t.stride(1) != 1) {
        throw new IllegalArgumentException(
            name
                + " must be contiguous in its last dimension (stride 1), got stride "
                + t.stride(1)
                + "; call .contiguous() first");
      }
      long stride = t.stride(0);
      if (rows > 1 && stride < vocab) {
        throw new IllegalArgumentException(
            name + " rows overlap: row stride " + stride + " < V = " + vocab);
      }
      requireDevice(name, t);
      return new Logits(t, rows, vocab, Math.max(stride, vocab), dtype, t.data_ptr());
    }

    void requireTargets(String name, Tensor targets) {
      requireDefined(name, targets);
      if (targets.dim() != 1 || targets.size(0) != rows) {
        throw new IllegalArgumentException(
            name + " must be 1-D [" + rows + "], got " + shapeOf(targets));
      }
      if (!is(targets.scalar_type(), ScalarType.Long)) {
        throw new IllegalArgumentException(name + " must be int64, got " + targets.scalar_type());
      }
      requireContiguousOn(name, targets, tensor);
      long min = targets.min().item_long(), max = targets.max().item_long();
      if (min < 0 || max >= vocab) {
        throw new IllegalArgumentException(
            name + " must lie in [0, " + vocab + "), found values in [" + min + ", " + max + "]");
      }
    }

    void requireRowVector(String name, Tensor v) {
      requireDefined(name, v);
      if (v.dim() != 1 || v.size(0) != rows) {
        throw new IllegalArgumentException(name + " must be 1-D [" + rows + "], got " + shapeOf(v));
      }
      if (!is(v.scalar_type(), ScalarType.Float)) {
        throw new IllegalArgumentException(name + " must be float32, got " + v.scalar_type());
      }
      requireContiguousOn(name, v, tensor);
    }
  }

  private static long[] requireTokenMatrix(String name, Tensor t) {
    requireDefined(name, t);
    if (t.dim() != 1 && t.dim() != 2) {
      throw new IllegalArgumentException(name + " must be [S, L] or [L], got " + shapeOf(t));
    }
    if (!is(t.scalar_type(), ScalarType.Float)) {
      throw new IllegalArgumentException(name + " must be float32, got " + t.scalar_type());
    }
    if (t.numel() == 0) throw new IllegalArgumentException(name + " must be non-empty");
    if (!t.is_contiguous())
      throw new IllegalArgumentException(name + " must be contiguous; call .contiguous() first");
    requireDevice(name, t);
    return t.dim() == 2 ? new long[] {t.size(0), t.size(1)} : new long[] {1, t.size(0)};
  }

  private static void requireSameTokenMatrix(String name, Tensor t, Tensor ref, long[] shape) {
    long[] s = requireTokenMatrix(name, t);
    if (t.dim() != ref.dim() || s[0] != shape[0] || s[1] != shape[1]) {
      throw new IllegalArgumentException(
          name + " must have the shape of logprob " + shapeOf(ref) + ", got " + shapeOf(t));
    }
    requireContiguousOn(name, t, ref);
  }

  private static void requireContiguousOn(String name, Tensor t, Tensor ref) {
    if (!t.is_contiguous())
      throw new IllegalArgumentException(name + " must be contiguous; call .contiguous() first");
    if (t.is_cuda() != ref.is_cuda()
        || (t.is_cuda() && t.device().index() != ref.device().index())) {
      throw new IllegalArgumentException(
          name
              + " is on "
              + t.device().str().getString()
              + " but the kernel input is on "
              + ref.device().str().getString());
    }
  }

  /** The header's arpo_dtype of a contiguous CPU fp32 or bf16 attention operand. */
  private static int attentionType(String name, Tensor t) {
    if (!t.is_cpu()) {
      throw new IllegalArgumentException(
          name
              + " must be on the CPU (this kernel has no CUDA version), got "
              + t.device().str().getString());
    }
    if (!t.is_contiguous())
      throw new IllegalArgumentException(name + " must be contiguous; call .contiguous() first");
    ScalarType st = t.scalar_type();
    if (is(st, ScalarType.Float)) return NativeKernels.ARPO_F32;
    if (is(st, ScalarType.BFloat16)) return NativeKernels.ARPO_BF16;
    throw new IllegalArgumentException(name + " must be float32 or bfloat16, got " + st);
  }

  private static void requireCpuInts(String name, Tensor t) {
    if (!is(t.scalar_type(), ScalarType.Int)) {
      throw new IllegalArgumentException(name + " must be int32, got " + t.scalar_type());
    }
    if (!t.is_cpu()) {
      throw new IllegalArgumentException(
          name + " must be on the CPU, got " + t.device().str().getString());
    }
    if (!t.is_contiguous())
      throw new IllegalArgumentException(name + " must be contiguous; call .contiguous() first");
  }

  /** Checks the values of a contiguous int32 or int64 CPU tensor against [min, max]. */
  private static void requireRange(String name, Tensor t, long min, long max) {
    long[] range = cpuMinMax(t);
    long lo = range[0], hi = range[1];
    if (lo < min || hi > max) {
      throw new IllegalArgumentException(
          name
              + " must lie in ["
              + min
              + ", "
              + max
              + "], found values in ["
              + lo
              + ", "
              + hi
              + "]");
    }
  }

  /**
   * {min, max} of a non-empty contiguous int32 or int64 CPU tensor, read in place: a decode step
   * checks its block tables every time, and two libtorch reductions per tensor cost more than the
   * step's own bookkeeping on a small model.
   */
  private static long[] cpuMinMax(Tensor t) {
    int n = Math.toIntExact(t.numel());
    IntToLongFunction value =
        is(t.scalar_type(), ScalarType.Long)
            ? new LongPointer(t.data_ptr()).capacity(n).asBuffer()::get
            : new IntPointer(t.data_ptr()).capacity(n).asBuffer()::get;
    long lo = Long.MAX_VALUE, hi = Long.MIN_VALUE;
    for (int i = 0; i < n; i++) {
      long v = value.applyAsLong(i);
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    return new long[] {lo, hi};
  }

  private static void requireDevice(String name, Tensor t) {
    if (!t.is_cuda() && !t.is_cpu()) {
      throw new IllegalArgumentException(
          name + " must be on the CPU or a CUDA device, got " + t.device().str().getString());
    }
  }

  private static void requireDefined(String name, Tensor t) {
    if (t == null || t.isNull() || !t.defined())
      throw new IllegalArgumentException(name + " must not be null");
  }

  private static void requirePositiveTemperature(float temperature) {
    if (!(temperature > 0f) || !Float.isFinite(temperature)) {
      throw new IllegalArgumentException("temperature must be finite and > 0, got " + temperature);
    }
  }

  /** ScalarType values returned by libtorch are not interned: compare their codes. */
  static boolean is(ScalarType a, ScalarType b) {
    return a.value == b.value;
  }

  static String shapeOf(Tensor t) {
    return java.util.Arrays.toString(t.sizes().vec().get());
  }

  // ---- plumbing --------------------------------------------------------------------------

  static Tensor floatVector(Tensor like, long n) {
    return like.new_empty(
        new long[] {n},
        new ScalarTypeOptional(ScalarType.Float),
        new LayoutOptional(),
        new DeviceOptional(),
        new BoolOptional());
  }

  private static FloatPointer floats(Tensor t) {
    return t == null ? null : new FloatPointer(t.data_ptr());
  }

  private static IntPointer ints(Tensor t) {
    return new IntPointer(t.data_ptr());
  }

  private static LongPointer longs(Tensor t) {
    return t == null ? null : new LongPointer(t.data_ptr());
  }

  private static void checkStatus(KernelBackend backend, int rc) {
    if (rc == NativeKernels.ARPO_OK) return;
    throw new IllegalStateException(
        "arpo4j kernel failed (code " + rc + "): " + backend.lastError());
  }
}
