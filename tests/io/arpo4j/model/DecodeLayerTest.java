package io.arpo4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.kernels.Kernels;
import io.arpo4j.model.TransformerModel.DecodeWeights;
import io.arpo4j.model.TransformerModel.LogitsMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Fused decode steps (one native arpo_decode_layer call per layer) against libtorch's op-by-op path
 * over the same cache, on layouts that exercise every option of the layer: Qwen3 (per-head q/k
 * norm, head_dim != hidden / heads, o_proj bias), Llama 3.1 (rope scaling, MLP biases, no attention
 * bias) and Qwen2 (q/k/v biases, linear rope scaling, no GQA), and a Qwen2 wide enough for the
 * layer to run on two threads.
 */
class DecodeLayerTest {

  private static String layout(String name) {
    return switch (name) {
      case "qwen3" -> TestModels.QWEN3;
      case "llama3" -> TestModels.LLAMA3;
      case "qwen2" -> TestModels.QWEN2_LINEAR;
      case "qwen2-wide" -> TestModels.QWEN2_WIDE;
      default -> throw new IllegalArgumentException(name);
    };
  }

  /**
   * Logits of 6 decode steps of three sequences (two prefilled to different lengths, one forked
   * from the first, so rows share blocks, partial ones included), in {@code weights}; the tokens
   * are fixed, not sampled, so that both paths see the same inputs.
   */
  private static List<float[]> decodeLogits(TransformerModel model, DecodeWeights weights) {
    model.setDecodeWeights(weights);
    int vocab = model.config().vocabSize();
    List<float[]> out = new ArrayList<>();
    try (KvCache cache = new KvCache(model, 4, 4)) {
      CachedSequence a = cache.newSequence(TestModels.tokens(7, vocab, 1));
      CachedSequence b = cache.newSequence(TestModels.tokens(12, vocab, 2));
      model.forward(cache, List.of(a, b), new int[] {7, 12}, LogitsMode.NONE);
      CachedSequence c = cache.fork(a);
      List<CachedSequence> rows = List.of(a, b, c);
      int[] next = TestModels.tokens(18, vocab, 3);
      for (int step = 0; step < 6; step++) {
        for (int r = 0; r < 3; r++) cache.append(rows.get(r), new int[] {next[3 * step + r]});
        try (Tensor logits = model.forward(cache, rows, new int[] {1, 1, 1}, LogitsMode.LAST)) {
          out.add(Fixtures.floats(logits));
        }
      }
    }
    return out;
  }

  /** max |a - b| / (1 + max |b|) over all steps, printed with the count above {@code tol}. */
  private static double relativeError(List<float[]> a, List<float[]> b, double tol, String what) {
    double worst = 0, scale = 0;
    for (float[] row : b) for (float x : row) scale = Math.max(scale, Math.abs(x));
    int bad = 0;
    for (int i = 0; i < a.size(); i++) {
      for (int j = 0; j < a.get(i).length; j++) {
        double e = Math.abs(a.get(i)[j] - b.get(i)[j]) / (1 + scale);
        worst = Math.max(worst, e);
        if (e > tol) bad++;
      }
    }
    System.out.printf(
        "%s: max error %.3g of 1 + max|logit| (%.1f), %d above %.0e%n",
        what, worst, 1 + scale, bad, tol);
    return worst;
  }

  @ParameterizedTest
  @ValueSource(strings = {"qwen3", "llama3", "qwen2", "qwen2-wide"})
  void fusedStepsMatchLibtorchOpByOp(String name) {
    try (TransformerModel model = TestModels.model(layout(name), 17)) {
      List<float[]> reference = decodeLogits(model, DecodeWeights.LIBTORCH);
      long fusedBefore = model.fusedForwards();
      List<float[]> fused = decodeLogits(model, DecodeWeights.FP32);
      assertEquals(7, model.fusedForwards() - fusedBefore, "forwards that ran fused (prefill + 6)");
      assertTrue(relativeError(fused, reference, 1e-5, name + " fp32") <= 1e-5);
    }
  }

