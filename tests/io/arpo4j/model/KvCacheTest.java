package io.arpo4j.model;

import static io.arpo4j.testing.NumericAsserts.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.model.TransformerModel.LogitsMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Cached forward passes equal full recomputes: incremental decoding, forked children (with
 * copy-on-write of the shared partial block), and batches of sequences of unequal lengths. A block
 * size of 4 makes block boundaries and partial blocks frequent.
 */
class KvCacheTest {
  private static final double TOLERANCE = 2e-5;
  private static TransformerModel model;
  private static int vocab;

  @BeforeAll
  static void load() {
    model = TestModels.model(TestModels.QWEN3, 3);
    vocab = model.config().vocabSize();
  }

  @AfterAll
  static void close() {
    model.close();
  }

  /** Logits [T][V] of a full forward pass over the whole sequence (no cache). */
  private static float[][] full(int[] tokens) {
    try (Tensor ids = Fixtures.ids(new int[][] {tokens});
        Tensor logits = model.logits(ids)) {
      return rows(Fixtures.floats(logits), tokens.length);
    }
  }

  private static float[][] rows(float[] flat, int n) {
    float[][] out = new float[n][];
    for (int i = 0; i < n; i++) {
      out[i] = Arrays.copyOfRange(flat, i * vocab, (i + 1) * vocab);
    }
    return out;
  }

  /**
   * Runs {@code counts} pending tokens of each sequence with ALL logits; returns each sequence's
   * rows.
   */
  private static List<float[][]> forwardAll(
      KvCache cache, List<CachedSequence> seqs, int[] counts) {
    try (Tensor logits = model.forward(cache, seqs, counts, LogitsMode.ALL)) {
      int t = (int) logits.size(1);
      float[] flat = Fixtures.floats(logits);
      List<float[][]> out = new ArrayList<>();
      for (int b = 0; b < seqs.size(); b++) {
        out.add(
            rows(Arrays.copyOfRange(flat, b * t * vocab, (b * t + counts[b]) * vocab), counts[b]));
      }
      return out;
    }
  }

  @Test
  void incrementalDecodingEqualsFullRecompute() {
    int[] tokens = TestModels.tokens(37, vocab, 1);
    float[][] expected = full(tokens);
    try (KvCache cache = new KvCache(model, 4, 2)) { // 2 blocks: the pool must grow several times
      CachedSequence seq = cache.newSequence(Arrays.copyOf(tokens, 10));
      int done = 0;
      int[] chunks = {10, 1, 3, 1, 1, 7, 4, 1, 9};
      for (int chunk : chunks) {
        if (done > 0) {
          cache.append(seq, Arrays.copyOfRange(tokens, done, done + chunk));
        }
        float[][] got = forwardAll(cache, List.of(seq), new int[] {chunk}).get(0);
        for (int i = 0; i < chunk; i++) {
          assertClose("position " + (done + i), expected[done + i], got[i], TOLERANCE, 0);
        }
        done += chunk;
        assertEquals(done, seq.cachedLength());
      }
      assertEquals(37, done);
      assertTrue(cache.capacityBlocks() >= 10, "pool grew to hold 37 tokens in blocks of 4");
    }
  }

  @Test
  void lastModeReturnsTheLastNewTokenOfEachSequence() {
    int[] tokens = TestModels.tokens(9, vocab, 2);
    float[][] expected = full(tokens);
    try (KvCache cache = new KvCache(model, 4, 8)) {
      CachedSequence seq = cache.newSequence(tokens);
      try (Tensor last = model.forward(cache, List.of(seq), new int[] {9}, LogitsMode.LAST)) {
        assertEquals(2, last.dim());
        assertClose("last position", expected[8], Fixtures.floats(last), TOLERANCE, 0);
      }
    }
  }

