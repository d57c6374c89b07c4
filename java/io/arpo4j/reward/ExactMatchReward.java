package io.arpo4j.reward;

import java.util.List;

/** 1 when the answer equals a reference after {@link SquadNormalization}, else 0. */
public final class ExactMatchReward extends AnswerReward {
  public ExactMatchReward() {
    this(new FormatCheck(), DEFAULT_TOOL_BONUS);
  }

  public ExactMatchReward(FormatCheck format, double toolBonus) {
    super(format, toolBonus);
  }

  @Override
  protected double match(String answer, List<String> references) {
    for (String reference : references) {
      if (exactMatch(answer, reference)) {
        return 1;
      }
    }
    return 0;
  }

  /** The official SQuAD v1.1 {@code exact_match_score}. */
  public static boolean exactMatch(String prediction, String reference) {
    return SquadNormalization.normalize(prediction).equals(SquadNormalization.normalize(reference));
  }
}
