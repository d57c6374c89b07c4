package io.arpo4j.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link ArpoReferenceReward} against the reference's own {@code compute_score}, run on the
 * responses of fixtures/arpo-reference (see PROVENANCE.md there).
 */
class ArpoReferenceRewardTest {
  static JsonNode cases() throws IOException {
    try (InputStream in =
        ArpoReferenceRewardTest.class
            .getClassLoader()
            .getResourceAsStream("fixtures/arpo-reference/cases.json")) {
      return new ObjectMapper().readTree(in);
    }
  }

  static List<String> references(JsonNode c) {
    List<String> refs = new ArrayList<>();
    c.get("references").forEach(r -> refs.add(r.asText()));
    return refs;
  }

  @Test
  void sameScoreAndAnswerAsTheReference() throws IOException {
    ArpoReferenceReward reward = new ArpoReferenceReward();
    JsonNode cases = cases();
    assertEquals(32, cases.size());
    List<String> mismatches = new ArrayList<>();
    for (JsonNode c : cases) {
      AnswerReward.Evaluation got = reward.evaluate(c.get("response").asText(), references(c));
      double expected = c.get("score").asDouble();
      boolean sameAnswer = expected < 0 || c.get("answer").asText().equals(got.answer());
      if (Math.abs(got.score() - expected) > 1e-12 || !sameAnswer) {
        mismatches.add(
            c.get("name").asText()
                + ": reference "
                + expected
                + " '"
                + c.get("answer").asText()
                + "', got "
                + got);
      }
    }
    assertTrue(mismatches.isEmpty(), String.join("\n", mismatches));
  }

  /** Where the default F1 reward is deliberately saner than the reference (docs/rewards.md). */
  @Test
  void theDefaultRewardDiffersOnTheReferenceQuirks() throws IOException {
    F1Reward saner = new F1Reward();
    for (JsonNode c : cases()) {
      String name = c.get("name").asText();
      double score = saner.evaluate(c.get("response").asText(), references(c)).score();
      switch (name) {
        case "fbox fails the format", "space before brace fails the format" ->
            assertEquals(1.0, score, name);
        case "fbox after a boxed: find box error" -> assertEquals(1.0, score, name);
        case "escaped braces are counted" -> assertEquals(1.0, score, name);
        case "escaped closing brace ends the box" -> assertEquals(1.0, score, name);
        case "boxed-space form takes up to the next dollar" ->
            assertEquals(2.0 / 3, score, 1e-12, name);
        case "closing tags inside a result count for the bonus" -> assertEquals(1.0, score, name);
        case "browse is not checked", "answer tag inside a tool result breaks the format" ->
            assertEquals(name.startsWith("browse") ? -1.0 : 1.0, score, name);
        default -> {}
      }
    }
  }
}
