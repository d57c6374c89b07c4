package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.*;

import io.arpo4j.kernels.LossAggregation;
import io.arpo4j.loss.PolicyLoss;
import io.arpo4j.loss.PolicyLossConfig;
import io.arpo4j.model.TransformerModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * Chunked, micro-batched backward through the fused kernels against plain libtorch autograd of the
 * whole batch's logits.
 */
class TokenBackpropTest {
  static final int VOCAB = 61;
  static final float TEMPERATURE = 0.8f;

  static Map<String, float[]> grads(TransformerModel model) {
    Map<String, float[]> out = new java.util.LinkedHashMap<>();
    model
        .parameters()
        .forEach(
            (name, p) -> {
              Tensor g = p.grad().contiguous();
              float[] v = new float[(int) g.numel()];
              g.data_ptr_float().get(v);
              out.put(name, v);
            });
    return out;
  }

  /**
   * logprob and entropy [S, L] of the response tokens from full logits, inside the autograd graph.
   */
  static Tensor[] referenceStats(TransformerModel model, List<TrainingRow> rows) {
    int width = rows.stream().mapToInt(r -> r.tokens().length).max().orElseThrow();
    int maxResp = rows.stream().mapToInt(TrainingRow::responseLength).max().orElseThrow();
    long[] ids = new long[rows.size() * width];
    for (int b = 0; b < rows.size(); b++) {
      for (int p = 0; p < rows.get(b).tokens().length; p++)
        ids[b * width + p] = rows.get(b).tokens()[p];
    }
    Tensor logits = model.logits(torch.tensor(ids).view(rows.size(), width));
    Tensor logp = torch.log_softmax(logits.div(new Scalar(TEMPERATURE)), 2);
    Tensor entropy =
        logp.exp().mul(logp).sum(new long[] {2}, false, new ScalarTypeOptional()).neg();
    List<Tensor> lpRows = new ArrayList<>(), hRows = new ArrayList<>();
    for (int b = 0; b < rows.size(); b++) {
      TrainingRow row = rows.get(b);
      long[] pos = new long[maxResp], tgt = new long[maxResp];
      for (int t = 0; t < maxResp; t++) {
        int p = row.responseStart() + Math.min(t, row.responseLength() - 1);
        pos[t] = p - 1;
        tgt[t] = row.tokens()[p];
      }
      Tensor lpB =
          logp.select(0, b)
              .index_select(0, torch.tensor(pos))
              .gather(1, torch.tensor(tgt).unsqueeze(1))
              .squeeze(1);
      lpRows.add(lpB);
      hRows.add(entropy.select(0, b).index_select(0, torch.tensor(pos)));
    }
    return new Tensor[] {
      torch.stack(
          new org.bytedeco.pytorch.TensorArrayRef(
              new org.bytedeco.pytorch.TensorVector(lpRows.toArray(new Tensor[0])))),
      torch.stack(
          new org.bytedeco.pytorch.TensorArrayRef(
              new org.bytedeco.pytorch.TensorVector(hRows.toArray(new Tensor[0]))))
    };
  }

  static Tensor paddedMask(
      List<TrainingRow> rows, java.util.function.Function<TrainingRow, float[]> field) {
    int maxResp = rows.stream().mapToInt(TrainingRow::responseLength).max().orElseThrow();
    float[] m = new float[rows.size() * maxResp];
    for (int b = 0; b < rows.size(); b++) {
      float[] f = field.apply(rows.get(b));
      System.arraycopy(f, 0, m, b * maxResp, f.length);
    }
    return Tensor.create(m, rows.size(), maxResp);
  }

