package io.arpo4j.trainer;

import io.arpo4j.distributed.ParameterShards;
import io.arpo4j.kernels.BlasThreads;
import io.arpo4j.kernels.FusedLogprob;
import io.arpo4j.kernels.Kernels;
import io.arpo4j.model.NativeSection;
import io.arpo4j.model.TransformerModel;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Per-token log-probabilities and entropies of response tokens, and the backward pass of a {@link
 * TokenLoss} through the model, without ever holding the logits of a whole micro-batch: the LM head
 * runs over chunks of at most {@code chunkTokens} tokens, and each chunk's logits buffer is
 * overwritten by its own gradient (the fused kernels) and freed before the next.
 *
 * <p>Rows are grouped into micro-batches whose padded size stays under a token budget; the caller
 * accumulates gradients over them. When the model is sharded ({@code distributed.sharding: full})
 * every pass communicates, so every rank runs as many as the busiest: {@link #passes} and {@link
 * #idleBackward}.
 */
public final class TokenBackprop {
  private final TransformerModel model;
  private final float temperature;
  private final int chunkTokens;
  private final Device device;

  public TokenBackprop(TransformerModel model, float temperature, int chunkTokens) {
    if (!(temperature > 0) || !Float.isFinite(temperature)) {
      throw new IllegalArgumentException("temperature must be > 0, got " + temperature);
    }
    if (chunkTokens < 1)
      throw new IllegalArgumentException("chunkTokens must be >= 1, got " + chunkTokens);
    this.model = model;
    this.temperature = temperature;
    this.chunkTokens = chunkTokens;
    this.device = new Device(model.runtime().device());
  }

  /**
   * Splits rows (in order) into micro-batches of at most {@code tokenBudget} padded tokens each.
   */
  public static List<int[]> microBatches(List<TrainingRow> rows, int tokenBudget) {
    List<int[]> out = new ArrayList<>();
    List<Integer> current = new ArrayList<>();
    int maxLen = 0;
    for (int i = 0; i < rows.size(); i++) {
      int len = rows.get(i).tokens().length;
      int newMax = Math.max(maxLen, len);
      if (!current.isEmpty() && (long) newMax * (current.size() + 1) > tokenBudget) {
        out.add(current.stream().mapToInt(Integer::intValue).toArray());
        current.clear();
        newMax = len;
      }
      current.add(i);
      maxLen = newMax;
    }
    if (!current.isEmpty()) out.add(current.stream().mapToInt(Integer::intValue).toArray());
    return out;
  }

  /** Log-probability and entropy of every response token of each row (no grad). */
  public float[][][] score(List<TrainingRow> rows, int tokenBudget) {
    float[][] logprob = new float[rows.size()][], entropy = new float[rows.size()][];
    try (NoGradGuard noGrad = new NoGradGuard()) {
      List<int[]> micros = microBatches(rows, tokenBudget);
      int idle = passes(micros.size()) - micros.size();
      for (int[] micro : micros) {
        try (NativeSection section = NativeSection.enter();
            BlasThreads products = BlasThreads.training();
            PointerScope scope = new PointerScope();
            TransformerModel.Held outer = model.holdOuter()) {
          Layout layout = new Layout(rows, micro);
          Tensor hidden = selectedHidden(layout);
          float[] lp = new float[layout.tokens], h = new float[layout.tokens];
          for (int c0 = 0; c0 < layout.tokens; c0 += chunkTokens) {
            int len = Math.min(chunkTokens, layout.tokens - c0);
            try (PointerScope chunk = new PointerScope()) { // frees this chunk's logits now
              Tensor logits = model.project(hidden.narrow(0, c0, len));
              Kernels.TokenStats stats =
                  Kernels.tokenStats(logits, layout.targets.narrow(0, c0, len), temperature);
              copyOut(stats.logprob(), lp, c0);
              copyOut(stats.entropy(), h, c0);
            }
          }
          int k = 0;
          for (int i = 0; i < micro.length; i++) {
            int n = rows.get(micro[i]).responseLength();
            logprob[micro[i]] = java.util.Arrays.copyOfRange(lp, k, k + n);
            entropy[micro[i]] = java.util.Arrays.copyOfRange(h, k, k + n);
            k += n;
          }
        }
      }
      for (int i = 0; i < idle; i++) {
        try (NativeSection section = NativeSection.enter()) {
          shards().idlePass(false);
        }
      }
    }
    return new float[][][] {logprob, entropy};
  }

  private ParameterShards shards() {
    return model.residency() instanceof ParameterShards s ? s : null;
  }

  /**
   * The micro-batch passes this rank runs when it has {@code local}: under full sharding the most
   * any rank has (each pass gathers every block), else {@code local}. A collective under full
   * sharding: call it once, before the passes.
   */
  public int passes(int local) {
    ParameterShards s = shards();
    return s == null ? local : s.passes(local);
  }

  /**
   * A backward pass without rows, for a rank with fewer micro-batches than {@link #passes}: under
   * full sharding it joins the other ranks' gathers and reduce-scatters with zero gradients.
   */
  public void idleBackward() {
    ParameterShards s = shards();
    if (s == null) return;
    try (NativeSection section = NativeSection.enter()) {
      s.idlePass(true);
    }
  }

  /**
   * Forward and backward of {@code loss} over the micro-batch {@code micro} of {@code rows}:
   * gradients accumulate into the model's parameters. Returns the loss value and its metrics.
   */
  public TokenLoss.Value backward(List<TrainingRow> rows, int[] micro, TokenLoss loss) {
    try (NativeSection section = NativeSection.enter();
        BlasThreads products = BlasThreads.training();
        PointerScope scope = new PointerScope()) {
      Layout layout = new Layout(rows, micro);
      TransformerModel.Checkpointed checkpointed =
          model.gradientCheckpointing() ? model.checkpointedHidden(ids(layout)) : null;
      try (checkpointed) {
        return backward(layout, micro, loss, checkpointed);
      }
    }
  }

  private TokenLoss.Value backward(
      Layout layout, int[] micro, TokenLoss loss, TransformerModel.Checkpointed checkpointed) {
    // [tokens, D], in the autograd graph
    Tensor hidden =
        select(
            layout, checkpointed == null ? model.hiddenStates(ids(layout)) : checkpointed.hidden());
    Tensor lpFlat = torch.empty(layout.tokens), hFlat = torch.empty(layout.tokens);
    Tensor detached = hidden.detach().requires_grad_(true);
    Tensor head = model.lmHead(); // cast once per micro-batch under mixed precision
    // One chunk: its logits are computed once, in the graph, and serve both the statistics and
    // the backward. More: the logits of all chunks would not fit at once (the reason for
    // chunking), so pass 1 computes each chunk's statistics without a graph and pass 2 recomputes
    // each chunk's logits in the graph.
    FusedLogprob single = null;
    if (layout.tokens <= chunkTokens) {
      single =
          FusedLogprob.forward(
              TransformerModel.project(detached, head), layout.targets, temperature);
      lpFlat.copy_(single.logprob().cpu());
      hFlat.copy_(single.entropy().cpu());
    } else {
      try (NoGradGuard noGrad = new NoGradGuard()) {
        for (int c0 = 0; c0 < layout.tokens; c0 += chunkTokens) {
          int len = Math.min(chunkTokens, layout.tokens - c0);
          // an inner scope: the outer one would keep every chunk's logits alive until the end
          try (PointerScope chunk = new PointerScope()) {
            Kernels.TokenStats stats =
                Kernels.tokenStats(
                    model.project(hidden.narrow(0, c0, len)),
                    layout.targets.narrow(0, c0, len),
                    temperature);
            lpFlat.narrow(0, c0, len).copy_(stats.logprob().cpu());
            hFlat.narrow(0, c0, len).copy_(stats.entropy().cpu());
          }
        }
      }
    }
    TokenLoss.Value value =
        loss.evaluate(micro, layout.pad(lpFlat), layout.pad(hFlat), layout.mask);
    Tensor gLp = layout.unpad(value.gradLogprob());
    Tensor gH = value.gradEntropy() == null ? null : layout.unpad(value.gradEntropy());
    if (single != null) {
      single.backward(toDevice(gLp), gH == null ? null : toDevice(gH));
    } else {
      for (int c0 = 0; c0 < layout.tokens; c0 += chunkTokens) {
        int len = Math.min(chunkTokens, layout.tokens - c0);
        try (PointerScope chunk =
            new PointerScope()) { // the chunk's logits/gradient buffer, freed here
          Tensor logits = TransformerModel.project(detached.narrow(0, c0, len), head);
          FusedLogprob f =
              FusedLogprob.forward(logits, layout.targets.narrow(0, c0, len), temperature);
          f.backward(
              toDevice(gLp.narrow(0, c0, len)),
              gH == null ? null : toDevice(gH.narrow(0, c0, len)));
        }
      }
    }
    hidden.backward(detached.grad(), new BoolOptional(), false, new TensorArrayRefOptional());
    if (checkpointed != null) {
      checkpointed.backward(); // the decoder layers, recomputed one at a time
    }
    return value;
  }

  private Tensor toDevice(Tensor t) {
    return model.runtime().isCuda() ? t.to(device, ScalarType.Float).contiguous() : t.contiguous();
  }

  private Tensor selectedHidden(Layout layout) {
    return select(layout, model.hiddenStates(ids(layout)));
  }

  private Tensor ids(Layout layout) {
    return torch.tensor(layout.ids).view(layout.batch, layout.width).to(device, ScalarType.Long);
  }

  /** The hidden states [tokens, D] that predict the response tokens, out of [B, T, D]. */
  private Tensor select(Layout layout, Tensor hidden) {
    Tensor flat = hidden.reshape(layout.batch * layout.width, hidden.size(2));
    Tensor index = torch.tensor(layout.predictorIndex).to(device, ScalarType.Long);
    return flat.index_select(0, index);
  }

  private static void copyOut(Tensor t, float[] out, int offset) {
    Tensor c = t.cpu().contiguous();
    float[] tmp = new float[(int) c.numel()];
    c.data_ptr_float().get(tmp);
    System.arraycopy(tmp, 0, out, offset, tmp.length);
  }

  /**
   * Where the response tokens of a micro-batch sit: in the right-padded id matrix, in the flat list
   * of predicted tokens (the hidden state at position p - 1 predicts token p), and in the padded
   * [S, L] layout the losses see.
   */
  private static final class Layout {
    final int batch, width, tokens, maxResponse;
    final long[] ids;
    final long[] predictorIndex;
    final long[] paddedIndex;
    final Tensor targets;
    final Tensor mask;

    Layout(List<TrainingRow> rows, int[] micro) {
      batch = micro.length;
      int w = 0, n = 0, l = 0;
      for (int r : micro) {
        w = Math.max(w, rows.get(r).tokens().length);
        n += rows.get(r).responseLength();
        l = Math.max(l, rows.get(r).responseLength());
      }
      width = w;
      tokens = n;
      maxResponse = l;
      ids = new long[batch * width];
      predictorIndex = new long[tokens];
      paddedIndex = new long[tokens];
      long[] target = new long[tokens];
      float[] m = new float[batch * maxResponse];
      int k = 0;
      for (int b = 0; b < batch; b++) {
        TrainingRow row = rows.get(micro[b]);
        for (int p = 0; p < row.tokens().length; p++) ids[b * width + p] = row.tokens()[p];
        for (int t = 0; t < row.responseLength(); t++) {
          int p = row.responseStart() + t;
          predictorIndex[k] = (long) b * width + p - 1;
          paddedIndex[k] = (long) b * maxResponse + t;
          target[k] = row.tokens()[p];
          m[b * maxResponse + t] = row.mask()[t];
          k++;
        }
      }
      targets = torch.tensor(target);
      mask = Tensor.create(m, batch, maxResponse);
    }

    /** flat [tokens] -> [S, L] with zeros in the padding. */
    Tensor pad(Tensor flat) {
      Tensor out = torch.zeros(batch * maxResponse);
      out.index_copy_(0, torch.tensor(paddedIndex), flat);
      return out.view(batch, maxResponse);
    }

    /** [S, L] -> flat [tokens]. */
    Tensor unpad(Tensor padded) {
      return padded.reshape(batch * maxResponse).index_select(0, torch.tensor(paddedIndex));
    }
  }
}
