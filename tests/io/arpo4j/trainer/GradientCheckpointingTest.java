package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.*;

import io.arpo4j.model.DefaultModel;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.model.StorageType;
import io.arpo4j.model.TransformerModel;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * gradient_checkpointing: recomputing each layer in backward gives the gradients of the full graph.
 */
class GradientCheckpointingTest {

  /** Gradients of an SFT loss and its value, with checkpointing on or off. */
  static Map<String, float[]> grads(
      TransformerModel model, List<TrainingRow> rows, boolean checkpointing, double[] loss) {
    model.setGradientCheckpointing(checkpointing);
    double tokens = rows.stream().mapToDouble(r -> TokenBackpropTest.sum(r.mask())).sum();
    try (PolicyOptimizer opt = new PolicyOptimizer(model, OptimizerConfig.defaults())) {
      opt.zeroGrad();
      TokenBackprop backprop = new TokenBackprop(model, 0.9f, 16);
      loss[0] = 0;
      for (int[] mb : TokenBackprop.microBatches(rows, 60))
        loss[0] += backprop.backward(rows, mb, new SupervisedLoss(tokens)).loss();
      return MixedPrecisionTest.grads(model);
    }
  }

  static double maxAbsError(
      String label, Supplier<TransformerModel> make, int vocab, double tolerance) {
    List<TrainingRow> rows = TinyModels.rows(new SplittableRandom(3), 7, vocab, false);
    try (TransformerModel model = make.get()) {
      double[] plainLoss = new double[1], ckptLoss = new double[1];
      Map<String, float[]> plain = grads(model, rows, false, plainLoss);
      Map<String, float[]> ckpt = grads(model, rows, true, ckptLoss);
      assertEquals(plainLoss[0], ckptLoss[0], 1e-6 * Math.abs(plainLoss[0]));
      double maxErr = 0, maxGrad = 0;
      for (String name : plain.keySet()) {
        float[] a = plain.get(name), b = ckpt.get(name);
        for (int i = 0; i < a.length; i++) {
          maxErr = Math.max(maxErr, Math.abs(a[i] - b[i]));
          maxGrad = Math.max(maxGrad, Math.abs(a[i]));
        }
      }
      System.out.printf(
          "gradient checkpointing, %s: max |grad| %.3e, max abs err %.3e%n",
          label, maxGrad, maxErr);
      assertTrue(maxGrad > 0);
      assertTrue(
          maxErr <= tolerance * maxGrad,
          label + ": max abs err " + maxErr + " vs max grad " + maxGrad);
      return maxErr;
    }
  }

  @Test
  void theLayersGetTheirGradientsOnlyFromTheRecomputation() {
    try (TransformerModel model = TinyModels.llama(61, 4);
        PolicyOptimizer opt = new PolicyOptimizer(model, OptimizerConfig.defaults())) {
      opt.zeroGrad();
      Tensor ids = model.ids(new int[] {1, 5, 9, 2, 7}, new int[] {3, 3, 8, 60, 0});
      Tensor plain = model.hiddenStates(ids);
      try (TransformerModel.Checkpointed ckpt = model.checkpointedHidden(ids)) {
        assertEquals(
            0.0, ckpt.hidden().sub(plain).abs().max().item_double(), 0.0, "same forward values");
        Tensor loss = ckpt.hidden().pow(new Scalar(2.0)).sum();
        loss.backward(
            torch.ones_like(loss), new BoolOptional(), false, new TensorArrayRefOptional());
        Tensor q = model.parameters().get("model.layers.0.self_attn.q_proj.weight");
        assertTrue(
            model.parameters().get("model.norm.weight").grad().defined(),
            "the final norm is in hidden()'s graph");
        assertFalse(q.grad().defined(), "the layers are not: no graph was kept for them");
        ckpt.backward();
        assertTrue(
            q.grad().defined() && q.grad().abs().sum().item_double() > 0,
            "recomputed layer 0 got its gradient");
        assertTrue(
            model.parameters().get("model.embed_tokens.weight").grad().defined(),
            "and the embedding");
      }
    }
  }

  @Test
  void llamaFp32() {
    maxAbsError("llama fp32", () -> TinyModels.llama(61, 9), 61, 1e-6);
  }

  @Test
  void embeddedQwen2Fp32TiedWithBiases() {
    maxAbsError(
        "embedded qwen2 fp32",
        () ->
            PolicyModel.create(
                    DefaultModel.config(),
                    DefaultModel.tokenizer(),
                    DefaultModel.SEED,
                    RuntimeOptions.cpu())
                .model(),
        DefaultModel.config().vocabSize(),
        1e-6);
  }

  @Test
  void embeddedQwen2Bf16Mixed() {
    maxAbsError(
        "embedded qwen2 bf16-mixed",
        () ->
            PolicyModel.create(
                    DefaultModel.config(),
                    DefaultModel.tokenizer(),
                    DefaultModel.SEED,
                    new RuntimeOptions("cpu", StorageType.BF16, 0, true))
                .model(),
        DefaultModel.config().vocabSize(),
        1e-2);
  }
}
