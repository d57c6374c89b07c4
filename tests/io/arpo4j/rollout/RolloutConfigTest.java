package io.arpo4j.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.model.SamplingParams;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class RolloutConfigTest {

  @Test
  void defaultsAreTheSpecs() {
    RolloutConfig c = RolloutConfig.defaults();
    assertEquals(16, c.globalSize());
    assertEquals(8, c.initialSamples());
    assertEquals(20, c.entropyWindow());
    assertEquals(0.5, c.alpha());
    assertEquals(0.2, c.beta());
    assertEquals(0.5, c.tau());
    assertEquals(1, c.branchesPerPoint());
    assertEquals(5, c.toolCallLimit());
    assertEquals(RolloutConfig.BranchRule.THRESHOLD, c.branchRule());
    assertEquals(new SamplingParams(1f, 1f, 0), c.sampling());
    assertFalse(c.isGrpo());
  }

  @Test
  void grpoIsNEqualsM() {
    RolloutConfig c = RolloutConfig.grpo(12);
    assertEquals(12, c.globalSize());
    assertEquals(12, c.initialSamples());
    assertTrue(c.isGrpo());
    assertEquals(c, c.toBuilder().build());
  }

  @Test
  void badValuesAreRejectedNamingTheArgument() {
    List<UnaryOperator<RolloutConfig.Builder>> bad =
        List.of(
            b -> b.globalSize(0),
            b -> b.initialSamples(0),
            b -> b.initialSamples(17),
            b -> b.entropyWindow(0),
            b -> b.entropyWindowMode(null),
            b -> b.alpha(Double.NaN),
            b -> b.beta(Double.POSITIVE_INFINITY),
            b -> b.tau(Double.NaN),
            b -> b.branchesPerPoint(0),
            b -> b.toolCallLimit(-1),
            b -> b.branchRule(null),
            b -> b.maxResponseTokens(0),
            b -> b.sampling(null));
    List<String> names =
        List.of(
            "globalSize",
            "initialSamples",
            "initialSamples",
            "entropyWindow",
            "entropyWindowMode",
            "alpha",
            "beta",
            "tau",
            "branchesPerPoint",
            "toolCallLimit",
            "branchRule",
            "maxResponseTokens",
            "sampling");
    for (int i = 0; i < bad.size(); i++) {
      RolloutConfig.Builder builder = bad.get(i).apply(RolloutConfig.builder());
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);
      assertTrue(e.getMessage().startsWith(names.get(i)), e.getMessage());
    }
  }

  @Test
  void entropyWindowModesAreNamedInTheRegistryWhateverTheirCase() {
    var modes = RolloutConfig.EntropyWindowMode.REGISTRY;
    assertEquals(RolloutConfig.EntropyWindowMode.MEAN, modes.get("MEAN"));
    assertEquals(RolloutConfig.EntropyWindowMode.SUM, modes.get("sum"));
    assertEquals(
        "rollout.entropy_window_mode must be one of [mean, sum], got 'max'",
        assertThrows(IllegalArgumentException.class, () -> modes.get("max")).getMessage());
  }
}