  @Test
  void forkedChildrenEqualFromScratchRecomputes() {
    int[] prefix = TestModels.tokens(10, vocab, 3); // 2 full blocks + a partial one of 2 tokens
    try (KvCache cache = new KvCache(model, 4, 16)) {
      CachedSequence parent = cache.newSequence(prefix);
      forwardAll(cache, List.of(parent), new int[] {10});
      int usedBefore = cache.usedBlocks();

      CachedSequence child = cache.fork(parent);
      assertEquals(usedBefore, cache.usedBlocks(), "fork copies no block");
      for (int i = 0; i < 3; i++) {
        assertEquals(2, cache.sharing(child, i), "block " + i + " shared");
      }

      int[] parentMore = TestModels.tokens(5, vocab, 4);
      int[] childMore = TestModels.tokens(3, vocab, 5);
      cache.append(parent, parentMore);
      cache.append(child, childMore);
      List<float[][]> got = forwardAll(cache, List.of(parent, child), new int[] {5, 3});

      assertEquals(2, cache.sharing(child, 0), "full blocks stay shared");
      assertEquals(2, cache.sharing(child, 1), "full blocks stay shared");
      assertEquals(1, cache.sharing(child, 2), "the partial block was copied on write");
      assertEquals(1, cache.sharing(parent, 2));

      float[][] parentExpected = full(concat(prefix, parentMore));
      float[][] childExpected = full(concat(prefix, childMore));
      for (int i = 0; i < 5; i++) {
        assertClose(
            "parent position " + (10 + i), parentExpected[10 + i], got.get(0)[i], TOLERANCE, 0);
      }
      for (int i = 0; i < 3; i++) {
        assertClose(
            "child position " + (10 + i), childExpected[10 + i], got.get(1)[i], TOLERANCE, 0);
      }

      // a grandchild of the child, after the parent is freed, still sees the shared prefix
      cache.free(parent);
      CachedSequence grandchild = cache.fork(child);
      int[] more = TestModels.tokens(6, vocab, 6);
      cache.append(grandchild, more);
      float[][] grandExpected = full(concat(concat(prefix, childMore), more));
      float[][] grandGot = forwardAll(cache, List.of(grandchild), new int[] {6}).get(0);
      for (int i = 0; i < 6; i++) {
        assertClose(
            "grandchild position " + (13 + i), grandExpected[13 + i], grandGot[i], TOLERANCE, 0);
      }
      cache.free(child);
      cache.free(grandchild);
      assertEquals(0, cache.usedBlocks(), "every block returned to the pool");
    }
  }

  /** Logits [V] after the last of {@code tokens}, from a fresh sequence in a cache of its own. */
  private static float[] freshLastLogits(int[] tokens) {
    try (KvCache fresh = new KvCache(model, 4, 4);
        Tensor logits =
            model.forward(
                fresh,
                List.of(fresh.newSequence(tokens)),
                new int[] {tokens.length},
                LogitsMode.LAST)) {
      return Fixtures.floats(logits);
    }
  }

