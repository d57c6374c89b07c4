package io.arpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every CLI command answers bad input with exit code 2 and one line, {@code error: ...}, naming the
 * file, line, key or option at fault: each row is a hostile or broken input and the words its
 * message must contain.
 */
class CliErrorsTest {
  @TempDir static Path dir;

  record Run(int status, String err) {}

  static Run arpo4j(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    return new Run(status, err.toString());
  }

  private static Path file(String name, String text) throws IOException {
    return Files.writeString(dir.resolve(name), text);
  }

  static Path questions;

  private static String questionsText() {
    return "{\"question\": \"1+1?\", \"answers\": [\"2\"]}\n";
  }

  @BeforeAll
  static void shared() throws IOException {
    questions = file("questions.jsonl", questionsText());
  }

  static Stream<Arguments> badInputs() throws Exception {
    List<Arguments> cases = new ArrayList<>();

    Path truncated = BrokenModels.truncated(dir, "truncated");
    cases.add(
        Arguments.of(
            "truncated safetensors",
            new String[] {"logits", "--model", truncated.toString(), "--ids", "1"},
            List.of("model.safetensors", "truncated")));

    Path corrupt = BrokenModels.corruptHeader(dir, "corrupt");
    cases.add(
        Arguments.of(
            "corrupt safetensors header",
            new String[] {"logits", "--model", corrupt.toString(), "--ids", "1"},
            List.of("model.safetensors", "not valid JSON")));

    Path huge = BrokenModels.hugeShape(dir, "huge-shape", "model.norm.weight");
    cases.add(
        Arguments.of(
            "2^62 shape",
            new String[] {"logits", "--model", huge.toString(), "--ids", "1"},
            List.of("model.safetensors", "model.norm.weight")));

    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
      Path model = BrokenModels.withOneWeight(dir, "non-finite-" + bad, "model.norm.weight", bad);
      cases.add(
          Arguments.of(
              bad + " weights",
              new String[] {"logits", "--model", model.toString(), "--ids", "1"},
              List.of("model.safetensors", "model.norm.weight", "NaN or infinite")));
    }

    Path wrongShape = BrokenModels.withConfig(dir, "wrong-shape", "hidden_size", 16);
    cases.add(
        Arguments.of(
            "config shape unlike the weights",
            new String[] {"logits", "--model", wrongShape.toString(), "--ids", "1"},
            List.of("model.embed_tokens.weight", "[11, 16]")));

    Path layers = BrokenModels.withConfig(dir, "layers", "num_hidden_layers", 1_000_000_000);
    cases.add(
        Arguments.of(
            "a billion layers",
            new String[] {"logits", "--model", layers.toString(), "--ids", "1"},
            List.of("config.json", "num_hidden_layers")));

    Path wide = BrokenModels.withConfig(dir, "wide", "intermediate_size", 2_000_000_000);
    BrokenModels.setConfig(wide, "hidden_size", 2_000_000_000);
    cases.add(
        Arguments.of(
            "trillions of parameters",
            new String[] {"logits", "--model", wide.toString(), "--ids", "1"},
            List.of("config.json", "parameters")));

    String llama = BrokenModels.fixture().toString();
    cases.add(
        Arguments.of(
            "id outside the vocabulary",
            new String[] {"logits", "--model", llama, "--ids", "1,11"},
            List.of("--ids", "11", "vocabulary")));
    cases.add(
        Arguments.of(
            "more ids than max_position_embeddings",
            new String[] {
              "logits", "--model", llama, "--ids", "1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7"
            },
            List.of("--ids", "17", "max_position_embeddings")));
    cases.add(
        Arguments.of(
            "ids that are no numbers",
            new String[] {"logits", "--model", llama, "--ids", "1,x"},
            List.of("--ids", "x")));
    cases.add(
        Arguments.of(
            "missing model directory",
            new String[] {"logits", "--model", dir.resolve("nope").toString(), "--ids", "1"},
            List.of("nope")));

