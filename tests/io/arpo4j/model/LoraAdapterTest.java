package io.arpo4j.model;

import static io.arpo4j.testing.NumericAsserts.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LoRA adapters: forward, initialisation, gradients, PEFT's format, merge. */
class LoraAdapterTest {
  private static final LoraConfig ALL =
      new LoraConfig(4, 8, 0, List.of(LoraConfig.ALL_LINEAR), false);

  /** A model of QWEN2_LINEAR's shape (biases on q/k/v) with an adapter of random A and B. */
  private static TransformerModel adapted(LoraConfig lora, long seed) {
    TransformerModel model = TestModels.model(TestModels.QWEN2_LINEAR, seed);
    LoraAdapter adapter = LoraAdapter.create(model, lora, seed, "test");
    TestModels.randomize(adapter.parameters(), seed + 7);
    model.attach(adapter);
    return model;
  }

  private static float[] logits(TransformerModel model, int[] ids) {
    try (PointerScope scope = new PointerScope()) {
      return Fixtures.floats(model.logits(Fixtures.ids(new int[][] {ids})));
    }
  }

  private static double[] flatten(double[][] rows) {
    int v = rows[0].length;
    double[] out = new double[rows.length * v];
    for (int t = 0; t < rows.length; t++) System.arraycopy(rows[t], 0, out, t * v, v);
    return out;
  }

  @Test
  void forwardMatchesFloat64ReferenceOfMergedWeights() {
    LoraConfig lora =
        new LoraConfig(
            4, 8, 0, List.of("q_proj", "v_proj", "o_proj", "mlp.up_proj", "down_proj"), false);
    try (TransformerModel model = adapted(lora, 3);
        PointerScope scope = new PointerScope()) {
      // W + (alpha/r) B A in float64, written from the definition (not from the adapter's code)
      Map<String, Tensor> merged = new LinkedHashMap<>();
      model.parameters().forEach((k, v) -> merged.put(k, v.to(torch.ScalarType.Double)));
      int adapted = 0;
      for (Map.Entry<String, Tensor> e : model.adapter().parameters().entrySet()) {
        String key = e.getKey();
        if (!key.endsWith(".lora_A.weight")) continue;
        String module = key.substring("base_model.model.".length(), key.length() - 14);
        Tensor a = e.getValue().to(torch.ScalarType.Double);
        Tensor b =
            model
                .adapter()
                .parameters()
                .get(key.replace("lora_A", "lora_B"))
                .to(torch.ScalarType.Double);
        Tensor w = merged.get(module + ".weight");
        merged.put(module + ".weight", w.add(b.mm(a).mul(new Scalar(8.0 / 4))));
        adapted++;
      }
      assertEquals(5 * model.config().numLayers(), adapted, "adapted projections");
      int[] ids = TestModels.tokens(24, model.config().vocabSize(), 5);
      double[] expected = flatten(new ReferenceTransformer(model.config(), merged).logits(ids));
      double[] base = flatten(new ReferenceTransformer(model).logits(ids));
      double moved = 0;
      for (int i = 0; i < base.length; i++)
        moved = Math.max(moved, Math.abs(base[i] - expected[i]));
      assertTrue(moved > 0.5, "the adapter barely changes the logits (" + moved + "): weak test");
      assertClose(
          "LoRA logits vs float64 merged reference", expected, logits(model, ids), 1e-4, 1e-5);
    }
  }

