package io.arpo4j.model;

import java.util.Map;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/** Small models with weights large enough that logits differ clearly between positions. */
final class TestModels {
  private TestModels() {}

  /** Qwen3: per-head q/k norm, head_dim 16 != hidden/heads = 8, attention_bias, GQA, tied. */
  static final String QWEN3 =
      """
      {"model_type": "qwen3", "vocab_size": 53, "hidden_size": 32, "intermediate_size": 40,
       "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
       "attention_bias": true, "rms_norm_eps": 1e-6, "rope_theta": 1000.0, "tie_word_embeddings": true,
       "max_position_embeddings": 128, "eos_token_id": 2}""";

  /**
   * Llama 3.1-style rope scaling with a short original context so every band is exercised; MLP
   * bias.
   */
  static final String LLAMA3 =
      """
      {"model_type": "llama", "vocab_size": 47, "hidden_size": 48, "intermediate_size": 36,
       "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
       "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "tie_word_embeddings": false, "mlp_bias": true,
       "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                        "high_freq_factor": 4.0, "original_max_position_embeddings": 64}}""";

  /** Qwen2 with linear rope scaling, untied. */
  static final String QWEN2_LINEAR =
      """
      {"model_type": "qwen2", "vocab_size": 41, "hidden_size": 16, "intermediate_size": 24,
       "num_hidden_layers": 3, "num_attention_heads": 2, "num_key_value_heads": 2,
       "rope_scaling": {"type": "linear", "factor": 2.0}, "tie_word_embeddings": false}""";

  /**
   * Qwen2 wide enough (1.6M weights a layer) that a fused decode step of three rows runs on two
   * threads where the machine has them (decode_layer.cpp's kMinWorkPerThread: smaller layers run on
   * one), so that the team's barriers are exercised.
   */
  static final String QWEN2_WIDE =
      """
      {"model_type": "qwen2", "vocab_size": 64, "hidden_size": 384, "intermediate_size": 1024,
       "num_hidden_layers": 2, "num_attention_heads": 6, "num_key_value_heads": 2}""";

  static ModelConfig config(String json) {
    try {
      return ModelConfig.fromJson(Fixtures.JSON.readTree(json));
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A model whose weights are N(0, 0.3) (norm weights 1 + N(0, 0.1)), seeded. */
  static TransformerModel model(String json, long seed) {
    TransformerModel m = TransformerModel.randomInit(config(json), seed, RuntimeOptions.cpu());
    randomize(m.parameters(), seed + 1);
    return m;
  }

  static void randomize(Map<String, Tensor> params, long seed) {
    TensorOptions f32 = new TensorOptions().dtype(new ScalarTypeOptional(torch.ScalarType.Float));
    try (NoGradGuard g = new NoGradGuard();
        Generator gen = torch.createCPUGenerator(seed)) {
      for (Map.Entry<String, Tensor> e : params.entrySet()) {
        long[] shape = e.getValue().sizes().vec().get();
        boolean norm = ParameterLayout.isNorm(e.getKey());
        try (Tensor r =
            torch.normal(
                norm ? 1.0 : 0.0, norm ? 0.1 : 0.3, shape, new GeneratorOptional(gen), f32)) {
          e.getValue().copy_(r);
        }
      }
    }
  }

  /** Seeded random token ids in [0, vocab). */
  static int[] tokens(int n, int vocab, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      out[i] = r.nextInt(vocab);
    }
    return out;
  }
}
