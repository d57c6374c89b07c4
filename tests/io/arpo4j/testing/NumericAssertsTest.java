package io.arpo4j.testing;

import static io.arpo4j.testing.NumericAsserts.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class NumericAssertsTest {
  static final double NAN = Double.NaN, INF = Double.POSITIVE_INFINITY;

  @Test
  void passesWithinAbsoluteAndRelativeTolerance() {
    // errors 0.1 (= atol) and 1.0 (= atol + rtol * 90); NaN and infinities equal to themselves
    assertClose(
        "x",
        new double[] {1, 100, NAN, INF, -INF},
        new double[] {1.1, 101, NAN, INF, -INF},
        0.1,
        0.01);
    assertClose("f", new float[] {1f, 2f}, new float[] {1f, 2f}, 0, 0);
  }

  @Test
  void failureCountsMismatchesAndNamesTheLargestError() {
    AssertionError e =
        assertThrows(
            AssertionError.class,
            () ->
                assertClose(
                    "logits",
                    new double[] {0, 1, 2, 3, 4},
                    new double[] {0, 1.5, 2, 3.25, 4.05},
                    0.1,
                    0));
    assertEquals(
        "logits: 2 of 5 values differ by more than 0.100 + 0.00*|expected|; max error 0.5000 at [1]"
            + " (expected 1.0, got 1.5)",
        e.getMessage());
  }

  @Test
  void nanAndInfinityAgainstNumbersAreMismatches() {
    AssertionError nan =
        assertThrows(
            AssertionError.class,
            () -> assertClose("v", new double[] {1, 2}, new double[] {1, NAN}, 1e-3, 1e-3));
    assertEquals(
        "v: 1 of 2 values differ by more than 0.00100 + 0.00100*|expected|; max error Infinity at [1]"
            + " (expected 2.0, got NaN)",
        nan.getMessage());
    assertThrows(
        AssertionError.class,
        () -> assertClose("v", new double[] {INF}, new double[] {-INF}, 1, 1));
    assertThrows(
        AssertionError.class, () -> assertClose("v", new double[] {1}, new double[] {1, 2}, 1, 1));
  }
}
