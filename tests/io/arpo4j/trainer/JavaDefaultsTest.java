package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.arpo4j.config.Defaults;
import io.arpo4j.kernels.LossAggregation;
import io.arpo4j.loss.PolicyLossConfig;
import io.arpo4j.rollout.RolloutConfig;
import io.arpo4j.tools.python.PythonSandboxConfig;
import java.time.Duration;
import java.util.List;
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

  @Test
  void pythonSandboxDefaultsAreTheYamlOnes() {
    PythonSandboxConfig defaults = PythonSandboxConfig.defaults();
    assertEquals(yaml.pythonSandboxConfig(), defaults);
    assertEquals(2, defaults.workers()); // the trainer's value before the library read the YAML
    assertEquals(Duration.ofSeconds(10), defaults.timeout());
    assertEquals(2048L << 20, defaults.addressSpaceBytes());
    assertEquals(PythonSandboxConfig.Isolation.AUTO, defaults.isolation());
    assertEquals(List.of("numpy", "sympy"), defaults.preload());
    assertEquals(
        PythonSandboxConfig.class.getRecordComponents().length,
        Defaults.tree().at("/tools/python_sandbox").size(),
        "every sandbox setting has its key in defaults.yaml");
  }
}