  /**
   * bf16 weights (bf16 activations in the products): the fused step against the same products
   * called op by op, between libtorch's norms, rotary, attention and SwiGLU (DecodeMatmulTest holds
   * the products to float64); and, on a model whose fp32 weights are already bf16 values, within
   * the activations' bf16 rounding of libtorch's fp32 path (a wrong or stale weight moves logits by
   * their own scale).
   */
  @ParameterizedTest
  @ValueSource(strings = {"qwen3", "llama3", "qwen2-wide"})
  void fusedBf16StepsMatchTheKernelsOpByOp(String name) {
    try (TransformerModel model = TestModels.model(layout(name), 23)) {
      try (NoGradGuard g = new NoGradGuard()) {
        for (Map.Entry<String, Tensor> e : model.parameters().entrySet()) {
          if (e.getValue().dim() == 2) { // the projections and the embedding / LM head
            e.getValue().copy_(e.getValue().to(ScalarType.BFloat16).to(ScalarType.Float));
          }
        }
      }
      List<float[]> fp32 = decodeLogits(model, DecodeWeights.LIBTORCH);
      model.setFusedDecode(false);
      long fusedBefore = model.fusedForwards();
      List<float[]> opByOp = decodeLogits(model, DecodeWeights.BF16);
      assertEquals(0, model.fusedForwards() - fusedBefore, "forwards that ran fused op by op");
      model.setFusedDecode(true);
      fusedBefore = model.fusedForwards();
      List<float[]> fused = decodeLogits(model, DecodeWeights.BF16);
      assertEquals(7, model.fusedForwards() - fusedBefore, "forwards that ran fused (prefill + 6)");
      // The fused step's norms, rotary and attention differ from libtorch's in the last bits;
      // rounded to bf16 for the next product, such a difference can flip one activation's
      // rounding, and the flip carries on: never on the small layouts here, on the wide one
      // 0.0016-0.0093 of the logit scale over seeds 23 and 31 (0 at 29), with either weight
      // layout. A wrong weight, tile or barrier moves logits by their own scale.
      double sameTol = name.endsWith("-wide") ? 0.03 : 1e-5;
      assertTrue(
          relativeError(fused, opByOp, sameTol, name + " bf16 fused vs op by op") <= sameTol);
      // bf16 activations' rounding adds up with width: 0.006-0.013 on the small layouts, 0.08 on
      // the wide one (a wrong weight moves logits by their whole scale)
      double tol = name.endsWith("-wide") ? 0.2 : 0.03;
      assertTrue(relativeError(fused, fp32, tol, name + " bf16 vs libtorch fp32") <= tol);
    }
  }

  /**
   * Under bf16 weights every cached pass reads the bf16 copies, however many rows it has: a
   * 100-token prompt prefilled in one fused pass (more rows than a decode step) leaves the next
   * token the logits it gets when the prompt is prefilled in passes of 60 and 40 tokens.
   */
  @ParameterizedTest
  @ValueSource(strings = {"qwen3"})
  void bf16PassesReadTheBf16CopiesAtAnyLength(String name) {
    try (TransformerModel model = TestModels.model(layout(name), 37)) {
      model.setDecodeWeights(DecodeWeights.BF16);
      int[] prompt = TestModels.tokens(100, model.config().vocabSize(), 7);
      List<float[]> out = new ArrayList<>();
      for (int[] passes : new int[][] {{100}, {60, 40}}) {
        try (KvCache cache = new KvCache(model, 4, 4)) {
          CachedSequence s = cache.newSequence(Arrays.copyOf(prompt, passes[0]));
          long fusedBefore = model.fusedForwards();
          model.forward(cache, List.of(s), new int[] {passes[0]}, LogitsMode.NONE);
          assertEquals(1, model.fusedForwards() - fusedBefore, passes[0] + " rows ran fused");
          if (passes.length > 1) {
            cache.append(s, Arrays.copyOfRange(prompt, passes[0], prompt.length));
            model.forward(cache, List.of(s), new int[] {passes[1]}, LogitsMode.NONE);
          }
          cache.append(s, new int[] {3});
          try (Tensor logits = model.forward(cache, List.of(s), new int[] {1}, LogitsMode.LAST)) {
            out.add(Fixtures.floats(logits));
          }
        }
      }
      assertTrue(
          relativeError(out.subList(0, 1), out.subList(1, 2), 1e-5, name + " bf16 100 vs 60 + 40")
              <= 1e-5);
    }
  }

