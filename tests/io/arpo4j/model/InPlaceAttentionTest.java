package io.arpo4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Decode steps that attend over the paged cache in place (the native kernel) generate what the
 * gather path (libtorch attention over the copied keys and values, which prefill still uses)
 * generates: the same greedy tokens with log-probs and entropies equal to float round-off, through
 * ARPO-style forks (children share the parent's blocks, get their own tool-result tokens, and write
 * into copies of the shared partial block), more sequences than the block table first has rows for,
 * and contexts longer than its first columns hold.
 */
class InPlaceAttentionTest {
  private static PolicyModel pm;

  @BeforeAll
  static void load() {
    pm = PolicyModel.loadDefault();
    TestModels.randomize(pm.model().parameters(), 99); // sharper than the N(0, 0.02) start
  }

  @AfterAll
  static void close() {
    pm.close();
  }

  /** Every sampled token of a scripted rollout with forks, in order of sampling. */
  private static List<SampledToken> rollout(boolean inPlace) {
    List<SampledToken> out = new ArrayList<>();
    try (TransformerPolicy policy = pm.newPolicy(5, TransformerPolicy.MAX_PREFILL_TOKENS)) {
      policy.cache().setInPlaceAttention(inPlace);
      List<Sequence> live = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        live.add(policy.newSequence(TestModels.tokens(7 + 6 * i, 256, 10 + i)));
      }
      for (int step = 0; step < 30; step++) {
        if (step == 6 || step == 15) { // branch: each of the first three forks, children diverge
          for (int i = 0; i < 3; i++) {
            Sequence child = policy.fork(live.get(i));
            policy.append(child, TestModels.tokens(1 + i + step % 4, 256, 100 + step + i));
            live.add(child);
          }
        }
        if (step == 20) {
          policy.free(live.remove(1)); // a parent ends; its children keep the shared blocks
        }
        out.addAll(policy.step(live, SamplingParams.greedy(), 0, step));
      }
      assertTrue(live.size() > 8, "more sequences than the table's first 8 rows");
      assertTrue(live.get(live.size() - 1).length() > 40, "longer than 8 columns of 5 tokens");
    }
    return out;
  }

  @Test
  void greedyRolloutWithForksMatchesTheGatherPath() {
    List<SampledToken> gathered = rollout(false);
    List<SampledToken> inPlace = rollout(true);
    assertEquals(gathered.size(), inPlace.size());
    double worstLogprob = 0, worstEntropy = 0;
    for (int i = 0; i < gathered.size(); i++) {
      assertEquals(gathered.get(i).token(), inPlace.get(i).token(), "token " + i);
      worstLogprob =
          Math.max(worstLogprob, Math.abs(gathered.get(i).logprob() - inPlace.get(i).logprob()));
      worstEntropy =
          Math.max(worstEntropy, Math.abs(gathered.get(i).entropy() - inPlace.get(i).entropy()));
    }
    System.out.printf(
        Locale.ROOT,
        "in-place vs gather: %d greedy tokens identical; max |logprob diff| %.3g, max |entropy"
            + " diff| %.3g%n",
        gathered.size(),
        worstLogprob,
        worstEntropy);
    assertTrue(worstLogprob < 1e-4, "log-probs differ by up to " + worstLogprob);
    assertTrue(worstEntropy < 1e-4, "entropies differ by up to " + worstEntropy);
  }

  /**
   * A bf16 model on the CPU (the kernel's bf16 path: bf16 queries and pools, fp32 accumulation):
   * token-by-token decoding in place stays about as close to the fp32 model as the gather path does
   * (mean error), and within the bf16-vs-fp32 tolerance of {@code KvCacheTest}.
   */
  @Test
  void bf16DecodingIsAsCloseToFp32AsTheGatherPath() throws Exception {
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("bf16-in-place");
    try (TransformerModel fp32 = TestModels.model(TestModels.QWEN3, 5)) {
      fp32.save(dir, StorageType.F32);
      int vocab = fp32.config().vocabSize();
      int[] tokens = TestModels.tokens(30, vocab, 7);
      float[] exact;
      try (org.bytedeco.pytorch.Tensor ids = fp32.ids(tokens);
          org.bytedeco.pytorch.Tensor logits = fp32.logits(ids)) {
        float[] all = Fixtures.floats(logits);
        exact = java.util.Arrays.copyOfRange(all, 6 * vocab, tokens.length * vocab);
      }
      double[] worst = new double[2];
      double[] mean = new double[2];
      float[] inPlaceLogits = null;
      try (TransformerModel half =
          TransformerModel.load(dir, new RuntimeOptions("cpu", StorageType.BF16, 0))) {
        for (int mode = 0; mode < 2; mode++) {
          float[] got = new float[exact.length];
          try (KvCache cache = new KvCache(half, 4, 2)) {
            cache.setInPlaceAttention(mode == 1);
            CachedSequence seq = cache.newSequence(java.util.Arrays.copyOf(tokens, 6));
            half.forward(cache, List.of(seq), new int[] {6}, TransformerModel.LogitsMode.NONE);
            for (int i = 6; i < tokens.length; i++) {
              cache.append(seq, new int[] {tokens[i]});
              try (org.bytedeco.pytorch.Tensor logits =
                  half.forward(
                      cache, List.of(seq), new int[] {1}, TransformerModel.LogitsMode.LAST)) {
                System.arraycopy(Fixtures.floats(logits), 0, got, (i - 6) * vocab, vocab);
              }
            }
          }
          for (int i = 0; i < exact.length; i++) {
            worst[mode] = Math.max(worst[mode], Math.abs(got[i] - exact[i]));
            mean[mode] += Math.abs(got[i] - exact[i]) / exact.length;
          }
          if (mode == 1) inPlaceLogits = got;
        }
      }
      System.out.printf(
          Locale.ROOT,
          "bf16 decode vs fp32 over %d logits: max |error| gather %.3g, in place %.3g; mean"
              + " |error| gather %.3g, in place %.3g%n",
          exact.length,
          worst[0],
          worst[1],
          mean[0],
          mean[1]);
      io.arpo4j.testing.NumericAsserts.assertClose(
          "bf16 in-place decode vs fp32", exact, inPlaceLogits, 0.15, 0.05);
      // the mean, not the max: one logit's rounding luck decides the max
      assertTrue(
          mean[1] <= 1.25 * mean[0],
          "in place is further from fp32 (mean " + mean[1] + ") than gathering (" + mean[0] + ")");
    } finally {
      try (var files = java.nio.file.Files.list(dir)) {
        for (java.nio.file.Path f : (Iterable<java.nio.file.Path>) files::iterator) {
          java.nio.file.Files.delete(f);
        }
      }
      java.nio.file.Files.delete(dir);
    }
  }
}