  @Test
  void policyLossGradientsMatchWholeBatchAutograd() {
    long seed = Long.getLong("arpo4j.test.seed", 20251201L);
    System.out.println("token backprop seed=" + seed);
    SplittableRandom rng = new SplittableRandom(seed);
    TransformerModel model = TinyModels.llama(VOCAB, rng.nextLong());
    List<TrainingRow> rows = TinyModels.rows(rng, 7, VOCAB, true);
    PolicyLossConfig config =
        PolicyLossConfig.ppo(0.2f, 0.28f, 3f, LossAggregation.TOKEN_MEAN, 0, 0.01);
    try (PolicyOptimizer opt = new PolicyOptimizer(model, OptimizerConfig.defaults())) {
      // ours: micro-batches of ~30 padded tokens, LM-head chunks of 5 tokens
      TokenBackprop backprop = new TokenBackprop(model, TEMPERATURE, 5);
      double total = rows.stream().mapToDouble(r -> sum(r.mask())).sum();
      opt.zeroGrad();
      double loss = 0;
      List<int[]> micro = TokenBackprop.microBatches(rows, 30);
      assertTrue(micro.size() > 1, "the test should span several micro-batches");
      for (int[] mb : micro) {
        loss +=
            backprop
                .backward(
                    rows,
                    mb,
                    (idx, lp, h, mask) -> {
                      List<TrainingRow> sub = new ArrayList<>();
                      for (int i : idx) sub.add(rows.get(i));
                      PolicyLoss.Result r =
                          PolicyLoss.compute(
                              lp,
                              paddedMask(sub, TrainingRow::oldLogprob),
                              null,
                              h,
                              paddedMask(sub, TrainingRow::advantage),
                              mask,
                              config);
                      double scale =
                          mask.sum().item_double() / total; // token-mean over the whole mini-batch
                      return new TokenLoss.Value(
                          r.loss() * scale,
                          r.gradLogprob().mul(new Scalar(scale)),
                          r.gradEntropy().mul(new Scalar(scale)),
                          Map.of());
                    })
                .loss();
      }
      Map<String, float[]> ours = grads(model);

      // reference: one autograd graph over the full logits, the loss written with composite ops
      opt.zeroGrad();
      Tensor[] stats = referenceStats(model, rows);
      Tensor mask = paddedMask(rows, TrainingRow::mask);
      Tensor old = paddedMask(rows, TrainingRow::oldLogprob),
          adv = paddedMask(rows, TrainingRow::advantage);
      Tensor ratio = stats[0].sub(old).exp();
      Tensor l1 = adv.neg().mul(ratio);
      Tensor l2 =
          adv.neg()
              .mul(
                  ratio.clamp(
                      new org.bytedeco.pytorch.ScalarOptional(new Scalar(0.8)),
                      new org.bytedeco.pytorch.ScalarOptional(new Scalar(1.28))));
      Tensor pg = torch.maximum(l1, l2);
      pg =
          torch.where(
              adv.lt(new Scalar(0.0)), torch.minimum(pg, adv.neg().mul(new Scalar(3.0))), pg);
      Tensor objective =
          pg.mul(mask)
              .sum()
              .div(mask.sum())
              .sub(stats[1].mul(mask).sum().div(mask.sum()).mul(new Scalar(0.01)));
      objective.backward(
          torch.ones_like(objective), new BoolOptional(), false, new TensorArrayRefOptional());
      assertEquals(objective.item_double(), loss, 1e-5);
      Map<String, float[]> expected = grads(model);
      for (String name : expected.keySet()) {
        float[] e = expected.get(name), o = ours.get(name);
        double scale = 0;
        for (float x : e) scale = Math.max(scale, Math.abs(x));
        for (int i = 0; i < e.length; i++) {
          assertEquals(e[i], o[i], 1e-4 * scale + 1e-7, name + "[" + i + "]");
        }
      }
    }
  }

  @Test
  void scoreMatchesFullLogits() {
    SplittableRandom rng = new SplittableRandom(Long.getLong("arpo4j.test.seed", 20251202L));
    TransformerModel model = TinyModels.llama(VOCAB, rng.nextLong());
    List<TrainingRow> rows = TinyModels.rows(rng, 5, VOCAB, false);
    float[][][] scored = new TokenBackprop(model, TEMPERATURE, 4).score(rows, 25);
    Tensor[] ref = referenceStats(model, rows);
    for (int b = 0; b < rows.size(); b++) {
      for (int t = 0; t < rows.get(b).responseLength(); t++) {
        assertEquals(ref[0].select(0, b).select(0, t).item_float(), scored[0][b][t], 2e-5);
        assertEquals(ref[1].select(0, b).select(0, t).item_float(), scored[1][b][t], 2e-5);
      }
    }
  }

  @Test
  void supervisedTrainingLowersTheLoss() {
    SplittableRandom rng = new SplittableRandom(Long.getLong("arpo4j.test.seed", 20251202L));
    TransformerModel model = TinyModels.llama(VOCAB, rng.nextLong());
    List<TrainingRow> rows = TinyModels.rows(rng, 6, VOCAB, false);
    double tokens = rows.stream().mapToDouble(r -> sum(r.mask())).sum();
    TokenBackprop backprop = new TokenBackprop(model, 1f, 64);
    try (PolicyOptimizer opt =
        new PolicyOptimizer(model, OptimizerConfig.defaults().withLr(3e-3))) {
      double first = 0, last = 0;
      for (int step = 0; step < 40; step++) {
        opt.zeroGrad();
        double loss = 0;
        for (int[] mb : TokenBackprop.microBatches(rows, 64)) {
          loss += backprop.backward(rows, mb, new SupervisedLoss(tokens)).loss();
        }
        opt.step();
        if (step == 0) first = loss;
        last = loss;
      }
      assertTrue(first > 3.5, "a random model starts near ln(61) = 4.1, got " + first);
      assertTrue(last < first * 0.5, "loss should halve: " + first + " -> " + last);
    }
  }

  static double sum(float[] x) {
    double s = 0;
    for (float v : x) s += v;
    return s;
  }
}