  /**
   * A fork at a length takes a prefix of a parent that has cached past it (as the rollout forks a
   * branch after its probe): it shares the blocks of all its positions but the last, which stays
   * pending; its first step computes that one and gives what a fresh sequence over the prefix
   * gives. Writes into a shared partly filled block, by a child or by the parent, copy it first, so
   * neither sees the other's keys.
   */
  @Test
  void forkAtALengthSharesThePrefixAndComputesOnlyItsLastToken() {
    int[] tokens = TestModels.tokens(13, vocab, 7);
    try (KvCache cache = new KvCache(model, 4, 16)) {
      // 11 cached tokens in blocks of 4, 4 and 3, one pending
      CachedSequence parent = cache.newSequence(Arrays.copyOf(tokens, 10));
      forwardAll(cache, List.of(parent), new int[] {10});
      cache.append(parent, new int[] {tokens[10]});
      forwardAll(cache, List.of(parent), new int[] {1});
      cache.append(parent, new int[] {tokens[11]});
      int used = cache.usedBlocks();

      CachedSequence inPartial = cache.fork(parent, 10); // its last token lies in a partial block
      CachedSequence atBoundary = cache.fork(parent, 9); // its cached part fills 2 blocks exactly
      assertEquals(used, cache.usedBlocks(), "forks copy no block");
      assertArrayEquals(Arrays.copyOf(tokens, 10), inPartial.tokens());
      assertArrayEquals(Arrays.copyOf(tokens, 9), atBoundary.tokens());
      assertEquals(9, inPartial.cachedLength());
      assertEquals(1, inPartial.pendingLength());
      assertEquals(3, inPartial.blockCount());
      assertEquals(8, atBoundary.cachedLength());
      assertEquals(1, atBoundary.pendingLength());
      assertEquals(2, atBoundary.blockCount());
      for (int i = 0; i < 2; i++) {
        assertEquals(parent.block(i), inPartial.block(i));
        assertEquals(parent.block(i), atBoundary.block(i));
        assertEquals(3, cache.sharing(parent, i), "full block " + i + " shared by all three");
      }
      assertEquals(parent.block(2), inPartial.block(2));
      assertEquals(2, cache.sharing(parent, 2), "the partial block: parent and inPartial");

      try (Tensor logits =
          model.forward(cache, List.of(inPartial, atBoundary), new int[] {1, 1}, LogitsMode.LAST)) {
        float[] flat = Fixtures.floats(logits);
        assertClose(
            "inPartial's first step",
            freshLastLogits(Arrays.copyOf(tokens, 10)),
            Arrays.copyOfRange(flat, 0, vocab),
            TOLERANCE,
            0);
        assertClose(
            "atBoundary's first step",
            freshLastLogits(Arrays.copyOf(tokens, 9)),
            Arrays.copyOfRange(flat, vocab, 2 * vocab),
            TOLERANCE,
            0);
      }
      assertEquals(1, cache.sharing(inPartial, 2), "the child copied the partial block on write");
      assertEquals(1, cache.sharing(parent, 2));
      assertEquals(1, cache.sharing(atBoundary, 2), "a new block for position 8");
      assertEquals(used + 2, cache.usedBlocks());

      // the parent writes into a block it shares with a child: it copies it first, so the child's
      // later writes there do not reach the parent
      CachedSequence late = cache.fork(parent, 11);
      assertEquals(2, cache.sharing(parent, 2));
      float[][] parentExpected = full(tokens);
      assertClose(
          "parent position 11",
          parentExpected[11],
          forwardAll(cache, List.of(parent), new int[] {1}).get(0)[0],
          TOLERANCE,
          0);
      assertEquals(1, cache.sharing(parent, 2), "the parent copied the shared block on write");
      assertEquals(1, cache.sharing(late, 2));
      int other = (tokens[11] + 1) % vocab;
      cache.append(late, new int[] {other});
      float[][] lateGot = forwardAll(cache, List.of(late), new int[] {2}).get(0);
      int[] lateTokens = concat(Arrays.copyOf(tokens, 11), new int[] {other});
      float[][] lateExpected = full(lateTokens);
      assertClose("late position 10", lateExpected[10], lateGot[0], TOLERANCE, 0);
      assertClose("late position 11", lateExpected[11], lateGot[1], TOLERANCE, 0);
      cache.append(parent, new int[] {tokens[12]});
      assertClose(
          "parent position 12, after the child wrote position 11 of the old block",
          parentExpected[12],
          forwardAll(cache, List.of(parent), new int[] {1}).get(0)[0],
          TOLERANCE,
          0);

      // a parent with nothing cached gives a child with nothing shared
      CachedSequence unrun = cache.newSequence(Arrays.copyOf(tokens, 6));
      CachedSequence unrunChild = cache.fork(unrun, 5);
      assertEquals(0, unrunChild.cachedLength());
      assertEquals(5, unrunChild.pendingLength());
      assertEquals(0, unrunChild.blockCount());

      assertThrows(IllegalArgumentException.class, () -> cache.fork(parent, 0));
      assertThrows(IllegalArgumentException.class, () -> cache.fork(parent, parent.length() + 1));
      for (CachedSequence s : List.of(parent, inPartial, atBoundary, late, unrun, unrunChild)) {
        cache.free(s);
      }
      assertThrows(IllegalArgumentException.class, () -> cache.fork(parent, 1), "freed parent");
      assertEquals(0, cache.usedBlocks(), "every block returned to the pool");
    }
  }

  @Test
  void batchedDecodeOfUnequalLengthsEqualsOneByOne() {
    int[] lengths = {5, 17, 9, 1};
    int steps = 4;
    int[][] prompts = new int[lengths.length][];
    int[][] next = new int[lengths.length][];
    for (int i = 0; i < lengths.length; i++) {
      prompts[i] = TestModels.tokens(lengths[i], vocab, 10 + i);
      next[i] = TestModels.tokens(steps, vocab, 20 + i);
    }
    float[][][] alone = new float[lengths.length][steps][];
    try (KvCache cache = new KvCache(model, 4, 4)) {
      for (int i = 0; i < lengths.length; i++) {
        CachedSequence s = cache.newSequence(prompts[i]);
        forwardAll(cache, List.of(s), new int[] {lengths[i]});
        for (int step = 0; step < steps; step++) {
          cache.append(s, new int[] {next[i][step]});
          alone[i][step] = forwardAll(cache, List.of(s), new int[] {1}).get(0)[0];
        }
        cache.free(s);
      }
    }
    try (KvCache cache = new KvCache(model, 4, 4)) {
      List<CachedSequence> batch = new ArrayList<>();
      for (int[] prompt : prompts) {
        batch.add(cache.newSequence(prompt));
      }
      forwardAll(cache, batch, lengths.clone()); // one padded prefill of unequal prompts
      int[] ones = {1, 1, 1, 1};
      for (int step = 0; step < steps; step++) {
        for (int i = 0; i < batch.size(); i++) {
          cache.append(batch.get(i), new int[] {next[i][step]});
        }
        try (Tensor logits = model.forward(cache, batch, ones, LogitsMode.LAST)) {
          float[][] got = rows(Fixtures.floats(logits), batch.size());
          for (int i = 0; i < batch.size(); i++) {
            assertClose("sequence " + i + " step " + step, alone[i][step], got[i], TOLERANCE, 0);
          }
        }
      }
    }
  }

