package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.advantage.AdvantageEstimator;
import io.arpo4j.advantage.GroupAdvantages;
import io.arpo4j.reward.Reward;
import io.arpo4j.reward.RewardKind;
import io.arpo4j.reward.ScoringInputs;
import io.arpo4j.rollout.RolloutConfig;
import io.arpo4j.tools.TrajectoryFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A library user's own advantage estimator and reward kind, named in a config, are the ones used.
 */
class UserRegisteredEntriesTest {
  /** Each reward unchanged: no baseline at all. */
  static final AdvantageEstimator RAW_REWARD =
      (rewards, validTokens) -> rewards.stream().map(double[]::clone).toArray(double[][]::new);

  /** The multi-tool bonus as the training reward, 1 as the correctness rule. */
  static final RewardKind BONUS_ONLY =
      (tools, bonus, correctness) -> in -> correctness ? 1.0 : bonus;

  static {
    // registered once per JVM: the registries are global and reject a second registration
    AdvantageEstimator.REGISTRY.register("user-raw-reward", RAW_REWARD);
    RewardKind.REGISTRY.register("user_bonus_only", BONUS_ONLY);
    TrainerConfig.ALGORITHMS.register(
        "user-grpo-clip-higher",
        new TrainerConfig.Algorithm(
            false, List.of("loss.eps_high=0.3", "dapo.max_resample_rounds=1")));
    TrainerConfig.ALGORITHMS.register(
        "user-aepo-by-question",
        new TrainerConfig.Algorithm(
            true,
            List.of(
                "aepo.dynamic_split=true",
                "aepo.reuse_probe=false",
                "aepo.branch_penalty=0.2",
                "aepo.penalty_scope=question")));
  }

  @Test
  void aRegisteredPresetOfAepoPiecesAppliesAndTheUserStillOverrides() throws Exception {
    RolloutConfig preset =
        TrainerConfig.load(null, List.of("algo=user-aepo-by-question")).rolloutConfig();
    assertTrue(preset.dynamicSplit());
    assertFalse(preset.reuseProbe());
    assertEquals(0.2, preset.branchPenalty());
    assertEquals(RolloutConfig.PenaltyScope.QUESTION, preset.penaltyScope());
    RolloutConfig overridden =
        TrainerConfig.load(null, List.of("algo=user-aepo-by-question", "aepo.penalty_scope=path"))
            .rolloutConfig();
    assertEquals(RolloutConfig.PenaltyScope.PATH, overridden.penaltyScope());
    assertEquals(0.2, overridden.branchPenalty());
  }

  @Test
  void aRegisteredAdvantageEstimatorIsTheConfiguredOne() throws Exception {
    TrainerConfig config = TrainerConfig.load(null, List.of("advantage.estimator=User-Raw-Reward"));
    assertSame(RAW_REWARD, config.advantageEstimator());
    double[][] advantages =
        GroupAdvantages.compute(
            List.of(new double[] {1, 0, 0.5}),
            List.of(new double[] {3, 3, 3}),
            config.advantageEstimator());
    assertArrayEquals(new double[] {1, 0, 0.5}, advantages[0]);
  }

  @Test
  void anEstimatorOfTheWrongShapeIsRejected() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                GroupAdvantages.compute(
                    List.of(new double[] {1, 0}),
                    List.of(new double[] {3, 3}),
                    (rewards, validTokens) -> new double[][] {{1}}));
    assertEquals(
        "the advantage estimator must return one advantage per trajectory (group 0)",
        e.getMessage());
  }

  @Test
  void aRegisteredRewardKindIsTheConfiguredReward() throws Exception {
    TrainerConfig config =
        TrainerConfig.load(
            null, List.of("reward.kind=user_bonus_only", "reward.multi_tool_bonus=0.25"));
    var input = ScoringInputs.of("<answer>\\boxed{x}</answer>", List.of("y"), null);
    Reward reward = Trainer.configuredReward(config, TrajectoryFormat.BUILT_IN, false);
    Reward correctness = Trainer.configuredReward(config, TrajectoryFormat.BUILT_IN, true);
    assertEquals(0.25, reward.score(input));
    assertEquals(1.0, correctness.score(input));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> TrainerConfig.load(null, List.of("reward.kind=sympy")));
    assertTrue(e.getMessage().contains("user_bonus_only"), e.getMessage());
  }

  @Test
  void aRegisteredAlgorithmIsAPresetTheUserStillOverrides() throws Exception {
    TrainerConfig config =
        TrainerConfig.load(
            null,
            List.of(
                "algo=User-GRPO-Clip-Higher",
                "rollout.global_size=6",
                "dapo.max_resample_rounds=2"));
    assertEquals("user-grpo-clip-higher", config.algo());
    assertEquals(0.3f, config.policyLossConfig().epsHigh(), "the preset's setting");
    assertEquals(2, config.dapo().maxResampleRounds(), "the user's override wins over the preset");
    assertEquals(6, config.rolloutConfig().initialSamples(), "no branching: N = M");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> TrainerConfig.load(null, List.of("algo=ppo")));
    assertTrue(e.getMessage().contains("user-grpo-clip-higher"), e.getMessage());
  }
}
