package io.arpo4j.advantage;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Advantages against values worked out by hand in float64. */
class GroupAdvantagesTest {
  static final double EPS = GroupAdvantages.EPS;

  @Test
  void grpoNormalisesWithinEachGroupByTheUnbiasedStd() {
    double[][] a =
        GroupAdvantages.compute(
            List.of(new double[] {1, 0, 0, 1}, new double[] {0.2, 0.8}),
            List.of(new double[] {5, 1, 2, 9}, new double[] {3, 3}),
            AdvantageEstimator.GRPO);
    double std1 = Math.sqrt(1.0 / 3.0); // deviations ±0.5, sum of squares 1, n - 1 = 3
    assertArrayEquals(
        new double[] {
          0.5 / (std1 + EPS), -0.5 / (std1 + EPS), -0.5 / (std1 + EPS), 0.5 / (std1 + EPS)
        },
        a[0],
        1e-12);
    double std2 = Math.sqrt(0.18); // deviations ±0.3, sum of squares 0.18, n - 1 = 1
    assertArrayEquals(new double[] {-0.3 / (std2 + EPS), 0.3 / (std2 + EPS)}, a[1], 1e-12);
  }

  @Test
  void equalRewardsGiveZeroAndALoneSampleKeepsItsReward() {
    double[][] a =
        GroupAdvantages.compute(
            List.of(new double[] {-1, -1, -1}, new double[] {0.7}),
            List.of(new double[] {1, 1, 1}, new double[] {4}),
            AdvantageEstimator.GRPO);
    assertArrayEquals(new double[] {0, 0, 0}, a[0], 0.0);
    assertArrayEquals(new double[] {0.7 / (1 + EPS)}, a[1], 1e-12);
    assertTrue(GroupAdvantages.isDegenerate(new double[] {-1, -1, -1}));
    assertFalse(GroupAdvantages.isDegenerate(new double[] {-1, 1}));
  }

  @Test
  void reinforcePlusPlusCentresPerGroupThenWhitensOverTheBatchsTokens() {
    double[][] a =
        GroupAdvantages.compute(
            List.of(new double[] {1, 0}, new double[] {0.5, 0.5, 1}),
            List.of(new double[] {3, 1}, new double[] {2, 2, 4}),
            AdvantageEstimator.REINFORCE_PLUS_PLUS);
    // centred: {0.5, -0.5}, {-1/6, -1/6, 1/3}; each repeated over its tokens: 12 token values
    double[] tokens = {
      0.5, 0.5, 0.5, -0.5, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 3,
      1.0 / 3
    };
    double mean = 0, sq = 0;
    for (double t : tokens) mean += t / tokens.length;
    for (double t : tokens) sq += (t - mean) * (t - mean);
    double scale = 1 / Math.sqrt(sq / (tokens.length - 1) + 1e-8);
    assertEquals(5.0 / 36, mean, 1e-15); // (1.5 - 0.5 - 2/3 + 4/3) / 12
    assertArrayEquals(new double[] {(0.5 - mean) * scale, (-0.5 - mean) * scale}, a[0], 1e-12);
    assertArrayEquals(
        new double[] {
          (-1.0 / 6 - mean) * scale, (-1.0 / 6 - mean) * scale, (1.0 / 3 - mean) * scale
        },
        a[1],
        1e-12);
  }

  @Test
  void drGrpoCentresPerGroupWithoutDividingByTheStd() {
    double[][] a =
        GroupAdvantages.compute(
            List.of(new double[] {1, 0, 0, 1}, new double[] {0.2, 0.8, 0.5}),
            List.of(new double[] {1, 2, 3, 4}, new double[] {1, 1, 1}),
            AdvantageEstimator.DR_GRPO);
    assertArrayEquals(new double[] {0.5, -0.5, -0.5, 0.5}, a[0], 1e-15);
    assertArrayEquals(new double[] {-0.3, 0.3, 0.0}, a[1], 1e-15);
    assertEquals(AdvantageEstimator.DR_GRPO, AdvantageEstimator.REGISTRY.get("dr-grpo"));
  }

  @Test
  void rejectsBadInput() {
    assertThrows(
        IllegalArgumentException.class,
        () ->
            GroupAdvantages.compute(
                List.of(new double[0]), List.of(new double[0]), AdvantageEstimator.GRPO));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            GroupAdvantages.compute(
                List.of(new double[] {1, 0}), List.of(new double[] {1}), AdvantageEstimator.GRPO));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                GroupAdvantages.compute(
                    List.of(new double[] {1, Double.NaN}),
                    List.of(new double[] {1, 1}),
                    AdvantageEstimator.GRPO));
    assertTrue(e.getMessage().contains("non-finite reward"));
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> AdvantageEstimator.REGISTRY.get("ppo"))
            .getMessage()
            .startsWith(
                "advantage.estimator must be one of [dr-grpo, dr_grpo, grpo, reinforce++,"
                    + " reinforce_plus_plus"));
    assertEquals(AdvantageEstimator.GRPO, AdvantageEstimator.REGISTRY.get("GRPO"));
    assertEquals(
        AdvantageEstimator.REINFORCE_PLUS_PLUS, AdvantageEstimator.REGISTRY.get("reinforce++"));
  }
}
