package io.arpo4j.kernels;

import static io.arpo4j.kernels.TestTensors.*;
import static io.arpo4j.testing.NumericAsserts.assertClose;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The paged decode attention kernel against brute-force attention in float64 over keys and values
 * gathered through the same block tables: random tables whose sequences share prefix blocks (as
 * forks do), lengths that are not multiples of the block size, table rows out of batch order,
 * grouped-query, multi-query and multi-head layouts, head sizes with and without a SIMD tail, long
 * rows that the kernel splits into spans (batch 1) and batches up to 16.
 */
class PagedAttentionTest {

  /** A random paged cache: pools, a block table with shared prefixes, and query rows over it. */
  private record Case(
      Tensor keys,
      Tensor values,
      int[][] tables,
      int tableColumns,
      int[] seqRows,
      int[] lengths,
      int blockSize,
      Tensor q) {

    static Case random(
        SplittableRandom rng,
        int batch,
        int heads,
        int kvHeads,
        int headDim,
        int blockSize,
        int maxLength) {
      int[] lengths = new int[batch];
      for (int i = 0; i < batch; i++) lengths[i] = 1 + rng.nextInt(maxLength);
      lengths[0] = maxLength; // the longest row is always there (batch 1: the span split)
      int columns = (maxLength + blockSize - 1) / blockSize + 1; // one spare, stale column
      // block ids handed out in shuffled order, so no row's blocks are contiguous in the pool
      List<Integer> free = new ArrayList<>();
      for (int i = 0; i < batch * columns; i++) free.add(i);
      Collections.shuffle(free, new java.util.Random(rng.nextLong()));
      int poolBlocks = free.size();
      int rows = batch + 2; // two rows no query uses
      int[][] tables = new int[rows][columns];
      int[] seqRows = new int[batch];
      List<Integer> rowOrder = new ArrayList<>();
      for (int r = 0; r < rows; r++) rowOrder.add(r);
      Collections.shuffle(rowOrder, new java.util.Random(rng.nextLong()));
      for (int i = 0; i < batch; i++) {
        int row = rowOrder.get(i);
        seqRows[i] = row;
        int shared = 0;
        if (i > 0 && rng.nextBoolean()) { // a fork of an earlier sequence: its first blocks shared
          int[] parent = tables[seqRows[rng.nextInt(i)]];
          shared = rng.nextInt(columns);
          System.arraycopy(parent, 0, tables[row], 0, shared);
        }
        for (int c = shared; c < columns; c++) tables[row][c] = free.remove(free.size() - 1);
      }
      for (int r = batch; r < rows; r++) {
        for (int c = 0; c < columns; c++) tables[rowOrder.get(r)][c] = rng.nextInt(poolBlocks);
      }
      long slots = (long) poolBlocks * blockSize;
      Tensor keys = tensor(gaussians(rng, slots * kvHeads * headDim, 1), slots, kvHeads, headDim);
      Tensor values = tensor(gaussians(rng, slots * kvHeads * headDim, 1), slots, kvHeads, headDim);
      // queries ~ N(0, 3): scores of sd ~3 after scaling, a peaked but not one-hot softmax
      Tensor q = tensor(gaussians(rng, (long) batch * heads * headDim, 3), batch, heads, headDim);
      return new Case(keys, values, tables, columns, seqRows, lengths, blockSize, q);
    }

    Case to(ScalarType type) {
      return new Case(
          keys.to(type),
          values.to(type),
          tables,
          tableColumns,
          seqRows,
          lengths,
          blockSize,
          q.to(type));
    }

    Tensor table() {
      int[] flat = new int[tables.length * tableColumns];
      for (int r = 0; r < tables.length; r++) {
        System.arraycopy(tables[r], 0, flat, r * tableColumns, tableColumns);
      }
      return torch.tensor(flat).view(tables.length, tableColumns);
    }

    Kernels.PagedTable paged() {
      return Kernels.pagedTable(table(), torch.tensor(seqRows), torch.tensor(lengths), blockSize);
    }

    /** Brute force in float64 over the keys and values gathered slot by slot: [B * heads * D]. */
    double[] reference(double scale) {
      int batch = seqRows.length;
      int heads = (int) q.size(1), headDim = (int) q.size(2);
      int group = heads / (int) keys.size(1);
      Tensor k64 = keys.to(ScalarType.Double);
      Tensor v64 = values.to(ScalarType.Double);
      Tensor q64 = q.to(ScalarType.Double);
      double[] out = new double[batch * heads * headDim];
      for (int b = 0; b < batch; b++) {
        long[] slots = new long[lengths[b]];
        for (int p = 0; p < lengths[b]; p++) {
          slots[p] = (long) tables[seqRows[b]][p / blockSize] * blockSize + p % blockSize;
        }
        Tensor index = tensor(slots, slots.length);
        Tensor kb = k64.index_select(0, index); // [len, kvHeads, D]
        Tensor vb = v64.index_select(0, index);
        for (int h = 0; h < heads; h++) {
          Tensor scores = kb.select(1, h / group).mv(q64.select(0, b).select(0, h));
          Tensor p = torch.softmax(scores.mul(new Scalar(scale)), 0);
          double[] o = doubles(vb.select(1, h / group).t().mv(p));
          System.arraycopy(o, 0, out, (b * heads + h) * headDim, headDim);
        }
      }
      return out;
    }
  }

  private static float[] gaussians(SplittableRandom rng, long n, double sd) {
    float[] x = new float[Math.toIntExact(n)];
    for (int i = 0; i < x.length; i++) x[i] = (float) (gaussian(rng) * sd);
    return x;
  }

