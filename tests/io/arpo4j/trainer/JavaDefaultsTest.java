package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.arpo4j.kernels.LossAggregation;
import io.arpo4j.loss.PolicyLossConfig;
import io.arpo4j.rollout.RolloutConfig;
import org.junit.jupiter.api.Test;

/** The library configs' no-argument defaults are defaults.yaml's, which the trainer merges over. */
class JavaDefaultsTest {
  private final TrainerConfig yaml = TrainerConfig.defaultConfig();

  @Test
  void optimizerDefaultsAreTheYamlOnes() {
    assertEquals(yaml.optimizerConfig(), OptimizerConfig.defaults());
    assertEquals(1e-6, OptimizerConfig.defaults().lr()); // the reference's (ARPO.md §6)
  }

  @Test
  void policyLossDefaultsAreTheYamlOnes() {
    assertEquals(yaml.policyLossConfig(), PolicyLossConfig.defaults());
    assertEquals(0.2f, PolicyLossConfig.defaults().epsHigh());
    assertEquals(LossAggregation.TOKEN_MEAN, PolicyLossConfig.defaults().aggregation());
  }

  @Test
  void rolloutDefaultsAreTheYamlOnesButTheSeed() {
    RolloutConfig defaults = RolloutConfig.defaults();
    assertEquals(yaml.rolloutConfig().toBuilder().seed(defaults.seed()).build(), defaults);
    assertEquals(16, defaults.globalSize()); // ARPO.md: M = 16, N = 8
    assertEquals(8, defaults.initialSamples());
    assertEquals(RolloutConfig.BranchRule.THRESHOLD, defaults.branchRule());
  }
}
