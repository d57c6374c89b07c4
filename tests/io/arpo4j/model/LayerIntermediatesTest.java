package io.arpo4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.model.TransformerModel.LogitsMode;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A forward pass without autograd frees each decoder layer's intermediates when the layer ends: the
 * number of live native objects (JavaCPP's count of pointers it will free, each intermediate tensor
 * one) does not grow from one layer's start to the next after the first. It once grew by a layer's
 * worth of tensors per layer, and a 4,096-token prefill of a 0.5B model held all 24 layers' at once
 * (15 GB). A residency that keeps everything gathered marks each layer's start.
 */
class LayerIntermediatesTest {
  private static final int LAYERS = 5;
  private static TransformerModel model;
  private static final List<Long> liveAtLayerStart = new ArrayList<>();

  @BeforeAll
  static void load() {
    model =
        TestModels.model(
            TestModels.QWEN3.replace(
                "\"num_hidden_layers\": 2", "\"num_hidden_layers\": " + LAYERS),
            3);
    model.setResidency(
        new ParameterResidency() {
          @Override
          public int outer() {
            return LAYERS;
          }

          @Override
          public void gather(int block) {
            if (block < LAYERS) liveAtLayerStart.add(Pointer.totalCount());
          }

          @Override
          public void release(int block) {}

          @Override
          public void reduceGradients(int block) {}

          @Override
          public boolean isGathered(int block) {
            return true;
          }
        });
  }

  @AfterAll
  static void close() {
    model.close();
  }

  @Test
  void aCachedPrefillHoldsOneLayersIntermediatesAtATime() {
    int[] tokens = TestModels.tokens(24, model.config().vocabSize(), 1);
    try (KvCache cache = new KvCache(model, 4, 8)) {
      CachedSequence sequence = cache.newSequence(tokens);
      liveAtLayerStart.clear();
      try (Tensor logits =
          model.forward(cache, List.of(sequence), new int[] {tokens.length}, LogitsMode.ALL)) {
        assertLiveCountDoesNotGrowAcrossLayers();
      }
    }
  }

  @Test
  void aWholeBatchForwardWithoutAutogradHoldsOneLayersIntermediatesAtATime() {
    int[] tokens = TestModels.tokens(24, model.config().vocabSize(), 2);
    try (NoGradGuard noGrad = new NoGradGuard();
        Tensor ids = Fixtures.ids(new int[][] {tokens, tokens})) {
      liveAtLayerStart.clear();
      try (Tensor logits = model.logits(ids)) {
        assertLiveCountDoesNotGrowAcrossLayers();
      }
    }
  }

  /**
   * From layer 1 on, only the previous layer's output is live besides the pass's own tensors. (The
   * count may fall meanwhile, when the garbage collector frees unrelated objects; it must not
   * grow.)
   */
  private static void assertLiveCountDoesNotGrowAcrossLayers() {
    assertEquals(LAYERS, liveAtLayerStart.size(), "one count per layer: " + liveAtLayerStart);
    long atSecondLayer = liveAtLayerStart.get(1);
    for (int i = 2; i < LAYERS; i++) {
      assertTrue(
          liveAtLayerStart.get(i) <= atSecondLayer,
          "live native objects at each layer's start: " + liveAtLayerStart);
    }
  }
}
