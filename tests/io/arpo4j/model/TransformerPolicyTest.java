package io.arpo4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Policy the rollout tree drives, over the embedded default model with randomised weights. */
class TransformerPolicyTest {
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

  /** log-softmax and entropy of one row of logits, in float64. */
  private static double[] logSoftmax(float[] row) {
    double max = Double.NEGATIVE_INFINITY;
    for (float v : row) {
      max = Math.max(max, v);
    }
    double sum = 0;
    for (float v : row) {
      sum += Math.exp(v - max);
    }
    double lse = max + Math.log(sum);
    double[] out = new double[row.length];
    for (int i = 0; i < row.length; i++) {
      out[i] = row[i] - lse;
    }
    return out;
  }

  private static float[] lastLogits(int[] tokens) {
    try (Tensor ids = Fixtures.ids(new int[][] {tokens});
        Tensor logits = pm.model().logits(ids)) {
      float[] flat = Fixtures.floats(logits);
      int v = pm.model().config().vocabSize();
      return Arrays.copyOfRange(flat, flat.length - v, flat.length);
    }
  }

  @Test
  void greedyStepsFollowTheArgmaxWithExactLogprobAndEntropy() {
    try (TransformerPolicy policy = pm.newPolicy()) {
      int[] prompt =
          pm.tokenizer()
              .encode("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
      CachedSequence seq = policy.newSequence(prompt);
      for (int step = 0; step < 5; step++) {
        int[] sofar = seq.tokens();
        float[] logits = lastLogits(sofar);
        double[] logp = logSoftmax(logits);
        int argmax = 0;
        double entropy = 0;
        for (int i = 0; i < logp.length; i++) {
          argmax = logp[i] > logp[argmax] ? i : argmax;
          entropy -= Math.exp(logp[i]) * logp[i];
        }
        SampledToken t = policy.step(List.of(seq), SamplingParams.greedy(), 7, step).get(0);
        assertEquals(argmax, t.token(), "step " + step);
        assertEquals(logp[argmax], t.logprob(), 1e-4);
        assertEquals(entropy, t.entropy(), 1e-4);
        assertEquals(sofar.length + 1, seq.length());
        assertEquals(t.token(), seq.token(sofar.length));
      }
    }
  }

  /**
   * A generation's first step computes the prompt in one forward pass (its last token's logits come
   * from it), and each later step in one more; a prompt longer than a prefill chunk takes one pass
   * per chunk. Before, the last prompt token ran alone in a second pass: one more read of every
   * weight per generation.
   */
  @Test
  void eachPromptTokenRunsOnceAndTheFirstStepTakesOnePass() {
    try (TransformerPolicy policy = pm.newPolicy()) {
      int[] prompt = TestModels.tokens(20, 256, 3);
      CachedSequence seq = policy.newSequence(prompt);
      long before = pm.model().cachedForwards();
      SampledToken first = policy.step(List.of(seq), SamplingParams.greedy(), 0, 0).get(0);
      assertEquals(1, pm.model().cachedForwards() - before, "forward passes of the first step");
      policy.step(List.of(seq), SamplingParams.greedy(), 0, 1);
      assertEquals(2, pm.model().cachedForwards() - before, "forward passes after a decode step");
      assertEquals(argmax(lastLogits(prompt)), first.token(), "the first token still follows");
    }
    try (TransformerPolicy policy = pm.newPolicy(4, 8)) { // 8 tokens per forward
      CachedSequence seq = policy.newSequence(TestModels.tokens(20, 256, 4));
      long before = pm.model().cachedForwards();
      policy.step(List.of(seq), SamplingParams.greedy(), 0, 0);
      assertEquals(3, pm.model().cachedForwards() - before, "20 tokens in chunks of 8");
    }
  }

  private static int argmax(float[] row) {
    int best = 0;
    for (int i = 0; i < row.length; i++) best = row[i] > row[best] ? i : best;
    return best;
  }

  @Test
  void samplingIsReproducibleBySeedAndForkedChildrenDiverge() {
    SamplingParams warm = new SamplingParams(1.0f, 1.0f, 0);
    int[] prompt = pm.tokenizer().encode("Once upon a time");
    List<int[]> runs = new ArrayList<>();
    for (long seed : new long[] {1, 1, 2}) {
      try (TransformerPolicy policy = pm.newPolicy()) {
        CachedSequence parent = policy.newSequence(prompt);
        List<Sequence> family = new ArrayList<>(List.of(parent));
        for (int i = 0; i < 3; i++) {
          family.add(policy.fork(parent));
        }
        for (int step = 0; step < 6; step++) {
          policy.step(family, warm, seed, step);
        }
        int[] all = new int[0];
        for (Sequence s : family) {
          int[] t = s.tokens();
          assertArrayEquals(prompt, Arrays.copyOf(t, prompt.length), "the shared prompt is intact");
          int[] tail = Arrays.copyOfRange(t, prompt.length, t.length);
          all = concat(all, tail);
        }
        runs.add(all);
        // the family's samples are not all identical: rows draw different random numbers
        int[] first = Arrays.copyOfRange(all, 0, 6);
        boolean someDiffer = false;
        for (int k = 1; k < 4; k++) {
          someDiffer |= !Arrays.equals(first, Arrays.copyOfRange(all, 6 * k, 6 * k + 6));
        }
        assertTrue(someDiffer, "forked children diverge under sampling");
      }
    }
    assertArrayEquals(runs.get(0), runs.get(1), "same seed, same tokens");
    assertNotEquals(
        Arrays.toString(runs.get(0)), Arrays.toString(runs.get(2)), "another seed, other tokens");
  }

  @Test
  void forkPrefillsThePromptOnceAndChildrenMatchRecompute() {
    try (TransformerPolicy policy = pm.newPolicy()) {
      int[] prompt =
          pm.tokenizer().encode("A prompt long enough to fill several blocks of the cache.");
      CachedSequence parent = policy.newSequence(prompt);
      CachedSequence child = policy.fork(parent);
      assertEquals(
          prompt.length - 1, parent.cachedLength(), "fork prefilled all but the last token");
      assertEquals(prompt.length - 1, child.cachedLength(), "and the child shares it");
      int used = policy.cache().usedBlocks();
      CachedSequence second = policy.fork(parent);
      assertEquals(used, policy.cache().usedBlocks(), "a second fork allocates nothing");

      int[] toolResult = pm.tokenizer().encode(" <result>\n3379\n</result>");
      policy.append(child, toolResult);
      SampledToken t = policy.step(List.of(child, second), SamplingParams.greedy(), 0, 0).get(0);
      float[] logits = lastLogits(concat(prompt, toolResult));
      int argmax = 0;
      for (int i = 0; i < logits.length; i++) {
        argmax = logits[i] > logits[argmax] ? i : argmax;
      }
      assertEquals(argmax, t.token(), "child continues from prompt + appended tool result");
      policy.free(parent);
      policy.free(child);
      policy.free(second);
      assertEquals(0, policy.cache().usedBlocks());
    }
  }

  /**
   * A fork at a length, taken as the rollout takes a branch (after a tool result and the probe
   * tokens that followed it), runs no forward pass; its one pending token joins the parent's in one
   * batched decode pass, and it continues the prefix as the parent continues its own tokens.
   */
  @Test
  void forkAtALengthRunsNoPassAndItsFirstStepJoinsTheDecodeBatch() {
    try (TransformerPolicy policy = pm.newPolicy()) {
      SamplingParams greedy = SamplingParams.greedy();
      CachedSequence parent = policy.newSequence(TestModels.tokens(20, 256, 5));
      policy.step(List.of(parent), greedy, 0, 0);
      policy.append(parent, TestModels.tokens(7, 256, 6)); // a tool result
      int length = parent.length();
      for (int step = 1; step <= 3; step++) policy.step(List.of(parent), greedy, 0, step); // probe

      long before = pm.model().cachedForwards();
      CachedSequence child = policy.fork(parent, length);
      assertEquals(before, pm.model().cachedForwards(), "the fork runs no forward pass");
      assertArrayEquals(Arrays.copyOf(parent.tokens(), length), child.tokens());
      assertEquals(length - 1, child.cachedLength());
      int[] parentTokens = parent.tokens();
      List<SampledToken> next = policy.step(List.of(parent, child), greedy, 0, 4);
      assertEquals(1, pm.model().cachedForwards() - before, "one decode pass for both");
      assertEquals(argmax(lastLogits(parentTokens)), next.get(0).token(), "the parent");
      assertEquals(
          argmax(lastLogits(Arrays.copyOf(parentTokens, length))),
          next.get(1).token(),
          "the child");
      assertThrows(IllegalArgumentException.class, () -> policy.fork(parent, 0));
      assertThrows(IllegalArgumentException.class, () -> policy.fork(parent, parent.length() + 1));
    }
  }

  /**
   * On the CPU a step packs every pending token into as few passes as the per-pass token budget
   * allows: a decode row, a tool result appended to a cached sequence and a fresh prompt share one
   * pass (22 tokens; three with 8 per pass), and each sequence's token and logprob still follow a
   * full recompute of its tokens.
   */
  @Test
  void aStepCarriesToolResultsAndPromptsBesideDecodeRows() {
    for (int perPass : new int[] {4096, 8}) {
      try (TransformerPolicy policy = pm.newPolicy(4, perPass)) {
        CachedSequence a = policy.newSequence(TestModels.tokens(6, 256, 1));
        CachedSequence b = policy.newSequence(TestModels.tokens(7, 256, 2));
        policy.step(List.of(a, b), SamplingParams.greedy(), 0, 0);
        policy.append(b, TestModels.tokens(9, 256, 3)); // a tool result
        CachedSequence c = policy.newSequence(TestModels.tokens(12, 256, 4));
        List<Sequence> batch = List.of(a, b, c);
        long before = pm.model().cachedForwards();
        List<SampledToken> out = policy.step(batch, SamplingParams.greedy(), 0, 1);
        assertEquals(
            perPass == 8 ? 3 : 1,
            pm.model().cachedForwards() - before,
            "passes for 1 + 9 + 12 tokens at " + perPass + " per pass");
        for (int i = 0; i < batch.size(); i++) {
          int[] tokens = batch.get(i).tokens();
          double[] logp = logSoftmax(lastLogits(Arrays.copyOf(tokens, tokens.length - 1)));
          int argmax = 0;
          for (int v = 0; v < logp.length; v++) argmax = logp[v] > logp[argmax] ? v : argmax;
          assertEquals(argmax, out.get(i).token(), "sequence " + i);
          assertEquals(logp[argmax], out.get(i).logprob(), 1e-4, "sequence " + i);
        }
      }
    }
  }

  @Test
  void chunkedGroupedPrefillOfUnequalPromptsMatchesRecompute() {
    try (TransformerPolicy policy =
        pm.newPolicy(4, 8)) { // 8 tokens per forward: many chunks and groups
      List<Sequence> seqs = new ArrayList<>();
      List<int[]> prompts = new ArrayList<>();
      for (int n : new int[] {30, 3, 12, 1, 5, 17}) {
        int[] p = TestModels.tokens(n, 256, n);
        prompts.add(p);
        seqs.add(policy.newSequence(p));
      }
      List<SampledToken> out = policy.step(seqs, SamplingParams.greedy(), 0, 0);
      for (int i = 0; i < seqs.size(); i++) {
        double[] logp = logSoftmax(lastLogits(prompts.get(i)));
        int argmax = 0;
        for (int v = 0; v < logp.length; v++) {
          argmax = logp[v] > logp[argmax] ? v : argmax;
        }
        assertEquals(argmax, out.get(i).token(), "prompt " + i);
        assertEquals(logp[argmax], out.get(i).logprob(), 1e-4, "prompt " + i);
      }
    }
  }

  @Test
  void foreignSequencesAreRejected() {
    try (TransformerPolicy a = pm.newPolicy();
        TransformerPolicy b = pm.newPolicy()) {
      CachedSequence s = a.newSequence(new int[] {1, 2, 3});
      assertThrows(
          IllegalArgumentException.class, () -> b.step(List.of(s), SamplingParams.greedy(), 0, 0));
      assertThrows(IllegalArgumentException.class, () -> b.fork(s));
      assertThrows(
          IllegalArgumentException.class,
          () -> a.newSequence(new int[] {pm.model().config().vocabSize()}));
    }
  }

  @Test
  void policyReportsVocabularyEosAndCodec() {
    try (TransformerPolicy policy = pm.newPolicy()) {
      assertEquals(269, policy.vocabSize());
      assertArrayEquals(new int[] {258}, policy.eosTokenIds());
      assertEquals("héllo", policy.codec().decode(policy.codec().encode("héllo")));
    }
  }

  private static int[] concat(int[] a, int[] b) {
    int[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
