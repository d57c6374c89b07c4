package io.arpo4j.advantage;

import io.arpo4j.config.Registry;
import java.util.List;

/**
 * How rewards become per-trajectory advantages (ARPO.md §5–§6). {@code advantage.estimator} names
 * one in {@link #REGISTRY}; a library user registers their own there before building the trainer.
 */
@FunctionalInterface
public interface AdvantageEstimator {
  /**
   * Advantages for each group, in the same order and shape as {@code groupRewards}. {@link
   * GroupAdvantages#compute} has checked the shapes and that every reward is finite.
   *
   * @param validTokens for each trajectory, how many tokens it trains (its loss-mask tokens), in
   *     the shape of {@code groupRewards}
   */
  double[][] advantages(List<double[]> groupRewards, List<double[]> validTokens);

  /** GRPO / ARPO: (r - group mean) / (group std + eps), unbiased std as verl. */
  AdvantageEstimator GRPO = (rewards, validTokens) -> GroupAdvantages.centered(rewards, true);

  /**
   * REINFORCE++ with a group baseline: r - group mean, then whitened over the batch's valid tokens
   * (each trajectory weighted by its token count), as verl and OpenRLHF do.
   */
  AdvantageEstimator REINFORCE_PLUS_PLUS =
      (rewards, validTokens) ->
          GroupAdvantages.whitenOverTokens(GroupAdvantages.centered(rewards, false), validTokens);

  /**
   * Dr.GRPO: r - group mean, no division by the group's std (which favours easy and hard prompts).
   */
  AdvantageEstimator DR_GRPO = (rewards, validTokens) -> GroupAdvantages.centered(rewards, false);

  /** The estimators {@code advantage.estimator} may name. */
  Registry<AdvantageEstimator> REGISTRY =
      new Registry<AdvantageEstimator>("advantage.estimator")
          .register("grpo", GRPO)
          .register("reinforce++", REINFORCE_PLUS_PLUS)
          .register("reinforce_plus_plus", REINFORCE_PLUS_PLUS)
          .register("dr-grpo", DR_GRPO)
          .register("dr_grpo", DR_GRPO);
}