  @ParameterizedTest(name = "B={0} heads={1}/{2} D={3} block={4} maxLen={5} bf16={6}")
  @CsvSource({
    "1, 14, 2, 64, 16, 3001, false", // batch 1, long: split into spans
    "16, 14, 2, 64, 16, 700, false",
    "4, 8, 8, 32, 4, 203, false", // multi-head
    "7, 4, 1, 20, 5, 150, false", // multi-query, D = 20 (a SIMD tail)
    "3, 6, 2, 128, 16, 1, false", // one key each
    "9, 16, 4, 12, 3, 77, false", // D < one SIMD register
    "16, 8, 2, 64, 16, 900, true",
    "1, 14, 2, 64, 16, 2050, true",
    "5, 4, 2, 20, 7, 60, true",
  })
  void matchesFloat64BruteForceOverGatheredKeys(
      int batch, int heads, int kvHeads, int headDim, int blockSize, int maxLength, boolean bf16) {
    try (PointerScope scope = new PointerScope()) {
      SplittableRandom rng = new SplittableRandom(freshSeed("paged_attention " + batch + heads));
      Case c = Case.random(rng, batch, heads, kvHeads, headDim, blockSize, maxLength);
      if (bf16) c = c.to(ScalarType.BFloat16); // the reference reads the same rounded values
      float scale = (float) (1.0 / Math.sqrt(headDim));
      Tensor out = Kernels.pagedAttention(c.q(), c.keys(), c.values(), c.paged(), scale);
      assertTrue(out.scalar_type().value == c.q().scalar_type().value, "output in q's dtype");
      double[] expected = c.reference(scale);
      float[] got = floats(out);
      double worst = 0;
      for (int i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
      System.out.printf(
          Locale.ROOT,
          "paged_attention B=%d heads=%d/%d D=%d bf16=%b: max |error| %.3g over %d values%n",
          batch,
          heads,
          kvHeads,
          headDim,
          bf16,
          worst,
          got.length);
      // fp32: accumulation error only; bf16: plus the output's rounding (half an ulp, 2^-9
      // relative)
      assertClose("attention output", expected, got, bf16 ? 1e-4 : 1e-5, bf16 ? 4e-3 : 1e-5);
    }
  }

  @Test
  void rejectsBadArgumentsBeforeTheNativeCall() {
    try (PointerScope scope = new PointerScope()) {
      SplittableRandom rng = new SplittableRandom(7);
      Case c = Case.random(rng, 3, 4, 2, 8, 4, 10);
      Kernels.PagedTable paged = c.paged();
      Tensor table = c.table();
      Tensor rows = torch.tensor(c.seqRows());
      Tensor lengths = torch.tensor(c.lengths());
      expect(
          "blockTable must be int32",
          () -> Kernels.pagedTable(table.to(ScalarType.Long), rows, lengths, 4));
      expect(
          "seqRows must lie in",
          () -> Kernels.pagedTable(table, torch.tensor(0, 1, 99), lengths, 4));
      expect(
          "lengths must lie in [1,",
          () -> Kernels.pagedTable(table, rows, torch.tensor(1, 0, 2), 4));
      expect(
          "lengths must lie in [1, 16]", // 4 columns of 4
          () -> Kernels.pagedTable(table, rows, torch.tensor(1, 17, 2), 4));
      expect(
          "lengths must be 1-D [3]", () -> Kernels.pagedTable(table, rows, torch.tensor(1, 2), 4));
      expect(
          "blockTable entries must be block ids >= 0",
          () -> Kernels.pagedTable(table.clone().fill_(new Scalar(-1L)), rows, lengths, 4));
      expect("blockSize must be >= 1", () -> Kernels.pagedTable(table, rows, lengths, 0));
      long slots = (table.max().item_long() + 1) * 4; // the pools' slots the table names
      expect(
          "writeSlots must lie in [0, " + (slots - 1) + "], found values in [0, " + slots + "]",
          () ->
              Kernels.pagedTable(table, rows, lengths, 4, torch.tensor(new long[] {0, slots, 1})));
      Kernels.pagedTable(table, rows, lengths, 4, torch.tensor(new long[] {0, slots - 1, 1}));
      Tensor q = c.q();
      Tensor k = c.keys();
      Tensor v = c.values();
      expect(
          "q must be 3-D [3, heads, headDim]",
          () -> Kernels.pagedAttention(q.narrow(0, 0, 2), k, v, paged, 1f));
      expect(
          "must be contiguous",
          () ->
              Kernels.pagedAttention(
                  q.transpose(1, 2).contiguous().transpose(1, 2), k, v, paged, 1f));
      expect(
          "must be float32 or bfloat16",
          () -> Kernels.pagedAttention(q.to(ScalarType.Double), k, v, paged, 1f));
      expect(
          "keyPool must have q's dtype",
          () -> Kernels.pagedAttention(q, k.to(ScalarType.BFloat16), v, paged, 1f));
      expect(
          "valuePool must have keyPool's shape",
          () -> Kernels.pagedAttention(q, k, v.narrow(0, 0, 4), paged, 1f));
      expect(
          "keyPool must be 3-D [slots, kvHeads, 8]",
          () -> Kernels.pagedAttention(q, k.narrow(2, 0, 4), v, paged, 1f));
      expect(
          "must be a positive multiple of the pools' kvHeads",
          () -> Kernels.pagedAttention(q.narrow(1, 0, 3).contiguous(), k, v, paged, 1f));
      expect(
          "the pools hold 4 slots",
          () -> Kernels.pagedAttention(q, k.narrow(0, 0, 4), v.narrow(0, 0, 4), paged, 1f));
      expect("scale must be finite", () -> Kernels.pagedAttention(q, k, v, paged, Float.NaN));
    }
  }

  private static void expect(String message, Runnable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
    assertTrue(
        e.getMessage().contains(message), "message '" + e.getMessage() + "' names: " + message);
  }
}
