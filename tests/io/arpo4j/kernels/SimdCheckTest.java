package io.arpo4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Runs native/tests/simd_check.cpp (built with the native library into target/native-build): the
 * kernels' exp2 against float64 exp2 over a dense sweep of fp32 inputs, and their row statistics
 * against float64, at each SIMD level the loader can pick that this CPU has (AVX-512, AVX2 + FMA,
 * baseline), not only the one the library picks here. Its measured errors are printed.
 */
class SimdCheckTest {

  @Test
  void exp2AndRowStatisticsAtEverySimdLevel() throws Exception {
    Path check = Path.of("target", "native-build", "arpo4j_simd_check");
    assertTrue(
        Files.isExecutable(check),
        check + " is missing: the Maven build makes it with the kernels");
    Process p = new ProcessBuilder(check.toString()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(5, TimeUnit.MINUTES), "simd_check did not finish");
    System.out.print(out);
    assertEquals(0, p.exitValue(), out);
  }
}
