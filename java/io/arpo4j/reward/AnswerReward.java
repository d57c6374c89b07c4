package io.arpo4j.reward;

import io.arpo4j.tools.TrajectoryFormat;
import java.util.List;
import java.util.Objects;

/**
 * The reward of the ARPO reference ({@code deep_research.py}) with a pluggable answer comparison: a
 * response that breaks {@link FormatCheck} scores {@link #FORMAT_PENALTY}; otherwise the last
 * {@code \boxed{}} of its answer is compared with the references ({@link #match}), and a positive
 * score gets {@code toolBonus} more when the model called both {@code python} and {@code search}.
 */
public abstract class AnswerReward implements Reward {
  public static final double FORMAT_PENALTY = -1.0;

  /** The reference's bonus for using both tools in a correct answer. */
  public static final double DEFAULT_TOOL_BONUS = 0.1;

  /** A score with what led to it, for logs. */
  public record Evaluation(double score, double match, String answer, String reason) {}

  private final FormatCheck format;
  private final double toolBonus;

  protected AnswerReward(FormatCheck format, double toolBonus) {
    this.format = Objects.requireNonNull(format, "format");
    if (!(toolBonus >= 0)) {
      throw new IllegalArgumentException("toolBonus must be >= 0, got " + toolBonus);
    }
    this.toolBonus = toolBonus;
  }

  /** The bonus added to a positive match when both tools were used. */
  protected final double toolBonus() {
    return toolBonus;
  }

  /** How well {@code answer} (a box's content) matches the best reference, in [0, 1]. */
  protected abstract double match(String answer, List<String> references);

  /** {@link #evaluate}'s score of the response against the question's references. */
  @Override
  public final double score(ScoringInput input) {
    return evaluate(input.response(), input.references()).score();
  }

  public Evaluation evaluate(String response, List<String> references) {
    if (references.isEmpty()) {
      throw new IllegalArgumentException("references must not be empty");
    }
    FormatCheck.Result checked = format.check(response);
    if (!checked.valid()) {
      return new Evaluation(FORMAT_PENALTY, 0, null, "bad format: " + checked.reason());
    }
    String answer = format.answer(response).orElseThrow();
    double match = match(answer, references);
    boolean bothTools =
        TrajectoryFormat.called(response, "python") && TrajectoryFormat.called(response, "search");
    if (match > 0 && bothTools) {
      return new Evaluation(match + toolBonus, match, answer, "correct, python and search used");
    }
    return new Evaluation(match, match, answer, match > 0 ? "correct" : "wrong answer");
  }
}