  @Test
  void freshAdapterLeavesLogitsUnchangedAndFollowsPeftInit() {
    try (TransformerModel model = TestModels.model(TestModels.QWEN2_LINEAR, 4)) {
      int[] ids = TestModels.tokens(20, model.config().vocabSize(), 6);
      float[] before = logits(model, ids);
      LoraAdapter adapter = LoraAdapter.create(model, ALL, 9, "test");
      model.attach(adapter);
      assertArrayEquals(before, logits(model, ids), "a fresh adapter changed the logits");
      int checked = 0;
      for (Map.Entry<String, Tensor> e : adapter.parameters().entrySet()) {
        double[] v = Fixtures.doubles(e.getValue());
        if (e.getKey().endsWith("lora_B.weight")) {
          for (double x : v) assertEquals(0.0, x, e.getKey() + " must start at zero");
          continue;
        }
        // kaiming_uniform_(a=sqrt(5)) on [r, in]: U(-1/sqrt(in), 1/sqrt(in)), variance bound^2/3
        double bound = 1 / Math.sqrt(e.getValue().size(1));
        double sumSq = 0;
        for (double x : v) {
          assertTrue(Math.abs(x) <= bound, e.getKey() + ": " + x + " outside +-" + bound);
          sumSq += x * x;
        }
        double ratio = sumSq / v.length / (bound * bound / 3);
        assertTrue(ratio > 0.75 && ratio < 1.25, e.getKey() + ": variance ratio " + ratio);
        checked++;
      }
      assertEquals(7 * model.config().numLayers(), checked);
    }
  }

  @Test
  void onlyAdapterTensorsReceiveGradientsWithAndWithoutCheckpointing() {
    try (TransformerModel model = adapted(ALL, 5)) {
      int[] ids = TestModels.tokens(16, model.config().vocabSize(), 7);
      model.adapter().parameters().values().forEach(t -> t.requires_grad_(true));
      Map<String, double[]> plain = gradients(model, ids, false);
      for (Map.Entry<String, Tensor> e : model.parameters().entrySet()) {
        Tensor g = e.getValue().grad();
        assertFalse(g != null && g.defined(), e.getKey() + " (frozen) received a gradient");
      }
      for (Map.Entry<String, double[]> e : plain.entrySet()) {
        double norm = 0;
        for (double x : e.getValue()) norm += x * x;
        assertTrue(norm > 0, e.getKey() + " received no gradient");
      }
      model.setGradientCheckpointing(true);
      Map<String, double[]> recomputed = gradients(model, ids, true);
      for (String k : plain.keySet()) {
        assertClose(
            k + " gradient under checkpointing", plain.get(k), recomputed.get(k), 1e-5, 1e-4);
      }
    }
  }

  /** d(sum of the hidden states)/d(adapter tensors); the adapter's gradients are reset after. */
  private static Map<String, double[]> gradients(TransformerModel model, int[] ids, boolean ckpt) {
    Map<String, double[]> out = new LinkedHashMap<>();
    try (PointerScope scope = new PointerScope()) {
      Tensor input = Fixtures.ids(new int[][] {ids});
      if (ckpt) {
        try (TransformerModel.Checkpointed c = model.checkpointedHidden(input)) {
          c.hidden()
              .sum()
              .backward(new Tensor(), new BoolOptional(), false, new TensorArrayRefOptional());
          c.backward();
        }
      } else {
        model
            .hiddenStates(input)
            .sum()
            .backward(new Tensor(), new BoolOptional(), false, new TensorArrayRefOptional());
      }
      for (Map.Entry<String, Tensor> e : model.adapter().parameters().entrySet()) {
        out.put(e.getKey(), Fixtures.doubles(e.getValue().grad()));
        e.getValue().grad().zero_();
      }
    }
    return out;
  }

