package io.arpo4j.reward;

import io.arpo4j.config.Registry;
import io.arpo4j.tools.TrajectoryFormat;
import java.util.function.BiFunction;

/**
 * What {@code reward.kind} names: a factory of the reward to train on and of the correctness rule
 * that accuracy is judged by. A library user registers their own kind in {@link #REGISTRY} before
 * loading the config that names it.
 */
@FunctionalInterface
public interface RewardKind {
  /**
   * @param tools the trajectory format, whose tools the format check knows
   * @param multiToolBonus {@code reward.multi_tool_bonus}
   * @param correctness true for the correctness rule (1 for a correct answer, else 0) instead of
   *     the training reward
   */
  Reward create(TrajectoryFormat tools, double multiToolBonus, boolean correctness);

  /**
   * A kind from an {@link AnswerReward} factory (format check and multi-tool bonus as its
   * arguments); its correctness rule scores 1 when the answer matches fully, else 0.
   */
  static RewardKind ofAnswer(BiFunction<TrajectoryFormat, Double, AnswerReward> factory) {
    return (tools, multiToolBonus, correctness) -> {
      AnswerReward reward = factory.apply(tools, multiToolBonus);
      if (!correctness) return reward;
      return in -> reward.evaluate(in.response(), in.references()).match() >= 1.0 ? 1.0 : 0.0;
    };
  }

  /** SQuAD token F1 of the boxed answer. */
  RewardKind F1 = ofAnswer((tools, bonus) -> new F1Reward(new FormatCheck(tools), bonus));

  /** SQuAD exact match of the boxed answer. */
  RewardKind EXACT =
      ofAnswer((tools, bonus) -> new ExactMatchReward(new FormatCheck(tools), bonus));

  /** Mathematical equivalence of the boxed answer. */
  RewardKind MATH =
      ofAnswer((tools, bonus) -> new MathEquivalenceReward(new FormatCheck(tools), bonus));

  /** The ARPO reference's {@code compute_score}, its own format check included. */
  RewardKind ARPO_REFERENCE = ofAnswer((tools, bonus) -> new ArpoReferenceReward(bonus));

  /**
   * The default: {@link #MATH} for a math data source, {@link #F1} for any other (see {@link
   * DataSourceReward}, which warns once about a source it does not know).
   */
  RewardKind AUTO =
      (tools, bonus, correctness) ->
          new DataSourceReward(
              MATH.create(tools, bonus, correctness), F1.create(tools, bonus, correctness));

  /** The kinds {@code reward.kind} may name. */
  Registry<RewardKind> REGISTRY =
      new Registry<RewardKind>("reward.kind")
          .register("f1", F1)
          .register("exact", EXACT)
          .register("math", MATH)
          .register("arpo_reference", ARPO_REFERENCE)
          .register("auto", AUTO);
}
