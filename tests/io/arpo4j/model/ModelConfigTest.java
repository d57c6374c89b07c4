package io.arpo4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ModelConfigTest {

  @Test
  void architectureFlagsFollowTheModelType() {
    ModelConfig qwen2 =
        TestModels.config(
            """
        {"model_type": "qwen2", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 4,
         "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1}""");
    assertTrue(qwen2.qkvBias());
    assertFalse(qwen2.outputBias());
    assertFalse(qwen2.qkNorm());
    assertEquals(4, qwen2.headDim());
    assertEquals(2, qwen2.groupSize());
    assertEquals(1e-6, qwen2.rmsNormEps());

    ModelConfig qwen3 = TestModels.config(TestModels.QWEN3);
    assertTrue(qwen3.qkNorm());
    assertTrue(qwen3.qkvBias() && qwen3.outputBias());
    assertEquals(16, qwen3.headDim());
    assertEquals(2, qwen3.eosTokenIds()[0]);

    ModelConfig llama = TestModels.config(TestModels.LLAMA3);
    assertEquals(RopeConfig.Type.LLAMA3, llama.rope().type());
    assertEquals(64, llama.rope().originalMaxPositions());
    assertTrue(llama.mlpBias());
    assertFalse(llama.qkvBias());
  }

  @Test
  void transformers5RopeParametersAreRead() {
    ModelConfig c =
        TestModels.config(
            """
        {"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 4,
         "num_hidden_layers": 1, "num_attention_heads": 2,
         "rope_parameters": {"rope_type": "default", "rope_theta": 5000.0}}""");
    assertEquals(5000.0, c.rope().theta());
    assertEquals(RopeConfig.Type.DEFAULT, c.rope().type());
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "\"model_type\": \"mistral\"                                | unsupported model_type 'mistral'",
        "\"hidden_act\": \"gelu\"                                    | unsupported hidden_act 'gelu'",
        "\"use_sliding_window\": true                              | use_sliding_window",
        "\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0}      | unsupported rope_scaling type 'yarn'",
        "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0} | missing low_freq_factor",
        "\"num_key_value_heads\": 3                                | multiple of num_key_value_heads",
        "\"quantization_config\": {\"bits\": 4}                      | quantization_config",
        "\"vocab_size\": -5                                        | vocab_size must be a positive integer",
        "\"partial_rotary_factor\": 0.5                            | partial_rotary_factor",
      })
  void unsupportedOptionsAreNamed(String override, String expected) {
    String json =
        """
        {"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 4,
         "num_hidden_layers": 1, "num_attention_heads": 2, %s}"""
            .formatted(override);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> TestModels.config(json));
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }

  @Test
  void missingKeysAreNamed() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> TestModels.config("{\"model_type\": \"qwen2\", \"vocab_size\": 10}"));
    assertTrue(e.getMessage().contains("missing hidden_size"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class, () -> TestModels.config("{\"vocab_size\": 10}"));
    assertTrue(e.getMessage().contains("model_type"), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource({"QWEN3", "LLAMA3", "QWEN2_LINEAR"})
  void parameterCountIsTheSumOfTheLayoutsShapes(String which) throws Exception {
    ModelConfig config =
        TestModels.config((String) TestModels.class.getDeclaredField(which).get(null));
    long sum = 0;
    for (long[] shape : ParameterLayout.shapes(config).values()) {
      long n = 1;
      for (long d : shape) n *= d;
      sum += n;
    }
    assertEquals(sum, config.parameterCount());
  }

  @Test
  void absurdSizesAreRejectedBeforeAnythingIsAllocated() {
    String layers =
        TestModels.QWEN2_LINEAR.replace(
            "\"num_hidden_layers\": 3", "\"num_hidden_layers\": 1000000000");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> TestModels.config(layers));
    assertTrue(e.getMessage().contains("num_hidden_layers 1000000000"), e.getMessage());
    String wide =
        TestModels.QWEN2_LINEAR
            .replace("\"hidden_size\": 16", "\"hidden_size\": 2000000000")
            .replace("\"vocab_size\": 41", "\"vocab_size\": 2000000000");
    e = assertThrows(IllegalArgumentException.class, () -> TestModels.config(wide));
    assertTrue(e.getMessage().contains("parameters, more than"), e.getMessage());
  }
}
