package io.arpo4j.model;

import static io.arpo4j.testing.NumericAsserts.assertClose;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Architectures without an HF fixture (Qwen3's q/k norm and explicit head_dim, Llama 3 rope
 * scaling, MLP and output biases, linear rope, tied embeddings) against the float64 reference.
 */
class ReferenceParityTest {

  @ParameterizedTest
  @ValueSource(strings = {"QWEN3", "LLAMA3", "QWEN2_LINEAR"})
  void logitsMatchFloat64Reference(String which) throws Exception {
    String json = (String) TestModels.class.getDeclaredField(which).get(null);
    try (TransformerModel model = TestModels.model(json, 11)) {
      int vocab = model.config().vocabSize();
      int[] ids = TestModels.tokens(40, vocab, 5);
      double[][] expected = new ReferenceTransformer(model).logits(ids);
      try (Tensor idsTensor = Fixtures.ids(new int[][] {ids});
          Tensor logits = model.logits(idsTensor)) {
        float[] actual = Fixtures.floats(logits);
        double spread = 0;
        double[] flat = new double[ids.length * vocab];
        for (int t = 0; t < ids.length; t++) {
          System.arraycopy(expected[t], 0, flat, t * vocab, vocab);
          for (int v = 0; v < vocab; v++)
            spread = Math.max(spread, Math.abs(expected[t][v] - expected[0][v]));
        }
        assertTrue(
            spread > 0.5, which + ": logits barely vary (" + spread + "), the test would be weak");
        assertClose(which + " logits against the float64 reference", flat, actual, 1e-4, 0);
      }
    }
  }
}