  /** LogitsMode.ALL of a fused step has libtorch's shape [B, 1, V] and its values. */
  @ParameterizedTest
  @ValueSource(strings = {"qwen2"})
  void fusedStepReturnsEveryRowsLogitsInAllMode(String name) {
    try (TransformerModel model = TestModels.model(layout(name), 29)) {
      List<float[]> out = new ArrayList<>();
      List<long[]> shapes = new ArrayList<>();
      for (DecodeWeights w : new DecodeWeights[] {DecodeWeights.LIBTORCH, DecodeWeights.FP32}) {
        model.setDecodeWeights(w);
        try (KvCache cache = new KvCache(model, 4, 4)) {
          List<CachedSequence> rows = new ArrayList<>();
          for (int r = 0; r < 2; r++) {
            rows.add(cache.newSequence(TestModels.tokens(5 + r, model.config().vocabSize(), r)));
          }
          model.forward(cache, rows, new int[] {5, 6}, LogitsMode.NONE);
          for (CachedSequence s : rows) cache.append(s, new int[] {3});
          try (Tensor logits = model.forward(cache, rows, new int[] {1, 1}, LogitsMode.ALL)) {
            shapes.add(logits.sizes().vec().get());
            out.add(Fixtures.floats(logits));
          }
        }
      }
      assertEquals(
          java.util.Arrays.toString(shapes.get(0)), java.util.Arrays.toString(shapes.get(1)));
      assertTrue(relativeError(out.subList(1, 2), out.subList(0, 1), 1e-5, name + " ALL") <= 1e-5);
    }
  }

