package io.arpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.testing.LogLines;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ModelCommandsTest {

  /** Runs the CLI with stdout captured; returns {exit code, stdout}. */
  private static Object[] run(String... args) {
    PrintStream original = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      int code = new CommandLine(new Main()).execute(args);
      return new Object[] {code, out.toString(StandardCharsets.UTF_8)};
    } finally {
      System.setOut(original);
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
    Object[] result;
    List<String> warnings;
    try (LogLines log = LogLines.of(GenerateCommand.class)) {
      result =
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
      warnings = log.messages();
    }
    assertEquals(0, result[0]);
    assertTrue(((String) result[1]).endsWith("\n"));
    assertEquals(List.of(PolicyModel.DEFAULT_IS_UNTRAINED), warnings, "the warnings logged");
    assertNotEquals(0, run("logits", "--model", "default", "--ids", "1,99999")[0]);
  }
}
