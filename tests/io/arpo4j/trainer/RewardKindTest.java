package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.reward.ArpoReferenceReward;
import io.arpo4j.reward.F1Reward;
import java.util.List;
import org.junit.jupiter.api.Test;

class RewardKindTest {
  @Test
  void arpoReferenceIsAConfigurableRewardKind() throws Exception {
    TrainerConfig config = TrainerConfig.load(null, List.of("reward.kind=arpo_reference"));
    assertInstanceOf(ArpoReferenceReward.class, Trainer.answerReward(config));
    assertInstanceOf(F1Reward.class, Trainer.answerReward(TrainerConfig.load(null, List.of())));
    // the reference's quirk: \fbox fails its format check
    String fbox = "<think>t</think><answer>\\fbox{Paris}</answer>";
    assertEquals(-1.0, Trainer.answerReward(config).score(fbox, List.of("Paris")));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TrainerConfig.load(null, List.of("reward.kind=sympy")));
    assertTrue(e.getMessage().contains("reward.kind must be f1, exact, math or arpo_reference"), e.getMessage());
  }
}
