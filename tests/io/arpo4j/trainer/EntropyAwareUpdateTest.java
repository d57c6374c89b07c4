package io.arpo4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.advantage.GroupAdvantages;
import io.arpo4j.model.TransformerModel;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.Trajectory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * AEPO's entropy-aware advantage inside the RL update (AEPO.md §4): one mini-batch, one
 * micro-batch, one epoch, so the update's forward pass sees the policy that sampled (ratio 1,
 * nothing clipped) and its loss is −(1/N)·Σ_t Â_t·max(0, 1 + a·z_t) over the N training tokens. The
 * expected value, mean |z| and clamped fraction are computed here in float64 from the policy's own
 * scoring of the rows, with μ and σ over the training tokens (tool results excluded) of the
 * mini-batch.
 */
class EntropyAwareUpdateTest {
  @ParameterizedTest(name = "a={0} scope={1}")
  @CsvSource({"0.0, minibatch", "0.2, minibatch", "1.5, minibatch", "1.5, batch"})
  void theLossUsesTheEntropyShapedAdvantage(double a, String scope) throws Exception {
    TrainerConfig config =
        TrainerConfig.load(
            null,
            List.of(
                "algo=grpo",
                "ppo_mini_batch_prompts=" + DataParallelRlRank.GROUPS,
                "micro_batch_tokens=100000",
                "optimizer.lr=1.0e-5",
                "aepo.entropy_advantage_coef=" + a,
                // one mini-batch: both scopes are its tokens
                "aepo.entropy_norm_scope=" + scope));
    List<RolloutGroup> groups = DataParallelRlRank.groups(new SplittableRandom(7));
    TransformerModel model = TinyModels.llama(256, 11);
    TokenBackprop backprop = new TokenBackprop(model, 1f, config.logitChunkTokens());

    // the reference, before the update moves the policy
    List<double[]> rewards = new ArrayList<>(), tokens = new ArrayList<>();
    for (RolloutGroup g : groups) {
      double[] r = new double[g.trajectories().size()], n = new double[r.length];
      for (int i = 0; i < r.length; i++) {
        Trajectory t = g.trajectories().get(i);
        r[i] = t.reward();
        for (int m : t.lossMask()) n[i] += m;
      }
      rewards.add(r);
      tokens.add(n);
    }
    double[][] adv = GroupAdvantages.compute(rewards, tokens, config.advantageEstimator());
    List<TrainingRow> rows = new ArrayList<>();
    for (int g = 0; g < groups.size(); g++)
      rows.addAll(RlUpdate.rows(groups.get(g), adv[g], config.attribution()));
    float[][] entropy = backprop.score(rows, 100000)[1];
    double n = 0, sum = 0, squares = 0;
    for (int r = 0; r < rows.size(); r++) {
      for (int t = 0; t < entropy[r].length; t++) {
        if (rows.get(r).mask()[t] == 0) continue; // tool results do not count
        n++;
        sum += entropy[r][t];
        squares += (double) entropy[r][t] * entropy[r][t];
      }
    }
    double mu = sum / n, sigma = Math.sqrt(squares / n - mu * mu);
    double loss = 0, absZ = 0, clamped = 0;
    for (int r = 0; r < rows.size(); r++) {
      TrainingRow row = rows.get(r);
      for (int t = 0; t < entropy[r].length; t++) {
        if (row.mask()[t] == 0) continue;
        double z = (entropy[r][t] - mu) / sigma;
        absZ += Math.abs(z);
        clamped += 1 + a * z < 0 ? 1 : 0;
        loss -= row.advantage()[t] * Math.max(0, 1 + a * z);
      }
    }

    try (PolicyOptimizer optimizer = new PolicyOptimizer(model, config.optimizerConfig())) {
      Map<String, Double> m = new RlUpdate(backprop, null, optimizer, config).update(groups);
      assertEquals(1.0, m.get(MetricsLog.OPTIMIZER_STEPS));
      assertEquals(0.0, m.get(MetricsLog.CLIP_FRACTION), "ratio 1: nothing clipped");
      assertEquals(loss / n, m.get(MetricsLog.LOSS), 1e-6, "loss with the shaped advantage");
      if (a == 0) {
        assertFalse(m.containsKey(MetricsLog.ENTROPY_ADV_ABS_Z), "off: no statistics");
      } else {
        assertEquals(absZ / n, m.get(MetricsLog.ENTROPY_ADV_ABS_Z), 1e-6, "mean |z|");
        assertEquals(
            clamped / n, m.get(MetricsLog.ENTROPY_ADV_CLAMPED_FRACTION), 1e-9, "clamped fraction");
        if (a > 1) assertTrue(clamped > 0, "a = " + a + " should clamp some tokens");
      }
    }
  }
}