  @Test
  void peftAdapterFixtureLoadsAndGivesTheReferenceLogits() throws Exception {
    Path base = Fixtures.path("hf-tiny/qwen2");
    try (TransformerModel model = TransformerModel.load(base, RuntimeOptions.cpu());
        SafetensorsFile mergedFile =
            SafetensorsFile.open(Fixtures.path("peft-lora/qwen2-r2-merged-weights.safetensors"));
        PointerScope scope = new PointerScope()) {
      LoraAdapter adapter = LoraAdapter.load(Fixtures.path("peft-lora/qwen2-r2"), model);
      assertEquals(3.0, adapter.config().scaling());
      assertEquals(12, adapter.parameters().size(), "2 layers x (q, v, down) x (A, B)");
      assertEquals("hf-tiny/qwen2", adapter.baseModel());
      model.attach(adapter);
      Map<String, Tensor> merged = new LinkedHashMap<>(model.parameters());
      for (String name : mergedFile.entries().keySet()) merged.put(name, mergedFile.read(name));
      int[][] sequences = {{1, 5, 9, 2, 11, 0, 3, 7}, {4, 4, 8, 10, 6, 2, 1, 9}};
      for (int[] ids : sequences) {
        double[] expected = flatten(new ReferenceTransformer(model.config(), merged).logits(ids));
        assertClose("PEFT fixture logits", expected, logits(model, ids), 1e-5, 1e-5);
      }
    }
  }

  @Test
  void unsupportedPeftSettingsAreRefusedByName(@TempDir Path dir) throws Exception {
    Path fixture = Fixtures.path("peft-lora/qwen2-r2");
    Files.copy(fixture.resolve(LoraAdapter.WEIGHTS_FILE), dir.resolve(LoraAdapter.WEIGHTS_FILE));
    String config = Files.readString(fixture.resolve(LoraAdapter.CONFIG_FILE));
    try (TransformerModel model =
        TransformerModel.load(Fixtures.path("hf-tiny/qwen2"), RuntimeOptions.cpu())) {
      for (String[] edit :
          new String[][] {
            {"\"use_dora\": false", "\"use_dora\": true", "use_dora"},
            {"\"bias\": \"none\"", "\"bias\": \"all\"", "bias"},
            {"\"r\": 2", "\"r\": 3", "lora_A.weight is [2, 8], expected [3, 8]"},
            {"\"mlp.down_proj\"", "\"lm_head\"", "[lm_head] match no decoder projection"},
          }) {
        Files.writeString(dir.resolve(LoraAdapter.CONFIG_FILE), config.replace(edit[0], edit[1]));
        IllegalArgumentException e =
            assertThrows(IllegalArgumentException.class, () -> LoraAdapter.load(dir, model));
        assertTrue(e.getMessage().contains(edit[2]), e.getMessage());
      }
    }
  }

  @Test
  void saveThenLoadRoundTripsBitExactInPeftLayout(@TempDir Path dir) throws Exception {
    LoraConfig lora = new LoraConfig(3, 5, 0.1, List.of("k_proj", "gate_proj"), false);
    try (TransformerModel model = adapted(lora, 8);
        TransformerModel other = TestModels.model(TestModels.QWEN2_LINEAR, 8)) {
      model.adapter().save(dir);
      JsonNode json = Fixtures.JSON.readTree(dir.resolve(LoraAdapter.CONFIG_FILE).toFile());
      assertEquals("LORA", json.get("peft_type").asText());
      assertEquals(3, json.get("r").asInt());
      assertTrue(json.get("lora_alpha").isIntegralNumber(), "PEFT's lora_alpha is an int");
      assertEquals(5, json.get("lora_alpha").asInt());
      assertEquals(0.1, json.get("lora_dropout").asDouble());
      assertEquals("[\"k_proj\",\"gate_proj\"]", json.get("target_modules").toString());
      assertEquals("none", json.get("bias").asText());
      assertEquals("CAUSAL_LM", json.get("task_type").asText());
      assertFalse(json.get("fan_in_fan_out").asBoolean());
      assertEquals("test", json.get("base_model_name_or_path").asText());
      LoraAdapter back = LoraAdapter.load(dir, other);
      other.attach(back);
      assertEquals(lora, back.config());
      assertEquals(model.adapter().parameters().keySet(), back.parameters().keySet());
      for (String k : back.parameters().keySet()) {
        assertTrue(
            torch.equal(model.adapter().parameters().get(k), back.parameters().get(k)),
            k + " changed in the round trip");
      }
      assertTrue(
          back.parameters()
              .containsKey("base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight"));
      int[] ids = TestModels.tokens(12, model.config().vocabSize(), 2);
      assertArrayEquals(logits(model, ids), logits(other, ids));
    }
  }

