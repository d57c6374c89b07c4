package io.arpo4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Runs the self-checks under native/tests (built with the native library into target/native-build),
 * each printing what it measured and exiting non-zero on a failure:
 *
 * <ul>
 *   <li>{@code arpo4j_simd_check}: the kernels' exp2 against float64 exp2 over a dense sweep of
 *       fp32 inputs, and their row statistics against float64, at each SIMD level the loader can
 *       pick that this CPU has (AVX-512, AVX2 + FMA, baseline), not only the one the library picks
 *       here;
 *   <li>{@code arpo4j_team_barrier_check}: decode_layer's barrier (spin, then sleep), every thread
 *       seeing the others' writes after each wait, in a team of 2 and in one of more threads than
 *       cores.
 * </ul>
 */
class NativeCheckTest {

  @ParameterizedTest
  @ValueSource(strings = {"arpo4j_simd_check", "arpo4j_team_barrier_check"})
  void nativeSelfCheckPasses(String name) throws Exception {
    Path check = Path.of("target", "native-build", name);
    assertTrue(
        Files.isExecutable(check),
        check + " is missing: the Maven build makes it with the kernels");
    ProcessBuilder builder = new ProcessBuilder(check.toString()).redirectErrorStream(true);
    builder.environment().put("OMP_WAIT_POLICY", "PASSIVE"); // as arpo4j runs libgomp
    Process p = builder.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(5, TimeUnit.MINUTES), name + " did not finish");
    System.out.print(out);
    assertEquals(0, p.exitValue(), out);
  }
}
