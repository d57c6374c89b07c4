package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.model.DefaultModel;
import io.arpo4j.model.HfTokenizer;
import io.arpo4j.model.ModelConfig;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.model.StorageType;
import io.arpo4j.model.TransformerModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** precision: bf16-mixed — fp32 master weights and AdamW state, bf16 forward/backward. */
class MixedPrecisionTest {
  static final int VOCAB = 61;

  static TransformerModel tiny(RuntimeOptions runtime) throws Exception {
    ModelConfig config =
        ModelConfig.fromJson(
            new ObjectMapper()
                .readTree(
                    """
        {"model_type": "llama", "vocab_size": 61, "hidden_size": 32, "intermediate_size": 64,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "rms_norm_eps": 1e-6, "max_position_embeddings": 256, "rope_theta": 10000.0,
         "tie_word_embeddings": false}"""));
    return TransformerModel.randomInit(config, 11, runtime);
  }

  static Map<String, float[]> values(Map<String, Tensor> tensors) {
    Map<String, float[]> out = new java.util.LinkedHashMap<>();
    tensors.forEach(
        (name, t) -> {
          Tensor c = t.detach().to(ScalarType.Float).contiguous();
          float[] v = new float[(int) c.numel()];
          c.data_ptr_float().get(v);
          out.put(name, v);
        });
    return out;
  }

  static Map<String, float[]> grads(TransformerModel model) {
    Map<String, Tensor> g = new java.util.LinkedHashMap<>();
    model.parameters().forEach((name, p) -> g.put(name, p.grad()));
    return values(g);
  }

  /** One SFT step at lr 1e-6 (no decay, no clip): returns {before, after, grad} of every weight. */
  static List<Map<String, float[]>> oneTinyStep(TransformerModel model) {
    List<TrainingRow> rows = TinyModels.rows(new SplittableRandom(5), 6, VOCAB, false);
    double tokens = rows.stream().mapToDouble(r -> TokenBackpropTest.sum(r.mask())).sum();
    Map<String, float[]> before = values(model.parameters());
    try (PolicyOptimizer opt =
        new PolicyOptimizer(model, new OptimizerConfig(1e-6, 0, 0.9, 0.999, 1e-8, 0, 0))) {
      opt.zeroGrad();
      TokenBackprop backprop = new TokenBackprop(model, 1f, 16);
      for (int[] mb : TokenBackprop.microBatches(rows, 40))
        backprop.backward(rows, mb, new SupervisedLoss(tokens));
      opt.step();
      return List.of(before, values(model.parameters()), grads(model));
    }
  }

  @Test
  void aStepOfOneMillionthMovesTheMasterWeightsWherePureBf16DoesNot() throws Exception {
    // AdamW's first step is lr * g / (|g| + eps): -1e-6 * sign(g) for every weight with |g| >> eps
    try (TransformerModel mixed = tiny(new RuntimeOptions("cpu", StorageType.BF16, 0, true))) {
      List<Map<String, float[]>> r = oneTinyStep(mixed);
      long checked = 0;
      for (String name : r.get(0).keySet()) {
        float[] w0 = r.get(0).get(name), w1 = r.get(1).get(name), g = r.get(2).get(name);
        for (int i = 0; i < w0.length; i++) {
          if (Math.abs(g[i]) < 1e-4) continue;
          double expected = -1e-6 * Math.signum(g[i]);
          double ulp = Math.ulp(Math.abs(w0[i]) + 1e-6f);
          assertEquals(
              expected,
              (double) w1[i] - w0[i],
              1e-9 + ulp,
              name + "[" + i + "] w=" + w0[i] + " g=" + g[i]);
          checked++;
        }
      }
      assertTrue(checked > 5000, "too few weights with a clear gradient: " + checked);
      assertEquals(
          ScalarType.Float.value,
          mixed.parameters().values().iterator().next().scalar_type().value,
          "master weights are fp32");
    }
    // the same step on weights stored in bf16 (the old CUDA behaviour) leaves almost all of them
    // where they were
    try (TransformerModel pure = tiny(new RuntimeOptions("cpu", StorageType.BF16, 0))) {
      List<Map<String, float[]>> r = oneTinyStep(pure);
      long moved = 0, total = 0;
      for (String name : r.get(0).keySet()) {
        float[] w0 = r.get(0).get(name), w1 = r.get(1).get(name);
        for (int i = 0; i < w0.length; i++, total++) if (w0[i] != w1[i]) moved++;
      }
      System.out.printf("pure bf16 storage: %d of %d weights moved by a 1e-6 step%n", moved, total);
      assertTrue(moved < total / 20, moved + " of " + total + " moved");
    }
  }

