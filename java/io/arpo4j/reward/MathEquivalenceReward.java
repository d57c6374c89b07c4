package io.arpo4j.reward;

import java.util.List;

/**
 * 1 when the answer is mathematically equal to a reference ({@link MathVerifier#equivalent}: plain
 * numbers on a fast path, everything else with the Symja algebra system under a time limit), else
 * 0. Unlike F1, a wrong number gets no partial credit.
 */
public final class MathEquivalenceReward extends AnswerReward {
  public MathEquivalenceReward() {
    this(new FormatCheck(), DEFAULT_TOOL_BONUS);
  }

  public MathEquivalenceReward(FormatCheck format, double toolBonus) {
    super(format, toolBonus);
  }

  @Override
  protected double match(String answer, List<String> references) {
    for (String reference : references) {
      if (MathVerifier.equivalent(answer, reference)) {
        return 1;
      }
    }
    return 0;
  }
}
