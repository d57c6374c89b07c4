package io.arpo4j.model;

import static io.arpo4j.testing.NumericAsserts.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Every position's logits match the HF reference logits of the hf-tiny fixtures. */
class HfParityTest {

  @ParameterizedTest
  @ValueSource(strings = {"qwen2", "llama", "llama-sharded"})
  void logitsMatchReferenceAtEveryPosition(String name) throws Exception {
    JsonNode ref = Fixtures.json("hf-tiny/" + name + "/reference_logits.json");
    int[][] sequences = Fixtures.JSON.treeToValue(ref.get("sequences"), int[][].class);
    double[][][] expected = Fixtures.JSON.treeToValue(ref.get("logits"), double[][][].class);
    try (TransformerModel model =
            TransformerModel.load(Fixtures.path("hf-tiny/" + name), RuntimeOptions.cpu());
        Tensor ids = Fixtures.ids(sequences);
        Tensor logits = model.logits(ids)) {
      int vocab = model.config().vocabSize();
      assertArrayEquals(
          new long[] {sequences.length, sequences[0].length, vocab}, logits.sizes().vec().get());
      float[] actual = Fixtures.floats(logits);
      double[] flat = new double[actual.length];
      for (int s = 0; s < sequences.length; s++) {
        for (int p = 0; p < sequences[s].length; p++) {
          assertEquals(vocab, expected[s][p].length);
          System.arraycopy(expected[s][p], 0, flat, (s * sequences[s].length + p) * vocab, vocab);
        }
      }
      assertClose(name + " logits", flat, actual, 1e-4, 0);
    }
  }
}
