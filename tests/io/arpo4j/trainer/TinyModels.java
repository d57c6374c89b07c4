package io.arpo4j.trainer;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.model.ModelConfig;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.model.TransformerModel;
import java.util.SplittableRandom;

/** Small randomly initialised models and token rows for trainer tests. */
final class TinyModels {
  private TinyModels() {}

  static TransformerModel llama(int vocab, long seed) {
    try {
      ModelConfig config =
          ModelConfig.fromJson(
              new ObjectMapper()
                  .readTree(
                      """
          {"model_type": "llama", "vocab_size": %d, "hidden_size": 32, "intermediate_size": 64,
           "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
           "rms_norm_eps": 1e-6, "max_position_embeddings": 256, "rope_theta": 10000.0,
           "tie_word_embeddings": false}"""
                          .formatted(vocab)));
      return TransformerModel.randomInit(config, seed, RuntimeOptions.cpu());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * Random rows of prompt + response tokens, with some response tokens masked out (tool output).
   */
  static java.util.List<TrainingRow> rows(SplittableRandom rng, int count, int vocab, boolean rl) {
    java.util.List<TrainingRow> rows = new java.util.ArrayList<>();
    for (int i = 0; i < count; i++) {
      int prompt = 2 + rng.nextInt(6), response = 1 + rng.nextInt(14);
      int[] tokens = new int[prompt + response];
      for (int t = 0; t < tokens.length; t++) tokens[t] = rng.nextInt(vocab);
      float[] mask = new float[response], adv = new float[response], old = new float[response];
      float a = (float) (rng.nextDouble() * 2 - 1);
      for (int t = 0; t < response; t++) {
        mask[t] = rng.nextInt(4) == 0 ? 0f : 1f;
        adv[t] = a;
        old[t] = (float) (-Math.log(vocab) + (rng.nextDouble() - 0.5) * 0.4);
      }
      mask[0] = 1f;
      rows.add(
          rl
              ? new TrainingRow(tokens, prompt, mask, adv, old)
              : TrainingRow.supervised(tokens, prompt, mask));
    }
    return rows;
  }
}