    Path malformed =
        file(
            "malformed.jsonl",
            "{\"question\": \"a\", \"answers\": [\"1\"]}\n{\"question\": \"b\", \n");
    cases.add(
        Arguments.of(
            "malformed JSONL line",
            new String[] {"train", "--data", malformed.toString()},
            List.of("malformed.jsonl:2", "not JSON")));
    Path binary =
        Files.write(
            dir.resolve("binary.jsonl"),
            ("{\"question\": \"a\", \"answers\": [\"1\"]}\n" + "\u00ff\u00fe\u0000\u0001\u0080\n")
                .getBytes(StandardCharsets.ISO_8859_1));
    cases.add(
        Arguments.of(
            "binary JSONL",
            new String[] {"eval", "--data", binary.toString()},
            List.of("binary.jsonl:2", "UTF-8")));
    cases.add(
        Arguments.of(
            "missing data file",
            new String[] {
              "rollout",
              "--data",
              dir.resolve("absent.jsonl").toString(),
              "--out",
              dir.resolve("o").toString()
            },
            List.of("absent.jsonl")));

    Path steps = file("steps.yaml", "steps: abc\n");
    cases.add(
        Arguments.of(
            "steps: abc",
            new String[] {"train", "--config", steps.toString(), "--data", questions.toString()},
            List.of("'steps'", "abc")));
    Path badYaml = file("bad.yaml", "steps: [1,\n  rollout: {\n");
    cases.add(
        Arguments.of(
            "YAML syntax",
            new String[] {"train", "--config", badYaml.toString(), "--data", questions.toString()},
            List.of("bad.yaml", "not valid YAML")));
    cases.add(
        Arguments.of(
            "unknown key",
            new String[] {"train", "--data", questions.toString(), "--set", "rollout.tempratur=1"},
            List.of("tempratur")));
    cases.add(
        Arguments.of(
            "ill-typed key",
            new String[] {"train", "--data", questions.toString(), "--set", "tools.python=maybe"},
            List.of("'tools.python'", "maybe")));
    cases.add(
        Arguments.of(
            "section given a scalar",
            new String[] {"train", "--data", questions.toString(), "--set", "rollout=5"},
            List.of("'rollout'")));
    cases.add(
        Arguments.of(
            "missing config file",
            new String[] {
              "train",
              "--config",
              dir.resolve("absent.yaml").toString(),
              "--data",
              questions.toString()
            },
            List.of("absent.yaml")));

    cases.add(
        Arguments.of(
            "missing index",
            new String[] {
              "tool", "search", "--index", dir.resolve("no-index").toString(), "--query", "x"
            },
            List.of("no-index")));
    Path emptyIndex = Files.createDirectories(dir.resolve("empty-index"));
    cases.add(
        Arguments.of(
            "directory that is no index",
            new String[] {"tool", "search", "--index", emptyIndex.toString(), "--query", "x"},
            List.of("empty-index")));

    Path blocked = file("runs-blocked", "a file where the runs directory should be");
    cases.add(
        Arguments.of(
            "runs dir blocked", trainInto(blocked), List.of("run directory", "runs-blocked")));

