package io.arpo4j.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * {@link MathVerifier} on the 270 (gold, prediction, expected) cases of Math-Verify's own test
 * suite (v0.8.0; fixtures/math-verify, see PROVENANCE.md there). Each side is extracted from its
 * text, then compared with the case's float rounding. Reports agreement by test (category) to
 * target/math-verify-agreement.txt; asserts no false "equal" and a minimum agreement. Each case
 * runs with its own options (float rounding, strict, allow_set_relation_comp) and extraction
 * targets.
 */
class MathVerifyAgreementTest {
  /** The agreement reached when this was written, rounded down; raise it as coverage grows. */
  static final double MIN_AGREEMENT = 0.95;

  /**
   * Longer than the default limit: this measures what the verifier decides, and on a loaded machine
   * the slowest cases (sets of symbolic elements) can take seconds; a timeout would only turn an
   * "equal" into "not equal", never the reverse.
   */
  static final Duration TIME_LIMIT = Duration.ofSeconds(60);

  static boolean verdict(
      String gold, String prediction, MathVerifier.Policy policy, boolean numbersFromProse) {
    Optional<String> g = MathVerifier.extract(gold, numbersFromProse);
    Optional<String> p = MathVerifier.extract(prediction, numbersFromProse);
    return g.isPresent() && p.isPresent() && MathVerifier.equivalent(p.get(), g.get(), policy);
  }

  /**
   * The case's options of Math-Verify's {@code verify}: float rounding, strict,
   * allow_set_relation_comp.
   */
  static MathVerifier.Policy policy(JsonNode c) {
    return MathVerifier.DEFAULT
        .withRounding(c.get("precision").asInt())
        .withTimeout(TIME_LIMIT)
        .withStrictVariables(c.get("strict").asBoolean())
        .withSetRelationBothWays(c.get("allow_set_relation_comp").asBoolean());
  }

  @Test
  void agreesWithMathVerifyAndNeverSaysEqualWhereItDoesNot() throws IOException {
    JsonNode cases;
    try (InputStream in =
        getClass().getClassLoader().getResourceAsStream("fixtures/math-verify/cases.json")) {
      cases = new ObjectMapper().readTree(in);
    }
    assertEquals(270, cases.size());
    Map<String, int[]> byCategory = new TreeMap<>(); // agreed, total
    List<String> falseEqual = new ArrayList<>();
    List<String> disagreements = new ArrayList<>();
    int agreed = 0;
    for (JsonNode c : cases) {
      String gold = c.get("gold").asText();
      String pred = c.get("pred").asText();
      boolean expected = c.get("expected").asInt() == 1;
      boolean expr = false; // Math-Verify's ExprExtractionConfig: numbers from prose
      for (JsonNode type : c.get("match_types")) {
        expr |= type.asText().equals("expr");
      }
      boolean got = verdict(gold, pred, policy(c), expr || c.get("default_parse").asBoolean());
      int[] tally = byCategory.computeIfAbsent(c.get("test").asText(), k -> new int[2]);
      tally[1]++;
      if (got == expected) {
        tally[0]++;
        agreed++;
      } else {
        String line =
            c.get("test").asText()
                + " expected "
                + (expected ? 1 : 0)
                + ": "
                + abbreviate(gold)
                + "  |  "
                + abbreviate(pred);
        disagreements.add(line);
        if (got) {
          falseEqual.add(line);
        }
      }
    }
    StringBuilder report = new StringBuilder();
    report.append(
        String.format("%-42s %7s %6s%n", "category (Math-Verify test)", "agreed", "cases"));
    byCategory.forEach((k, v) -> report.append(String.format("%-42s %7d %6d%n", k, v[0], v[1])));
    report.append(
        String.format(
            "%-42s %7d %6d  (%.1f%%)%n",
            "total", agreed, cases.size(), 100.0 * agreed / cases.size()));
    report.append("false equal: ").append(falseEqual.size()).append('\n');
    report.append("disagreements:\n");
    disagreements.forEach(d -> report.append("  ").append(d).append('\n'));
    Files.createDirectories(Path.of("target"));
    Files.writeString(Path.of("target", "math-verify-agreement.txt"), report);
    System.out.println(report);
    assertTrue(falseEqual.isEmpty(), "false equal:\n" + String.join("\n", falseEqual));
    assertTrue(agreed >= MIN_AGREEMENT * cases.size(), agreed + " of " + cases.size());
  }

  private static String abbreviate(String s) {
    String flat = s.replace("\n", "\\n");
    return flat.length() <= 90
        ? flat
        : flat.substring(0, 40) + " … " + flat.substring(flat.length() - 45);
  }
}
