package io.arpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.model.PolicyModel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ModelCommandsTest {

  /** Runs the CLI with stdout and stderr captured; returns {exit code, stdout, stderr}. */
  private static Object[] run(String... args) {
    PrintStream originalOut = System.out;
    PrintStream originalErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      int code = new CommandLine(new Main()).execute(args);
      return new Object[] {
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)
      };
    } finally {
      System.setOut(originalOut);
      System.setErr(originalErr);
    }
  }

  private static Path fixture(String relative) throws Exception {
    return Path.of(
        ModelCommandsTest.class.getClassLoader().getResource("fixtures/" + relative).toURI());
  }

  @Test
  void logitsPrintsTheForwardPassOfTheHfFixtureAsJson() throws Exception {
    ObjectMapper json = new ObjectMapper();
    JsonNode ref = json.readTree(fixture("hf-tiny/llama-sharded/reference_logits.json").toFile());
    JsonNode ids = ref.get("sequences").get(1);
    StringBuilder csv = new StringBuilder();
    ids.forEach(id -> csv.append(csv.length() == 0 ? "" : ",").append(id.asInt()));
    Object[] result =
        run(
            "logits",
            "--model",
            fixture("hf-tiny/llama-sharded").toString(),
            "--ids",
            csv.toString());
    assertEquals(0, result[0]);
    JsonNode logits = json.readTree((String) result[1]).get("logits");
    JsonNode expected = ref.get("logits").get(1);
    assertEquals(ids.size(), logits.size());
    for (int p = 0; p < ids.size(); p++) {
      assertEquals(expected.get(p).size(), logits.get(p).size());
      for (int v = 0; v < logits.get(p).size(); v++) {
        assertEquals(expected.get(p).get(v).asDouble(), logits.get(p).get(v).asDouble(), 1e-4);
      }
    }
  }

  @Test
  void generateRunsTheEmbeddedModelAndBadIdsFail() {
    Object[] result =
        run(
            "generate",
            "--model",
            "default",
            "--prompt",
            "Hi",
            "--chat",
            "--max-new-tokens",
            "3",
            "--device",
            "cpu");
    assertEquals(0, result[0]);
    assertTrue(((String) result[1]).endsWith("\n"));
    String err = (String) result[2];
    assertEquals(
        1,
        err.lines().filter(l -> l.equals("warning: " + PolicyModel.DEFAULT_IS_UNTRAINED)).count(),
        "one line saying the default model is untrained; stderr:\n" + err);
    assertNotEquals(0, run("logits", "--model", "default", "--ids", "1,99999")[0]);
  }
}
