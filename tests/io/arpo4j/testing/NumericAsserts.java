package io.arpo4j.testing;

/**
 * Element-wise closeness of numeric arrays for tests. A failure names what was compared, how many
 * elements are off, the largest error and where it is, so one run tells a round-off drift (many
 * small misses) from a bug (a few large ones).
 */
public final class NumericAsserts {
  private NumericAsserts() {}

  /**
   * Asserts {@code |actual[i] - expected[i]| <= atol + rtol * |expected[i]|} for every i; NaN
   * matches only NaN and an infinity only the same infinity.
   */
  public static void assertClose(
      String what, double[] expected, double[] actual, double atol, double rtol) {
    if (expected.length != actual.length) {
      throw new AssertionError(
          what + ": " + actual.length + " values, expected " + expected.length);
    }
    int mismatches = 0, worstAt = -1;
    double worst = 0;
    for (int i = 0; i < expected.length; i++) {
      double e = expected[i], a = actual[i];
      if (Double.isNaN(e) && Double.isNaN(a) || e == a) continue;
      // a NaN or an infinity only matches itself (checked above), whatever the tolerance
      boolean finite = Double.isFinite(e) && Double.isFinite(a);
      double err = finite ? Math.abs(a - e) : Double.POSITIVE_INFINITY;
      if (!finite || err > atol + rtol * Math.abs(e)) mismatches++;
      if (worstAt < 0 || err > worst) {
        worst = err;
        worstAt = i;
      }
    }
    if (mismatches > 0) {
      throw new AssertionError(
          String.format(
              "%s: %d of %d values differ by more than %.3g + %.3g*|expected|; max error %.4g at [%d] (expected %s, got %s)",
              what,
              mismatches,
              expected.length,
              atol,
              rtol,
              worst,
              worstAt,
              expected[worstAt],
              actual[worstAt]));
    }
  }

  public static void assertClose(
      String what, double[] expected, float[] actual, double atol, double rtol) {
    assertClose(what, expected, widen(actual), atol, rtol);
  }

  public static void assertClose(
      String what, float[] expected, float[] actual, double atol, double rtol) {
    assertClose(what, widen(expected), widen(actual), atol, rtol);
  }

  public static double[] widen(float[] values) {
    double[] out = new double[values.length];
    for (int i = 0; i < values.length; i++) out[i] = values[i];
    return out;
  }
}
