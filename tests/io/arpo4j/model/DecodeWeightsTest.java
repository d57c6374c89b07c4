package io.arpo4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.model.TransformerModel.DecodeWeights;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Decode steps on the native weight-streaming kernel (TransformerModel.DecodeWeights) against
 * libtorch's path, on the embedded model (Qwen2 layout: q/k/v biases, tied LM head).
 */
class DecodeWeightsTest {

  /** Greedy tokens and their log-probs of {@code batch} sequences, {@code steps} tokens each. */
  private static List<SampledToken> greedy(PolicyModel pm, int batch, int steps) {
    List<SampledToken> out = new ArrayList<>();
    try (TransformerPolicy policy = pm.newPolicy()) {
      List<Sequence> seqs = new ArrayList<>();
      for (int b = 0; b < batch; b++) {
        seqs.add(
            policy.newSequence(TestModels.tokens(5 + 3 * b, pm.model().config().vocabSize(), b)));
      }
      for (int s = 0; s < steps; s++) out.addAll(policy.step(seqs, SamplingParams.greedy(), 0, s));
    }
    return out;
  }

  @Test
  void fp32KernelGivesLibtorchsGreedyTokens() {
    try (PolicyModel pm = PolicyModel.loadDefault()) {
      for (int batch : new int[] {1, 5}) {
        pm.model().setDecodeWeights(DecodeWeights.LIBTORCH);
        List<SampledToken> reference = greedy(pm, batch, 40);
        pm.model().setDecodeWeights(DecodeWeights.FP32);
        List<SampledToken> kernel = greedy(pm, batch, 40);
        assertArrayEquals(
            reference.stream().mapToInt(SampledToken::token).toArray(),
            kernel.stream().mapToInt(SampledToken::token).toArray(),
            "batch " + batch);
        double worst = 0;
        for (int i = 0; i < reference.size(); i++) {
          worst = Math.max(worst, Math.abs(reference.get(i).logprob() - kernel.get(i).logprob()));
        }
        System.out.printf("batch %d: max |logprob difference| %.3g%n", batch, worst);
        assertTrue(worst < 1e-4, "max |logprob difference| " + worst);
      }
    }
  }

  /**
   * Largest |difference| between one decode step's log-prob and entropy (in the model's current
   * decode weights) and those of libtorch's fp32 full forward over the same tokens.
   */
  private static double driftFromFp32(PolicyModel pm) {
    int vocab = pm.model().config().vocabSize();
    double worst = 0;
    try (TransformerPolicy policy = pm.newPolicy()) {
      for (int b = 0; b < 3; b++) {
        int[] prompt = TestModels.tokens(6 + b, vocab, 40 + b);
        CachedSequence seq = policy.newSequence(prompt);
        policy.step(List.of(seq), SamplingParams.greedy(), 0, 0); // prefill + first token
        int[] sofar = seq.tokens();
        SampledToken t = policy.step(List.of(seq), SamplingParams.greedy(), 0, 1).get(0);
        float[] flat;
        try (Tensor ids = Fixtures.ids(new int[][] {sofar});
            Tensor logits = pm.model().logits(ids)) {
          flat = Fixtures.floats(logits);
        }
        double max = Double.NEGATIVE_INFINITY, sum = 0, entropy = 0;
        int from = flat.length - vocab;
        for (int i = from; i < flat.length; i++) max = Math.max(max, flat[i]);
        for (int i = from; i < flat.length; i++) sum += Math.exp(flat[i] - max);
        double lse = max + Math.log(sum);
        for (int i = from; i < flat.length; i++) {
          entropy -= Math.exp(flat[i] - lse) * (flat[i] - lse);
        }
        worst = Math.max(worst, Math.abs(flat[from + t.token()] - lse - t.logprob()));
        worst = Math.max(worst, Math.abs(entropy - t.entropy()));
      }
    }
    return worst;
  }

  @Test
  void bf16CopiesFollowTheWeightsAfterEachRefresh() {
    try (PolicyModel pm = PolicyModel.loadDefault()) {
      TransformerModel model = pm.model();
      model.setDecodeWeights(DecodeWeights.BF16);
      double before = driftFromFp32(pm);
      // new master weights: until refreshed, the bf16 copies are those of the old weights
      TestModels.randomize(model.parameters(), 6);
      double stale = driftFromFp32(pm);
      model.refreshComputeCopies();
      double refreshed = driftFromFp32(pm);
      model.setDecodeWeights(DecodeWeights.FP32); // frees the copies
      double fp32 = driftFromFp32(pm);
      System.out.printf(
          "decode vs libtorch fp32 forward: bf16 %.3g, bf16 with stale copies %.3g,"
              + " refreshed %.3g, fp32 kernel %.3g%n",
          before, stale, refreshed, fp32);
      // the embedded model's own weights, then N(0, 0.3) ones (far sharper logits, so larger drift)
      assertTrue(before < 0.05, "bf16 rounding moved log-probs by " + before);
      assertTrue(refreshed < 0.2, "after the refresh the log-probs moved by " + refreshed);
      assertTrue(stale > 10 * refreshed, "stale copies went unnoticed: " + stale);
      assertTrue(fp32 < 1e-4, "fp32 kernel vs libtorch: " + fp32);
    }
  }
}
