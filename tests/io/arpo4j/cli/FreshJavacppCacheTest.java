package io.arpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A newcomer's first command: a model forward in a JVM whose JavaCPP cache is empty, as on a fresh
 * machine. Every preset libtorch depends on (OpenBLAS) must be extracted and loaded before libtorch
 * itself; with a warm cache (every developer machine) the order never mattered.
 */
class FreshJavacppCacheTest {

  @Test
  void logitsOfTheHfFixtureOnAnEmptyJavacppCache(@TempDir Path cwd) throws Exception {
    Path cache = cwd.resolve("empty-javacpp-cache");
    Path model =
        Path.of(getClass().getClassLoader().getResource("fixtures/hf-tiny/llama-sharded").toURI());
    JsonNode ref = new ObjectMapper().readTree(model.resolve("reference_logits.json").toFile());
    JsonNode ids = ref.get("sequences").get(1);
    StringBuilder csv = new StringBuilder();
    ids.forEach(id -> csv.append(csv.length() == 0 ? "" : ",").append(id.asInt()));

    Process p =
        CliProcess.start(
            cwd,
            "logits",
            List.of("-Xmx512m", "-Dorg.bytedeco.javacpp.cachedir=" + cache),
            List.of("logits", "--model", model.toString(), "--ids", csv.toString()));
    assertTrue(p.waitFor(180, TimeUnit.SECONDS), "the child JVM did not finish in 180 s");
    String err = CliProcess.stderr(cwd, "logits");
    assertEquals(List.of(), CliProcess.crashLogs(cwd, p), "native crash; stderr:\n" + err);
    assertEquals(0, p.exitValue(), "exit code; stderr:\n" + err);
    assertTrue(Files.isDirectory(cache), "the cache was not created where it was told: " + cache);

    JsonNode logits = new ObjectMapper().readTree(CliProcess.stdout(cwd, "logits")).get("logits");
    JsonNode expected = ref.get("logits").get(1);
    double maxError = 0;
    int over = 0;
    for (int t = 0; t < ids.size(); t++) {
      for (int v = 0; v < expected.get(t).size(); v++) {
        double e = Math.abs(expected.get(t).get(v).asDouble() - logits.get(t).get(v).asDouble());
        maxError = Math.max(maxError, e);
        if (e > 1e-4) over++;
      }
    }
    assertEquals(0, over, "logits off the HF reference by more than 1e-4; max error " + maxError);
  }
}