  /**
   * One packed forward carrying a decode step's single token, a tool result appended to a cached
   * sequence, a fork's divergent tokens (copy-on-write of a shared partial block) and a fresh
   * prompt, against an independent reference: each sequence's whole token list through the uncached
   * full forward ({@link TransformerModel#logits}, libtorch's causal attention), at its last
   * position. Fused (fp32 weights, two row blocks of 64 past 64 rows) and op by op.
   */
  @ParameterizedTest
  @ValueSource(strings = {"qwen3", "llama3", "qwen2"})
  void packedPrefillAndDecodeRowsMatchTheFullForward(String name) {
    try (TransformerModel model = TestModels.model(layout(name), 31)) {
      int vocab = model.config().vocabSize();
      for (DecodeWeights weights :
          new DecodeWeights[] {DecodeWeights.FP32, DecodeWeights.LIBTORCH}) {
        model.setDecodeWeights(weights);
        List<float[]> packed = new ArrayList<>();
        List<float[]> reference = new ArrayList<>();
        try (KvCache cache = new KvCache(model, 4, 4)) {
          CachedSequence a = cache.newSequence(TestModels.tokens(7, vocab, 1));
          CachedSequence b = cache.newSequence(TestModels.tokens(10, vocab, 2));
          model.forward(cache, List.of(a, b), new int[] {7, 10}, LogitsMode.NONE);
          CachedSequence c = cache.fork(a); // shares a's partial last block
          cache.append(a, new int[] {5}); // a decode step
          cache.append(b, TestModels.tokens(9, vocab, 3)); // a tool result
          cache.append(c, TestModels.tokens(5, vocab, 4)); // a branch's own tokens
          CachedSequence d = cache.newSequence(TestModels.tokens(290, vocab, 5)); // a prompt
          List<CachedSequence> rows = List.of(a, b, c, d);
          long fusedBefore = model.fusedForwards();
          try (Tensor logits =
              model.forward(cache, rows, new int[] {1, 9, 5, 290}, LogitsMode.LAST)) {
            assertEquals(4, logits.size(0));
            for (int r = 0; r < rows.size(); r++) {
              try (Tensor row = logits.select(0, r)) {
                packed.add(Fixtures.floats(row));
              }
            }
          }
          assertEquals(
              weights == DecodeWeights.FP32 ? 1 : 0,
              model.fusedForwards() - fusedBefore,
              "forwards that ran fused");
          for (CachedSequence s : rows) {
            assertEquals(0, s.pendingLength());
            try (Tensor ids = model.ids(s.tokens());
                Tensor full = model.logits(ids);
                Tensor last = full.select(1, s.length() - 1)) {
              reference.add(Fixtures.floats(last));
            }
          }
        }
        assertTrue(relativeError(packed, reference, 1e-5, name + " packed " + weights) <= 1e-5);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"qwen3"})
  void badLayersAreRefusedInOneLine(String name) {
    try (TransformerModel model = TestModels.model(layout(name), 5)) {
      Map<String, Tensor> p = model.parameters();
      Kernels.LayerTensors good = TransformerModel.layerOf(p, 0);
      Tensor q = good.q();
      Tensor k = good.k();
      Tensor norm = good.inputNorm();
      // k given q's shape: its rows no longer match kvHeads * headDim
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> Kernels.decodeLayer(withQk(good, q, q), 4, 2, 1e-6));
      assertTrue(e.getMessage().startsWith("k must be 2-D [32, 32]"), e.getMessage());
      // heads that do not divide
      e = assertThrows(IllegalArgumentException.class, () -> Kernels.decodeLayer(good, 4, 3, 1e-6));
      assertTrue(e.getMessage().contains("multiple of kvHeads"), e.getMessage());
      // a bf16 projection among fp32 ones
      try (Tensor kb = k.to(ScalarType.BFloat16)) {
        e =
            assertThrows(
                IllegalArgumentException.class,
                () -> Kernels.decodeLayer(withQk(good, q, kb), 4, 2, 1e-6));
        assertTrue(e.getMessage().contains("all projections one dtype"), e.getMessage());
      }
      // a step whose hidden rows do not match the table
      try (Kernels.DecodeLayer layer = Kernels.decodeLayer(good, 4, 2, 1e-6);
          Tensor table =
              torch.zeros(
                  new long[] {1, 1},
                  new org.bytedeco.pytorch.TensorOptions()
                      .dtype(new org.bytedeco.pytorch.ScalarTypeOptional(ScalarType.Int)));
          Tensor rows =
              torch.zeros(
                  new long[] {1},
                  new org.bytedeco.pytorch.TensorOptions()
                      .dtype(new org.bytedeco.pytorch.ScalarTypeOptional(ScalarType.Int)));
          Tensor lengths =
              torch.ones(
                  new long[] {1},
                  new org.bytedeco.pytorch.TensorOptions()
                      .dtype(new org.bytedeco.pytorch.ScalarTypeOptional(ScalarType.Int)));
          Tensor slots =
              torch.zeros(
                  new long[] {1},
                  new org.bytedeco.pytorch.TensorOptions()
                      .dtype(new org.bytedeco.pytorch.ScalarTypeOptional(ScalarType.Long)));
          Tensor hidden = torch.zeros(2, norm.size(0));
          Tensor cs = torch.zeros(1, 16);
          Tensor pool = torch.zeros(4, 2, 16)) {
        Kernels.PagedTable t = Kernels.pagedTable(table, rows, lengths, 4, slots);
        e =
            assertThrows(
                IllegalArgumentException.class,
                () -> Kernels.decodeLayer(layer, hidden, cs, cs, pool, pool, t, 0.25f));
        assertTrue(e.getMessage().startsWith("hidden must be [1, 32]"), e.getMessage());
      }
    }
  }

  /** {@code t} with its q and k projections replaced. */
  private static Kernels.LayerTensors withQk(Kernels.LayerTensors t, Tensor q, Tensor k) {
    return new Kernels.LayerTensors(
        t.inputNorm(),
        q,
        t.qBias(),
        k,
        t.kBias(),
        t.v(),
        t.vBias(),
        t.qNorm(),
        t.kNorm(),
        t.o(),
        t.oBias(),
        t.postNorm(),
        t.gate(),
        t.gateBias(),
        t.up(),
        t.upBias(),
        t.down(),
        t.downBias());
  }
}
