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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * EM and F1 equal to the official SQuAD v1.1 script on 400 generated pairs with Unicode whitespace
 * and control characters (fixtures/squad/pairs.json, made by generate_pairs.py there with Python
 * 3.11).
 */
class SquadOfficialParityTest {
  @Test
  void equalToTheOfficialScriptOnGeneratedPairs() throws IOException {
    JsonNode pairs;
    try (InputStream in =
        getClass().getClassLoader().getResourceAsStream("fixtures/squad/pairs.json")) {
      pairs = new ObjectMapper().readTree(in);
    }
    assertEquals(400, pairs.size());
    List<String> mismatches = new ArrayList<>();
    for (JsonNode pair : pairs) {
      String prediction = pair.get("prediction").asText();
      String reference = pair.get("reference").asText();
      boolean em = ExactMatchReward.exactMatch(prediction, reference);
      double f1 = F1Reward.squadF1(prediction, reference);
      if (em != (pair.get("em").asInt() == 1) || Math.abs(f1 - pair.get("f1").asDouble()) > 1e-12) {
        mismatches.add(pair + " -> em " + em + ", f1 " + f1);
      }
    }
    assertTrue(mismatches.isEmpty(), mismatches.size() + " mismatches, first: " + mismatches);
  }

  /** prediction | reference | EM, by hand from Python's str.split() and string.punctuation. */
  @ParameterizedTest(name = "{0} vs {1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "The\u00a0Beatles      | Beatles     | true",
        "\u00a0the Beatles     | Beatles     | true",
        "The\u2007Beatles      | Beatles     | true",
        "The\u202fBeatles      | Beatles     | true",
        "The\u0085Beatles      | Beatles     | true",
        "The\u001cBeatles      | Beatles     | true",
        "The\u001fBeatles      | Beatles     | true",
        "The\u200bBeatles      | Beatles     | false",
        "the_Beatles           | Beatles     | false",
        "The\u3000Beatles      | the beatles | true",
      })
  void unicodeWhitespaceSplitsAsInPython(String prediction, String reference, boolean expected) {
    assertEquals(expected, ExactMatchReward.exactMatch(prediction, reference));
  }
}
