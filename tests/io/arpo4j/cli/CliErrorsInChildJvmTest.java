package io.arpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The inputs most likely to crash natively (broken safetensors, absurd shapes and sizes, NaN
 * weights, ids past the embedding table), each run by the CLI in its own JVM: exit code 2, one line
 * on stderr, and never a JVM crash log ({@code hs_err_pid*.log}). {@link CliErrorsTest} runs many
 * more cases in-process, where a crash would take the test JVM down instead.
 */
class CliErrorsInChildJvmTest {
  @TempDir static Path models;

  static Stream<Arguments> inputsThatCouldCrash() throws Exception {
    return Stream.of(
        Arguments.of("truncated safetensors", BrokenModels.truncated(models, "truncated"), "1"),
        Arguments.of("corrupt header", BrokenModels.corruptHeader(models, "corrupt"), "1"),
        Arguments.of(
            "2^62 shape", BrokenModels.hugeShape(models, "huge", "model.embed_tokens.weight"), "1"),
        Arguments.of(
            "NaN weights",
            BrokenModels.withOneWeight(models, "nan", "model.embed_tokens.weight", Float.NaN),
            "1"),
        Arguments.of(
            "a billion layers",
            BrokenModels.withConfig(models, "layers", "num_hidden_layers", 1_000_000_000),
            "1"),
        Arguments.of("id past the embedding table", BrokenModels.fixture(), "1,11"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("inputsThatCouldCrash")
  void exitCode2WithOneLineAndNoCrashLog(String what, Path model, String ids, @TempDir Path cwd)
      throws Exception {
    Process p =
        CliProcess.start(
            cwd,
            "logits",
            List.of("-Xmx512m", "-XX:TieredStopAtLevel=1"),
            List.of("logits", "--model", model.toString(), "--ids", ids));
    if (!p.waitFor(180, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail(what + ": no exit within 180 s: " + CliProcess.stderr(cwd, "logits"));
    }
    String err = CliProcess.stderr(cwd, "logits");
    assertEquals(List.of(), CliProcess.crashLogs(cwd, p), what + ": the JVM crashed; " + err);
    assertEquals(Main.BAD_INPUT, p.exitValue(), what + ": " + err);
    assertEquals(1, err.lines().count(), what + ": not one line: " + err);
    assertTrue(err.startsWith("error: "), err);
    assertEquals("", CliProcess.stdout(cwd, "logits"), what);
  }
}
