package io.arpo4j.reward;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Token-level F1 of the answer against each reference after {@link SquadNormalization}, maximum
 * over the references; the reference's reward for knowledge and search tasks. As there, when either
 * side normalises to "yes", "no" or "noanswer", only an exact match counts.
 */
public final class F1Reward extends AnswerReward {
  private static final Set<String> CLOSED_ANSWERS = Set.of("yes", "no", "noanswer");

  /** The reference's settings: all tool tags checked, bonus 0.1. */
  public F1Reward() {
    this(new FormatCheck(), DEFAULT_TOOL_BONUS);
  }

  public F1Reward(FormatCheck format, double toolBonus) {
    super(format, toolBonus);
  }

  @Override
  protected double match(String answer, List<String> references) {
    double best = 0;
    for (String reference : references) {
      best = Math.max(best, f1(answer, reference));
    }
    return best;
  }

  /** F1 of one prediction against one reference, with the reference's yes/no/noanswer rule. */
  public static double f1(String prediction, String reference) {
    String p = SquadNormalization.normalize(prediction);
    String r = SquadNormalization.normalize(reference);
    if ((CLOSED_ANSWERS.contains(p) || CLOSED_ANSWERS.contains(r)) && !p.equals(r)) {
      return 0;
    }
    return tokenF1(p, r);
  }

  /** The official SQuAD v1.1 {@code f1_score}: token F1 of the normalised strings. */
  public static double squadF1(String prediction, String reference) {
    return tokenF1(
        SquadNormalization.normalize(prediction), SquadNormalization.normalize(reference));
  }

  private static double tokenF1(String normalizedPrediction, String normalizedReference) {
    List<String> predicted = SquadNormalization.tokens(normalizedPrediction);
    List<String> expected = SquadNormalization.tokens(normalizedReference);
    Map<String, Integer> available = new HashMap<>();
    for (String token : expected) {
      available.merge(token, 1, Integer::sum);
    }
    int common = 0;
    for (String token : predicted) {
      Integer left = available.get(token);
      if (left != null && left > 0) {
        available.put(token, left - 1);
        common++;
      }
    }
    if (common == 0) {
      return 0;
    }
    double precision = (double) common / predicted.size();
    double recall = (double) common / expected.size();
    return 2 * precision * recall / (precision + recall);
  }
}