  @Test
  void mergedExportEqualsTheUnmergedForward(@TempDir Path dir) throws Exception {
    try (TransformerModel model = adapted(ALL, 12)) {
      model.saveMerged(dir, StorageType.F32);
      try (TransformerModel merged = TransformerModel.load(dir, RuntimeOptions.cpu())) {
        assertNull(merged.adapter());
        int[] ids = TestModels.tokens(20, model.config().vocabSize(), 3);
        float[] unmerged = logits(model, ids);
        float[] fromMerged = logits(merged, ids);
        double scale = 0;
        for (float x : unmerged) scale = Math.max(scale, Math.abs(x));
        // float32 rounding of W + sB A and of the two summation orders, relative to the logits'
        // size
        assertClose("merged vs unmerged logits", unmerged, fromMerged, 1e-5 * scale, 1e-5);
      }
    }
  }

  @Test
  void withoutAdapterSharesTheBaseWeights() {
    try (TransformerModel model = adapted(ALL, 13)) {
      int[] ids = TestModels.tokens(10, model.config().vocabSize(), 1);
      float[] adapted = logits(model, ids);
      try (TransformerModel base = model.withoutAdapter();
          TransformerModel plain = TestModels.model(TestModels.QWEN2_LINEAR, 13)) {
        assertTrue(
            base.parameters()
                .get("model.embed_tokens.weight")
                .is_same(model.parameters().get("model.embed_tokens.weight")),
            "the base was copied");
        assertArrayEquals(logits(plain, ids), logits(base, ids), "the view is not the base");
        assertFalse(java.util.Arrays.equals(adapted, logits(base, ids)));
      }
      assertArrayEquals(adapted, logits(model, ids), "closing the view disturbed the model");
    }
  }

  @Test
  void bf16BaseTrainsAnFp32Adapter() {
    RuntimeOptions bf16 = new RuntimeOptions("cpu", StorageType.BF16, 0);
    ModelConfig config = TestModels.config(TestModels.QWEN2_LINEAR);
    try (TransformerModel full = adapted(ALL, 14);
        TransformerModel half = TransformerModel.randomInit(config, 14, bf16);
        PointerScope scope = new PointerScope()) {
      full.parameters().forEach((k, v) -> half.parameters().get(k).detach().copy_(v));
      LoraAdapter adapter = LoraAdapter.create(half, ALL, 14, "test");
      adapter.parameters().forEach((k, v) -> v.copy_(full.adapter().parameters().get(k)));
      half.attach(adapter);
      assertEquals(
          torch.ScalarType.BFloat16,
          half.parameters().get("model.layers.0.mlp.up_proj.weight").scalar_type().intern());
      int[] ids = TestModels.tokens(12, config.vocabSize(), 4);
      float[] expected = logits(full, ids);
      double scale = 0;
      for (float x : expected) scale = Math.max(scale, Math.abs(x));
      assertClose("bf16 base + adapter vs fp32", expected, logits(half, ids), 0.05 * scale, 0.05);
      adapter.parameters().values().forEach(t -> t.requires_grad_(true));
      half.hiddenStates(Fixtures.ids(new int[][] {ids}))
          .to(torch.ScalarType.Float)
          .sum()
          .backward(new Tensor(), new BoolOptional(), false, new TensorArrayRefOptional());
      for (Map.Entry<String, Tensor> e : adapter.parameters().entrySet()) {
        Tensor g = e.getValue().grad();
        assertTrue(g.defined(), e.getKey() + " has no gradient");
        assertEquals(torch.ScalarType.Float, g.scalar_type().intern(), "fp32 adapter gradients");
      }
      Tensor frozen = half.parameters().get("model.embed_tokens.weight").grad();
      assertFalse(frozen != null && frozen.defined(), "the frozen base received a gradient");
    }
  }
}