  /** Short question/answer pairs in the embedded tokenizer, the answer trained. */
  static List<TrainingRow> qaRows(HfTokenizer tokenizer) {
    String[][] pairs = {
      {"Question: 2 + 3 =", " <answer>5</answer>"},
      {"Question: capital of France?", " <answer>Paris</answer>"},
      {"Question: 7 * 6 =", " <answer>42</answer>"},
      {"Question: opposite of hot?", " <answer>cold</answer>"},
      {"Question: 10 - 4 =", " <answer>6</answer>"},
      {"Question: colour of the sky?", " <answer>blue</answer>"},
      {"Question: 9 / 3 =", " <answer>3</answer>"},
      {"Question: first letter?", " <answer>a</answer>"}
    };
    return rows(tokenizer, pairs);
  }

  /** {prompt, response} pairs as rows, the response trained. */
  static List<TrainingRow> rows(HfTokenizer tokenizer, String[][] pairs) {
    List<TrainingRow> rows = new ArrayList<>();
    for (String[] p : pairs) {
      int[] prompt = tokenizer.encode(p[0]), response = tokenizer.encode(p[1]);
      int[] tokens = new int[prompt.length + response.length];
      System.arraycopy(prompt, 0, tokens, 0, prompt.length);
      System.arraycopy(response, 0, tokens, prompt.length, response.length);
      float[] mask = new float[response.length];
      java.util.Arrays.fill(mask, 1f);
      rows.add(TrainingRow.supervised(tokens, prompt.length, mask));
    }
    return rows;
  }

  static SftTrainer.Result sft(String precision, Path dir) throws Exception {
    TrainerConfig config =
        TrainerConfig.load(
            null,
            List.of(
                "precision=" + precision,
                "sft.lr=3e-3",
                "sft.epochs=25",
                "sft.batch_size=8",
                "runs_dir=" + dir));
    RuntimeOptions runtime = config.runtimeOptions();
    assertEquals(precision.equals("bf16-mixed"), runtime.mixed());
    try (PolicyModel pm =
        PolicyModel.create(
            DefaultModel.config(), DefaultModel.tokenizer(), DefaultModel.SEED, runtime)) {
      return SftTrainer.train(
          pm, qaRows(pm.tokenizer()), config, dir.resolve(precision + ".jsonl"));
    }
  }

  @Test
  void bf16MixedSftOfTheEmbeddedModelLowersTheLossLikeFp32(@TempDir Path dir) throws Exception {
    SftTrainer.Result fp32 = sft("fp32", dir), mixed = sft("bf16-mixed", dir);
    System.out.printf(
        "SFT loss over %d steps: fp32 %.4f -> %.4f, bf16-mixed %.4f -> %.4f%n",
        fp32.steps(), fp32.firstLoss(), fp32.lastLoss(), mixed.firstLoss(), mixed.lastLoss());
    assertEquals(
        fp32.firstLoss(),
        mixed.firstLoss(),
        0.02 * fp32.firstLoss(),
        "same start up to bf16 rounding");
    assertTrue(fp32.lastLoss() < 0.5 * fp32.firstLoss(), "fp32 should at least halve the loss");
    assertEquals(
        fp32.lastLoss(),
        mixed.lastLoss(),
        0.10 * fp32.lastLoss(),
        "bf16-mixed ends within 10% of fp32");
  }

  @Test
  void precisionIsFp32OnTheCpuByDefaultAndRejectsUnknownValues() throws Exception {
    assertFalse(TrainerConfig.defaultConfig().runtimeOptions().mixed());
    assertEquals(StorageType.F32, TrainerConfig.defaultConfig().runtimeOptions().dtype());
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> TrainerConfig.load(null, List.of("precision=fp16")));
    assertTrue(e.getMessage().contains("precision"), e.getMessage());
  }

  @Test
  void checkpointsHoldTheFp32MasterWeights(@TempDir Path dir) throws Exception {
    RuntimeOptions runtime = new RuntimeOptions("cpu", StorageType.BF16, 0, true);
    try (PolicyModel pm =
            PolicyModel.create(
                DefaultModel.config(), DefaultModel.tokenizer(), DefaultModel.SEED, runtime);
        PolicyOptimizer opt = new PolicyOptimizer(pm.model(), OptimizerConfig.defaults())) {
      Path saved = new Checkpoints(dir).save(new Checkpoints.State(1, 0, "arpo", 1), pm, opt, "");
      try (PolicyModel back = PolicyModel.load(saved.resolve(Checkpoints.MODEL_DIR), runtime)) {
        Map<String, float[]> a = values(pm.model().parameters()),
            b = values(back.model().parameters());
        for (String name : a.keySet()) assertArrayEquals(a.get(name), b.get(name), name);
      }
    }
  }
}