  @Test
  void mixedBatchOfPrefillsAndDecodesEqualsFullRecompute() {
    try (KvCache cache = new KvCache(model, 4, 4)) {
      int[] a = TestModels.tokens(14, vocab, 30);
      int[] b = TestModels.tokens(6, vocab, 31);
      CachedSequence sa = cache.newSequence(Arrays.copyOf(a, 7));
      CachedSequence sb = cache.newSequence(Arrays.copyOf(b, 5));
      forwardAll(cache, List.of(sa, sb), new int[] {7, 5});
      cache.append(sa, Arrays.copyOfRange(a, 7, 14)); // a tool result: 7 new tokens
      cache.append(sb, Arrays.copyOfRange(b, 5, 6)); // one decoded token
      CachedSequence sc = cache.newSequence(TestModels.tokens(3, vocab, 32)); // fresh prompt
      List<float[][]> got = forwardAll(cache, List.of(sa, sb, sc), new int[] {7, 1, 3});
      float[][] ea = full(a);
      float[][] eb = full(b);
      float[][] ec = full(sc.tokens());
      for (int i = 0; i < 7; i++) {
        assertClose("a position " + (7 + i), ea[7 + i], got.get(0)[i], TOLERANCE, 0);
      }
      assertClose("b position 5", eb[5], got.get(1)[0], TOLERANCE, 0);
      for (int i = 0; i < 3; i++) {
        assertClose("c position " + i, ec[i], got.get(2)[i], TOLERANCE, 0);
      }
    }
  }

  /** The bf16 path (what GPUs run): cached decoding agrees with a full bf16 pass and with fp32. */
  @Test
  void bf16RuntimeAgreesWithItselfAndWithFp32() throws Exception {
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("bf16-model");
    try {
      model.save(dir, StorageType.F32);
      RuntimeOptions bf16 = new RuntimeOptions("cpu", StorageType.BF16, 0);
      try (TransformerModel half = TransformerModel.load(dir, bf16);
          KvCache cache = new KvCache(half, 4, 4)) {
        int[] tokens = TestModels.tokens(12, vocab, 40);
        float[] fullHalf;
        try (Tensor ids = half.ids(tokens);
            Tensor logits = half.logits(ids)) {
          assertEquals(
              org.bytedeco.pytorch.global.torch.ScalarType.BFloat16, logits.scalar_type().intern());
          fullHalf = Fixtures.floats(logits);
        }
        float[][] full32 = full(tokens);
        CachedSequence seq = cache.newSequence(Arrays.copyOf(tokens, 8));
        half.forward(cache, List.of(seq), new int[] {8}, LogitsMode.NONE);
        cache.append(seq, Arrays.copyOfRange(tokens, 8, 12));
        try (Tensor logits = half.forward(cache, List.of(seq), new int[] {4}, LogitsMode.ALL)) {
          float[] cached = Fixtures.floats(logits);
          for (int i = 0; i < 4 * vocab; i++) {
            float reference = fullHalf[8 * vocab + i];
            assertEquals(
                reference,
                cached[i],
                0.05 + 0.02 * Math.abs(reference),
                "cached vs full bf16 at " + i);
            float exact = full32[8 + i / vocab][i % vocab];
            assertEquals(exact, cached[i], 0.15 + 0.05 * Math.abs(exact), "bf16 vs fp32 at " + i);
          }
        }
      }
    } finally {
      try (var files = java.nio.file.Files.list(dir)) {
        for (java.nio.file.Path f : (Iterable<java.nio.file.Path>) files::iterator) {
          java.nio.file.Files.delete(f);
        }
      }
      java.nio.file.Files.delete(dir);
    }
  }

  @Test
  void misuseIsRejected() {
    try (KvCache cache = new KvCache(model, 4, 4);
        KvCache other = new KvCache(model, 4, 4)) {
      CachedSequence s = cache.newSequence(new int[] {1, 2});
      assertThrows(IllegalArgumentException.class, () -> cache.newSequence(new int[0]));
      assertThrows(IllegalArgumentException.class, () -> cache.newSequence(new int[] {vocab}));
      assertThrows(IllegalArgumentException.class, () -> cache.append(s, new int[] {-1}));
      assertThrows(IllegalArgumentException.class, () -> other.fork(s));
      assertThrows(
          IllegalArgumentException.class,
          () -> model.forward(cache, List.of(s), new int[] {3}, LogitsMode.NONE),
          "more than pending");
      assertThrows(
          IllegalArgumentException.class,
          () -> model.forward(cache, List.of(s, s), new int[] {1, 1}, LogitsMode.NONE),
          "duplicate");
      cache.free(s);
      assertThrows(IllegalArgumentException.class, () -> cache.append(s, new int[] {1}));
    }
  }

  private static int[] concat(int[] a, int[] b) {
    int[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
