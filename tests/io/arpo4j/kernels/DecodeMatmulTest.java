package io.arpo4j.kernels;

import static io.arpo4j.kernels.TestTensors.*;
import static io.arpo4j.testing.NumericAsserts.assertClose;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * arpo_decode_matmul on every instruction-set path this CPU has (the others are skipped), against
 * float64 libtorch over the same weights and, where they are bf16, the activations rounded to bf16
 * (libtorch's own rounding, to nearest even).
 */
class DecodeMatmulTest {

  static Stream<Arguments> cases() {
    Stream.Builder<Arguments> out = Stream.builder();
    for (Kernels.Isa isa : Kernels.Isa.values()) {
      for (boolean bf16 : new boolean[] {false, true}) {
        for (int rows : new int[] {1, 3, 16, 64, 133}) {
          // K and N off the vector widths (8, 16) and tile sizes (4), and one of each aligned
          out.add(Arguments.of(isa, bf16, rows, 131, 37, true));
          out.add(Arguments.of(isa, bf16, rows, 1000, 67, false));
          out.add(Arguments.of(isa, bf16, rows, 7, 5, true));
        }
        out.add(Arguments.of(isa, bf16, 5, 896, 128, true));
      }
    }
    return out.build();
  }

  @ParameterizedTest(name = "{0} bf16={1} rows={2} K={3} N={4} bias={5}")
  @MethodSource("cases")
  void matchesFloat64Reference(
      Kernels.Isa isa, boolean bf16, int rows, int k, int n, boolean withBias) {
    Assumptions.assumeTrue(isa.supported(), "this CPU lacks " + isa);
    SplittableRandom rng = new SplittableRandom(freshSeed("decode_matmul " + rows + k + n));
    try (PointerScope scope = new PointerScope()) {
      Tensor x = tensor(logits(rng, rows, k, 1.0, 0.0), rows, k);
      Tensor weight = tensor(logits(rng, n, k, 0.05, 0.0), n, k);
      if (bf16) weight = weight.to(ScalarType.BFloat16);
      Tensor bias = withBias ? tensor(logits(rng, 1, n, 1.0, 0.0), n) : null;
      Tensor y = Kernels.decodeMatmul(x, weight, bias, isa);
      assertMatchesFloat64(isa + " bf16=" + bf16, x, weight, bias, bf16, y);
    }
  }

  /**
   * y against float64 x @ weight^T + bias, x rounded to bf16 first where the weights are bf16 (the
   * products are then exact, only the sums round), within 2e-6 of max sum|x w| (fp32 sums).
   */
  private static void assertMatchesFloat64(
      String what, Tensor x, Tensor weight, Tensor bias, boolean bf16, Tensor y) {
    Tensor w64 = weight.to(ScalarType.Double);
    Tensor x64 = (bf16 ? x.to(ScalarType.BFloat16) : x).to(ScalarType.Double);
    Tensor ref = torch.matmul(x64, w64.t());
    if (bias != null) ref = ref.add(bias.to(ScalarType.Double));
    double scale = torch.matmul(x64.abs(), w64.abs().t()).max().item_double();
    double maxError = ref.sub(y.to(ScalarType.Double)).abs().max().item_double();
    System.out.printf(
        "decode_matmul %s %s x %s: max error %.3g = %.3g of max sum|x w|%n",
        what, Kernels.shapeOf(x), Kernels.shapeOf(weight), maxError, maxError / scale);
    assertClose(what + " y", doubles(ref.flatten()), floats(y.flatten()), 2e-6 * scale, 0);
  }

  static Stream<Arguments> packedCases() {
    Stream.Builder<Arguments> out = Stream.builder();
    for (int rows : new int[] {1, 5, 6, 7, 16, 64, 133}) { // row groups of 6 and their remainders
      out.add(Arguments.of(rows, 130, 64, true));
      out.add(Arguments.of(rows, 896, 192, false));
      out.add(Arguments.of(rows, 2, 128, true));
    }
    return out.build();
  }

  /**
   * Packed bf16 weights ({@link Kernels#packBf16}) on the AVX512_BF16 path against float64 over the
   * weights and activations rounded to bf16.
   */
  @ParameterizedTest(name = "packed rows={0} K={1} N={2} bias={3}")
  @MethodSource("packedCases")
  void packedWeightsMatchFloat64Reference(int rows, int k, int n, boolean withBias) {
    Assumptions.assumeTrue(Kernels.Isa.AVX512_BF16.supported(), "this CPU lacks AVX512_BF16");
    SplittableRandom rng = new SplittableRandom(freshSeed("packed " + rows + k + n));
    try (PointerScope scope = new PointerScope()) {
      Tensor x = tensor(logits(rng, rows, k, 1.0, 0.0), rows, k);
      Tensor weight = tensor(logits(rng, n, k, 0.05, 0.0), n, k);
      Tensor bias = withBias ? tensor(logits(rng, 1, n, 1.0, 0.0), n) : null;
      Tensor packed = Kernels.packBf16(weight, null);
      Tensor y = Kernels.decodeMatmul(x, packed, bias, Kernels.Isa.AVX512_BF16);
      assertMatchesFloat64("packed", x, weight.to(ScalarType.BFloat16), bias, true, y);
    }
  }

  @Test
  void packedWeightsAreRefusedWhereTheyCannotRun() {
    try (PointerScope scope = new PointerScope()) {
      assertThrows(IllegalArgumentException.class, () -> Kernels.packBf16(torch.ones(65, 8), null));
      assertThrows(IllegalArgumentException.class, () -> Kernels.packBf16(torch.ones(64, 7), null));
      assertThrows(
          IllegalArgumentException.class,
          () -> Kernels.packBf16(torch.ones(64, 8), torch.ones(1, 4, 64, 2)));
      Tensor packed = Kernels.packBf16(torch.ones(64, 8), null);
      assertTrue(Kernels.isPackedBf16(packed));
      Tensor x = torch.ones(2, 8);
      assertThrows(
          IllegalArgumentException.class,
          () -> Kernels.decodeMatmul(x, packed, null, Kernels.Isa.AVX512));
      assertThrows(
          IllegalArgumentException.class,
          () -> Kernels.decodeMatmul(torch.ones(2, 6), packed, null));
    }
  }

  @Test
  void readsRowsOfAStridedSlice() {
    SplittableRandom rng = new SplittableRandom(freshSeed("decode_matmul strided"));
    try (PointerScope scope = new PointerScope()) {
      int rows = 6, k = 300, n = 41;
      Tensor wide = tensor(logits(rng, rows, 2 * k, 1.0, 0.0), rows, 2 * k);
      Tensor x = wide.narrow(1, 50, k); // row stride 600
      Tensor weight = tensor(logits(rng, n, k, 0.05, 0.0), n, k);
      Tensor ref = torch.matmul(x.to(ScalarType.Double), weight.to(ScalarType.Double).t());
      assertClose(
          "y",
          doubles(ref.flatten()),
          floats(Kernels.decodeMatmul(x, weight, null).flatten()),
          1e-5,
          0);
    }
  }

  /** A NaN activation stays NaN through bf16 weights' rounding (it does not round to infinity). */
  @ParameterizedTest(name = "{0}")
  @MethodSource("paths")
  void aNanActivationGivesNanOnItsRowOnly(Kernels.Isa isa) {
    Assumptions.assumeTrue(isa.supported(), "this CPU lacks " + isa);
    try (PointerScope scope = new PointerScope()) {
      float[] values = new float[3 * 40];
      Arrays.fill(values, 0.5f);
      values[40 + 7] = Float.NaN; // row 1
      Tensor x = tensor(values, 3, 40);
      Tensor weight = torch.ones(5, 40).to(ScalarType.BFloat16);
      float[] y = floats(Kernels.decodeMatmul(x, weight, null, isa).flatten());
      for (int i = 0; i < y.length; i++) {
        boolean nanRow = i / 5 == 1;
        assertTrue(nanRow == Float.isNaN(y[i]), isa + " y[" + i + "] = " + y[i]);
        if (!nanRow) assertTrue(y[i] == 20f, isa + " y[" + i + "] = " + y[i]);
      }
    }
  }

  static Stream<Kernels.Isa> paths() {
    return Stream.of(Kernels.Isa.values());
  }

  @Test
  void autoIsTheBestSupportedPath() {
    Kernels.Isa best = Kernels.Isa.best();
    assertTrue(best.supported());
    for (Kernels.Isa isa : Kernels.Isa.values()) {
      if (isa.ordinal() > best.ordinal()) assertTrue(!isa.supported(), isa + " is faster");
    }
  }

  @Test
  void rejectsBadArgumentsBeforeTheNativeCall() {
    try (PointerScope scope = new PointerScope()) {
      Tensor x = torch.ones(2, 8);
      Tensor w = torch.ones(3, 8);
      assertThrows(
          IllegalArgumentException.class, () -> Kernels.decodeMatmul(x, torch.ones(3, 7), null));
      assertThrows(
          IllegalArgumentException.class,
          () -> Kernels.decodeMatmul(x.to(ScalarType.Double), w, null));
      assertThrows(
          IllegalArgumentException.class,
          () -> Kernels.decodeMatmul(x, w.to(ScalarType.Half), null));
      assertThrows(
          IllegalArgumentException.class,
          () -> Kernels.decodeMatmul(x, torch.ones(8, 3).t(), null));
      assertThrows(IllegalArgumentException.class, () -> Kernels.decodeMatmul(x, w, torch.ones(4)));
      assertThrows(
          IllegalArgumentException.class, () -> Kernels.decodeMatmul(torch.ones(8), w, null));
      assertThrows(
          IllegalArgumentException.class,
          () -> Kernels.decodeMatmul(torch.ones(8, 2).t(), w, null));
    }
  }
}