    int closedPort;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = socket.getLocalPort();
    }
    String nobodyListens = "http://127.0.0.1:" + closedPort + "/page";
    cases.add(
        Arguments.of(
            "URL nothing listens on",
            new String[] {"tool", "browse", "--allow-private", "--target", nobodyListens},
            List.of(nobodyListens, "refused")));
    String unresolvable = "http://no-such-host.invalid/";
    cases.add(
        Arguments.of(
            "URL of an unresolvable host",
            new String[] {"tool", "browse", "--target", unresolvable},
            List.of(unresolvable, "unknown host")));
    cases.add(
        Arguments.of(
            "URL of an unresolvable host, private addresses allowed",
            new String[] {"tool", "browse", "--allow-private", "--target", unresolvable},
            List.of(unresolvable, "unknown host")));

    StringBuilder longQuestion = new StringBuilder("{\"question\": \"");
    longQuestion.append("x".repeat(1_000_000)).append("\", \"answers\": [\"1\"]}\n");
    Path longQuestions = file("long-question.jsonl", longQuestion + questionsText());
    cases.add(
        Arguments.of(
            "question longer than the model's context",
            new String[] {
              "train",
              "--data",
              longQuestions.toString(),
              "--set",
              "tools.python=false",
              "--set",
              "runs_dir=" + dir.resolve("runs")
            },
            List.of("question 'q1'", "max_position_embeddings")));

    Path longLine =
        file("long.jsonl", "{\"prompt\": \"q\", \"response\": \"" + "x".repeat(20_000) + "\"}\n");
    cases.add(
        Arguments.of(
            "over-long SFT example",
            new String[] {
              "sft",
              "--data",
              longLine.toString(),
              "--set",
              "micro_batch_tokens=512",
              "--set",
              "runs_dir=" + dir.resolve("runs")
            },
            List.of("long.jsonl:1", "micro_batch_tokens")));
    // 60,000 characters: at most 13 per token of the default model, so more than its 4096
    // positions, yet too few to be refused before encoding (4 x 13 x 4096 characters)
    Path overContext =
        file(
            "over-context.jsonl",
            "{\"prompt\": \"q\", \"response\": \"" + "x".repeat(60_000) + "\"}\n");
    cases.add(
        Arguments.of(
            "SFT example longer than the model's context",
            new String[] {
              "sft",
              "--data",
              overContext.toString(),
              "--set",
              "micro_batch_tokens=1000000",
              "--set",
              "runs_dir=" + dir.resolve("runs")
            },
            List.of("over-context.jsonl:1", "tokens, more than max_position_embeddings = 4096")));
    return cases.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badInputs")
  void badInputIsOneLineNamingTheCulpritWithExitCode2(
      String what, String[] args, List<String> mentions) {
    Run run = arpo4j(args);
    assertEquals(Main.BAD_INPUT, run.status(), what + ": " + run.err());
    assertEquals(1, run.err().lines().count(), what + ": not one line: " + run.err());
    assertTrue(run.err().startsWith("error: "), run.err());
    for (String m : mentions)
      assertTrue(run.err().contains(m), what + ": no '" + m + "' in " + run.err());
  }

  private static String[] trainInto(Path runsDir) {
    return new String[] {
      "train",
      "--data",
      questions.toString(),
      "--set",
      "tools.python=false",
      "--set",
      "runs_dir=" + runsDir
    };
  }

  @Test
  void aRunsDirWhereEvenRootCannotWriteIsNamed() throws Exception {
    // root ignores permission bits; sysfs refuses new entries even to root (EPERM, or EROFS where
    // it is mounted read-only, as in containers)
    Path refusing = Path.of("/sys/arpo4j-runs");
    boolean refused;
    try {
      Files.delete(Files.createDirectory(refusing));
      refused = false;
    } catch (IOException e) {
      refused = true;
    }
    assumeTrue(refused, "/sys accepts new directories here: no sysfs");
    Run run = arpo4j(trainInto(refusing));
    assertEquals(Main.BAD_INPUT, run.status(), run.err());
    assertEquals(1, run.err().lines().count(), run.err());
    assertTrue(
        run.err().startsWith("error: cannot write the run directory " + refusing), run.err());
  }

  @Test
  void aRunsDirWithoutWritePermissionIsNamed() throws Exception {
    assumeFalse(isRoot(), "root ignores permission bits: see aRunsDirWhereEvenRootCannotWrite...");
    Path readOnly = Files.createDirectories(dir.resolve("read-only"));
    Files.setPosixFilePermissions(readOnly, PosixFilePermissions.fromString("r-xr-xr-x"));
    try {
      Run run = arpo4j(trainInto(readOnly.resolve("runs")));
      assertEquals(Main.BAD_INPUT, run.status(), run.err());
      assertEquals(1, run.err().lines().count(), run.err());
      assertTrue(run.err().contains(readOnly.resolve("runs").toString()), run.err());
      assertTrue(run.err().contains("permission denied"), run.err());
    } finally {
      Files.setPosixFilePermissions(readOnly, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
  }

  static boolean isRoot() throws IOException {
    return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
  }

  @Test
  void theCliTurnsPythonOnWhereTheLibraryLeavesItOff() throws Exception {
    assertTrue(new RunOptions().load().tools().python());
    RunOptions off = new RunOptions();
    off.overrides.add("tools.python=false");
    assertFalse(off.load().tools().python());
  }

  @Test
  void verboseAddsTheStackTrace() {
    Run run =
        arpo4j("logits", "--model", dir.resolve("nope").toString(), "--ids", "1", "--verbose");
    assertEquals(Main.BAD_INPUT, run.status());
    assertTrue(run.err().lines().count() > 3, run.err());
    assertTrue(run.err().contains("\tat io.arpo4j."), run.err());
  }
}
