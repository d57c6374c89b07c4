package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.reward.ArpoReferenceReward;
import io.arpo4j.reward.DataSourceReward;
import io.arpo4j.reward.F1Reward;
import io.arpo4j.reward.ScoringInputs;
import io.arpo4j.tools.TrajectoryFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

class RewardKindTest {
  @Test
  void arpoReferenceIsAConfigurableRewardKind() throws Exception {
    TrainerConfig config = TrainerConfig.load(null, List.of("reward.kind=arpo_reference"));
    assertInstanceOf(
        ArpoReferenceReward.class,
        Trainer.configuredReward(config, TrajectoryFormat.BUILT_IN, false));
    assertInstanceOf(
        F1Reward.class,
        Trainer.configuredReward(
            TrainerConfig.load(null, List.of("reward.kind=f1")), TrajectoryFormat.BUILT_IN, false));
    assertInstanceOf( // the default routes by data_source
        DataSourceReward.class,
        Trainer.configuredReward(
            TrainerConfig.load(null, List.of()), TrajectoryFormat.BUILT_IN, false));
    // the reference's quirk: \fbox fails its format check
    String fbox = "<think>t</think><answer>\\fbox{Paris}</answer>";
    assertEquals(
        -1.0,
        Trainer.configuredReward(config, TrajectoryFormat.BUILT_IN, false)
            .score(ScoringInputs.of(fbox, List.of("Paris"), null)));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> TrainerConfig.load(null, List.of("reward.kind=sympy")));
    assertTrue(
        e.getMessage()
            .contains("reward.kind must be one of [arpo_reference, auto, exact, f1, math"),
        e.getMessage());
  }
}
