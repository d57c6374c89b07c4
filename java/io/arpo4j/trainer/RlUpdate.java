package io.arpo4j.trainer;

import io.arpo4j.advantage.AdvantageEstimator;
import io.arpo4j.advantage.GroupAdvantages;
import io.arpo4j.advantage.TreeAttribution;
import io.arpo4j.distributed.Distributed;
import io.arpo4j.loss.ClipMode;
import io.arpo4j.loss.EntropyAwareAdvantage;
import io.arpo4j.loss.PolicyLoss;
import io.arpo4j.loss.PolicyLossConfig;
import io.arpo4j.rollout.RolloutGroup;
import io.arpo4j.rollout.Trajectory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

/**
 * The policy update of one RL step (ARPO.md §5–§6), after rollout and rewards: group advantages,
 * soft or hard attribution over each rollout tree, old (and reference) log-probs without grad, then
 * PPO epochs over mini-batches of prompts, micro-batched by a token budget.
 *
 * <p>Data parallel: each rank holds whole groups, a contiguous run of the step's groups in rank
 * order. Advantages are computed over every rank's rewards (so batch-level estimators see the whole
 * batch), mini-batches are cut from the global group order, their loss normalisers are global, and
 * gradients are summed over ranks before each optimizer step: N ranks take the steps one process
 * takes on all groups.
 *
 * <p>With {@code aepo.entropy_advantage_coef} > 0 each micro-batch's advantages are reshaped by its
 * tokens' entropies before the loss ({@link EntropyAwareAdvantage}); μ and σ are the mini-batch's
 * (or batch's) over every rank, from the entropies of the old-log-prob scoring pass.
 */
public final class RlUpdate {
  private final TokenBackprop backprop;
  private final TokenBackprop reference; // null when kl_coef == 0
  private final PolicyOptimizer optimizer;
  private final PolicyLossConfig lossConfig;
  private final double entropyAdvantageCoef; // AEPO.md §4's a; 0 = off
  private final EntropyAwareAdvantage.Scope entropyNormScope;
  private final AdvantageEstimator estimator;
  private final TreeAttribution.Mode attribution;
  private final int miniBatchPrompts, epochs, microBatchTokens, lengthNormalizer;
  private final Distributed dist;

  public RlUpdate(
      TokenBackprop backprop,
      TokenBackprop reference,
      PolicyOptimizer optimizer,
      TrainerConfig config) {
    this(backprop, reference, optimizer, config, Distributed.single());
  }

  /**
   * @param dist the data-parallel job; {@code optimizer} must sum the gradients over the same one
   */
  public RlUpdate(
      TokenBackprop backprop,
      TokenBackprop reference,
      PolicyOptimizer optimizer,
      TrainerConfig config,
      Distributed dist) {
    this.dist = dist;
    this.backprop = backprop;
    this.reference = reference;
    this.optimizer = optimizer;
    this.lossConfig = config.policyLossConfig();
    this.entropyAdvantageCoef = config.entropyAdvantageCoef();
    this.entropyNormScope = config.entropyNormScope();
    this.estimator = config.advantageEstimator();
    this.attribution = config.attribution();
    this.miniBatchPrompts = config.ppoMiniBatchPrompts();
    this.epochs = config.ppoEpochs();
    this.microBatchTokens = config.microBatchTokens();
    this.lengthNormalizer = config.lengthNormalizer();
    if (lossConfig.klCoef() > 0 && reference == null) {
      throw new IllegalArgumentException("loss.kl_coef > 0 needs a reference model");
    }
  }

  /** Rows of one group: prompt + response tokens, masks with attribution, advantages. */
  static List<TrainingRow> rows(
      RolloutGroup group, double[] advantages, TreeAttribution.Mode mode) {
    List<TreeAttribution.Row> tree = new ArrayList<>();
    for (Trajectory t : group.trajectories())
      tree.add(new TreeAttribution.Row(t.parentId(), Math.max(t.forkOffset(), 0), t.length()));
    TreeAttribution.Result attributed = TreeAttribution.attribute(tree, advantages, mode);
    int[] prompt = group.prompt().tokens();
    List<TrainingRow> rows = new ArrayList<>();
    for (Trajectory t : group.trajectories()) {
      int n = t.length();
      if (n == 0) continue; // nothing was generated (length limit at the prompt): nothing to train
      int[] tokens = new int[prompt.length + n];
      System.arraycopy(prompt, 0, tokens, 0, prompt.length);
      System.arraycopy(t.tokens(), 0, tokens, prompt.length, n);
      float[] mask = new float[n], adv = new float[n];
      for (int i = 0; i < n; i++) {
        mask[i] = (float) (t.lossMask()[i] * attributed.ownMask()[t.id()][i]);
        adv[i] = (float) attributed.advantage()[t.id()][i];
      }
      rows.add(new TrainingRow(tokens, prompt.length, mask, adv, null));
    }
    return rows;
  }

  /**
   * Runs the update over scored groups and returns its metrics (loss, clip fraction, KL, grad
   * norm).
   */
  public Map<String, Double> update(List<RolloutGroup> groups) {
    List<double[]> rewards = new ArrayList<>(), validTokens = new ArrayList<>();
    for (RolloutGroup g : groups) {
      double[] r = new double[g.trajectories().size()], n = new double[r.length];
      for (int i = 0; i < r.length; i++) {
        Trajectory t = g.trajectories().get(i);
        if (t.reward() == null)
          throw new IllegalArgumentException("trajectory " + t.name() + " has no reward");
        r[i] = t.reward();
        for (int m : t.lossMask()) n[i] += m;
      }
      rewards.add(r);
      validTokens.add(n);
    }
    GlobalGroups global = GlobalGroups.of(rewards, dist);
    // REINFORCE++ whitens over every rank's tokens: the token counts travel like the rewards
    double[][] advantages =
        global.local(
            GroupAdvantages.compute(
                global.rewards(), GlobalGroups.of(validTokens, dist).rewards(), estimator));
    List<List<TrainingRow>> perGroup = new ArrayList<>();
    List<TrainingRow> all = new ArrayList<>();
    for (int g = 0; g < groups.size(); g++) {
      List<TrainingRow> rows = rows(groups.get(g), advantages[g], attribution);
      perGroup.add(rows);
      all.addAll(rows);
    }
    Map<String, Double> metrics = new LinkedHashMap<>();
    if (dist.isDistributed() ? global.count() == 0 : all.isEmpty()) return metrics;
    // log-probs of the policy that sampled (recomputed in training numerics, as verl does)
    float[][][] scored = backprop.score(all, microBatchTokens);
    float[][] old = scored[0];
    float[][] ref = reference == null ? null : reference.score(all, microBatchTokens)[0];
    int k = 0;
    for (List<TrainingRow> rows : perGroup) {
      for (int i = 0; i < rows.size(); i++) rows.set(i, rows.get(i).withOldLogprob(old[k++]));
    }
    // The entropy-aware advantage's mu and sigma: entropy moments of each row's training tokens,
    // from this scoring pass (the policy at the start of the update); summed per scope below.
    Map<TrainingRow, double[]> entropySums = new java.util.IdentityHashMap<>();
    if (entropyAdvantageCoef > 0) {
      k = 0;
      for (List<TrainingRow> rows : perGroup) {
        for (TrainingRow r : rows)
          entropySums.put(r, EntropyAwareAdvantage.sums(scored[1][k++], r.mask()));
      }
    }
    EntropyAwareAdvantage.Moments batchMoments = null;
    if (entropyAdvantageCoef > 0 && entropyNormScope == EntropyAwareAdvantage.Scope.BATCH) {
      List<TrainingRow> trained = new ArrayList<>(); // in row order: a deterministic sum
      perGroup.forEach(trained::addAll);
      double[] sums = entropySumsOf(trained, entropySums);
      batchMoments =
          EntropyAwareAdvantage.Moments.of(dist.isDistributed() ? dist.allReduceSum(sums) : sums);
    }
    Map<TrainingRow, float[]> refByRow = new java.util.IdentityHashMap<>();
    if (ref != null) {
      k = 0;
      for (List<TrainingRow> rows : perGroup) for (TrainingRow r : rows) refByRow.put(r, ref[k++]);
    }

    double lossSum = 0, klRefSum = 0, entropySum = 0, clipSum = 0, klSum = 0, normSum = 0;
    double clipKeptSum = 0, absZSum = 0, clampedSum = 0;
    int updates = 0;
    for (int epoch = 0; epoch < epochs; epoch++) {
      // mini-batches of the global group order; this rank trains the groups of each it holds
      for (int g0 = 0; g0 < global.count(); g0 += miniBatchPrompts) {
        List<TrainingRow> mini = new ArrayList<>();
        int from = Math.max(g0, global.offset()),
            to = Math.min(g0 + miniBatchPrompts, global.offset() + perGroup.size());
        for (int g = from; g < to; g++) mini.addAll(perGroup.get(g - global.offset()));
        // {tokens, sequences} and, for a mini-batch scope, the entropy moments: one all-reduce
        double[] norm = MiniBatchLoss.normalisers(mini);
        boolean miniScope = entropyAdvantageCoef > 0 && batchMoments == null;
        if (miniScope) norm = concat(norm, entropySumsOf(mini, entropySums));
        if (dist.isDistributed()) norm = dist.allReduceSum(norm);
        if (mini.isEmpty() && !dist.isDistributed())
          continue; // a rank with no part still joins the all-reduce
        EntropyAwareAdvantage.Moments moments =
            miniScope
                ? EntropyAwareAdvantage.Moments.of(java.util.Arrays.copyOfRange(norm, 2, 5))
                : batchMoments;
        MiniBatchLoss loss =
            new MiniBatchLoss(
                mini,
                refByRow,
                lossConfig,
                norm[0],
                norm[1],
                lengthNormalizer,
                moments,
                entropyAdvantageCoef);
        optimizer.zeroGrad();
        // this mini-batch's loss, kl_ref, entropy, clip fraction, ppo_kl, stop-gradient kept
        // fraction, mean |z| and clamped fraction (AEPO.md §3-4), each weighted by its share
        double[] terms = new double[8];
        List<int[]> micros = TokenBackprop.microBatches(mini, microBatchTokens);
        int idle = backprop.passes(micros.size()) - micros.size();
        for (int i = 0; i < idle; i++) backprop.idleBackward(); // full sharding: see passes
        for (int[] micro : micros) {
          Map<String, Double> vm = backprop.backward(mini, micro, loss).metrics();
          terms[0] += vm.get(MetricsLog.LOSS);
          terms[1] += vm.get(MetricsLog.KL_REF);
          terms[2] += vm.get(MetricsLog.ENTROPY_BONUS);
          terms[3] += vm.get(MetricsLog.CLIP_FRACTION) * vm.get("share");
          terms[4] += vm.get(MetricsLog.PPO_KL) * vm.get("share");
          terms[5] += vm.get(MetricsLog.CLIP_GRAD_KEPT_FRACTION) * vm.get("share");
          terms[6] += vm.get(MetricsLog.ENTROPY_ADV_ABS_Z) * vm.get("share");
          terms[7] += vm.get(MetricsLog.ENTROPY_ADV_CLAMPED_FRACTION) * vm.get("share");
        }
        if (dist.isDistributed()) {
          terms =
              dist.allReduceSum(
                  terms); // shares are of the global mini-batch: the sums are its values
        }
        lossSum += terms[0];
        klRefSum += terms[1];
        entropySum += terms[2];
        clipSum += terms[3];
        klSum += terms[4];
        clipKeptSum += terms[5];
        absZSum += terms[6];
        clampedSum += terms[7];
        normSum += optimizer.step();
        updates++;
      }
    }
    metrics.put(MetricsLog.LOSS, lossSum / updates);
    if (reference != null) metrics.put(MetricsLog.KL_REF, klRefSum / updates);
    if (lossConfig.entropyCoef() != 0) metrics.put(MetricsLog.ENTROPY_BONUS, entropySum / updates);
    metrics.put(MetricsLog.PPO_KL, klSum / updates);
    metrics.put(MetricsLog.CLIP_FRACTION, clipSum / updates);
    if (lossConfig.clipMode() == ClipMode.STOP_GRADIENT)
      metrics.put(MetricsLog.CLIP_GRAD_KEPT_FRACTION, clipKeptSum / updates);
    if (entropyAdvantageCoef > 0) {
      metrics.put(MetricsLog.ENTROPY_ADV_ABS_Z, absZSum / updates);
      metrics.put(MetricsLog.ENTROPY_ADV_CLAMPED_FRACTION, clampedSum / updates);
    }
    metrics.put(MetricsLog.GRAD_NORM, normSum / updates);
    metrics.put(MetricsLog.OPTIMIZER_STEPS, (double) updates);
    return metrics;
  }

  /** {count, sum, sum of squares} of the training tokens' entropies over {@code rows}. */
  private static double[] entropySumsOf(List<TrainingRow> rows, Map<TrainingRow, double[]> sums) {
    double[] total = new double[3];
    for (TrainingRow r : rows) {
      double[] s = sums.get(r);
      for (int i = 0; i < 3; i++) total[i] += s[i];
    }
    return total;
  }

  private static double[] concat(double[] a, double[] b) {
    double[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  /**
   * The policy loss of a mini-batch evaluated one micro-batch at a time, each scaled so that the
   * micro-batches add up to the mini-batch's aggregate (token-mean over all its tokens, or
   * per-sequence means over all its sequences).
   */
  private static final class MiniBatchLoss implements TokenLoss {
    private final List<TrainingRow> rows;
    private final Map<TrainingRow, float[]> ref;
    private final PolicyLossConfig config;
    private final double tokens, sequences;
    private final int lengthNormalizer;
    private final EntropyAwareAdvantage.Moments entropyMoments; // null: no entropy-aware advantage
    private final double entropyAdvantageCoef;

    /**
     * @param tokens trained tokens of the whole mini-batch (every rank's part)
     * @param sequences sequences with a trained token in the whole mini-batch
     * @param entropyMoments mu and sigma of the entropy-aware advantage's scope, or null when off
     */
    MiniBatchLoss(
        List<TrainingRow> rows,
        Map<TrainingRow, float[]> ref,
        PolicyLossConfig config,
        double tokens,
        double sequences,
        int lengthNormalizer,
        EntropyAwareAdvantage.Moments entropyMoments,
        double entropyAdvantageCoef) {
      this.rows = rows;
      this.entropyMoments = entropyAdvantageCoef > 0 ? entropyMoments : null;
      this.entropyAdvantageCoef = entropyAdvantageCoef;
      this.ref = ref;
      this.config = config;
      this.lengthNormalizer = lengthNormalizer;
      this.tokens = Math.max(tokens, 1);
      this.sequences = Math.max(sequences, 1);
    }

    /** {trained tokens, sequences with a trained token} of {@code rows}. */
    static double[] normalisers(List<TrainingRow> rows) {
      double t = 0, s = 0;
      for (TrainingRow r : rows) {
        double m = 0;
        for (float x : r.mask()) m += x;
        t += m;
        s += m > 0 ? 1 : 0;
      }
      return new double[] {t, s};
    }

    @Override
    public Value evaluate(int[] idx, Tensor logprob, Tensor entropy, Tensor mask) {
      int width = (int) mask.size(1);
      Tensor old = padded(idx, width, TrainingRow::oldLogprob);
      Tensor adv = padded(idx, width, TrainingRow::advantage);
      Tensor refLp = ref.isEmpty() ? null : padded(idx, width, ref::get);
      double microTokens = mask.sum().item_double();
      if (microTokens == 0) {
        return new Value(
            0,
            logprob.mul(new Scalar(0.0)),
            null,
            Map.of(
                MetricsLog.LOSS,
                0.0,
                MetricsLog.KL_REF,
                0.0,
                MetricsLog.ENTROPY_BONUS,
                0.0,
                MetricsLog.CLIP_FRACTION,
                0.0,
                MetricsLog.PPO_KL,
                0.0,
                MetricsLog.CLIP_GRAD_KEPT_FRACTION,
                0.0,
                MetricsLog.ENTROPY_ADV_ABS_Z,
                0.0,
                MetricsLog.ENTROPY_ADV_CLAMPED_FRACTION,
                0.0,
                "share",
                0.0));
      }
      double absZ = 0, clamped = 0;
      if (entropyMoments != null) {
        // the entropy of the forward pass that this backward differentiates, before any clipping
        EntropyAwareAdvantage.Result shaped =
            EntropyAwareAdvantage.apply(adv, entropy, mask, entropyMoments, entropyAdvantageCoef);
        adv = shaped.advantage();
        absZ = shaped.meanAbsZ();
        clamped = shaped.clampedFraction();
      }
      PolicyLoss.Result r =
          PolicyLoss.compute(
              logprob, old, refLp, config.entropyCoef() != 0 ? entropy : null, adv, mask, config);
      // Dr.GRPO: the kernel's token mean over this micro-batch, times its tokens, over sequences x
      // constant
      double scale =
          lengthNormalizer > 0
              ? microTokens / (sequences * lengthNormalizer)
              : switch (config.aggregation()) {
                case TOKEN_MEAN -> microTokens / tokens;
                case SEQ_MEAN_TOKEN_MEAN ->
                    mask.sum(new long[] {1}, false, new org.bytedeco.pytorch.ScalarTypeOptional())
                            .gt(new Scalar(0.0))
                            .sum()
                            .item_double()
                        / sequences;
                case SEQ_SUM_TOKEN_MEAN -> 1.0;
              };
      Scalar s = new Scalar(scale);
      // each term scaled like the loss, so that the micro-batches' terms add up to the mini-batch's
      return new Value(
          r.loss() * scale,
          r.gradLogprob().mul(s),
          r.gradEntropy() == null ? null : r.gradEntropy().mul(s),
          Map.of(
              MetricsLog.LOSS,
              r.policyLoss() * scale,
              MetricsLog.KL_REF,
              r.klLoss() * scale,
              MetricsLog.ENTROPY_BONUS,
              r.entropyLoss() * scale,
              MetricsLog.CLIP_FRACTION,
              (double) r.clipFraction(),
              MetricsLog.PPO_KL,
              (double) r.approxKl(),
              MetricsLog.CLIP_GRAD_KEPT_FRACTION,
              (double) r.clipGradKeptFraction(),
              MetricsLog.ENTROPY_ADV_ABS_Z,
              absZ,
              MetricsLog.ENTROPY_ADV_CLAMPED_FRACTION,
              clamped,
              "share",
              microTokens / tokens));
    }

    private Tensor padded(
        int[] idx, int width, java.util.function.Function<TrainingRow, float[]> field) {
      float[] out = new float[idx.length * width];
      for (int b = 0; b < idx.length; b++) {
        float[] f = field.apply(rows.get(idx[b]));
        System.arraycopy(f, 0, out, b * width, f.length);
      }
      return Tensor.create(out, idx.length, width);
    }
  }

  /**
   * Every rank's group rewards, in rank order: this rank's groups are {@code [offset, offset +
   * local)} of them. In a world of one, just the local rewards.
   */
  record GlobalGroups(List<double[]> rewards, int offset, int local) {
    static GlobalGroups of(List<double[]> local, Distributed dist) {
      if (!dist.isDistributed()) return new GlobalGroups(local, 0, local.size());
      // how many groups each rank holds, then each group's size, then the rewards themselves
      double[] counts = new double[dist.size()];
      counts[dist.rank()] = local.size();
      counts = dist.allReduceSum(counts);
      int offset = 0, total = 0;
      for (int r = 0; r < counts.length; r++) {
        if (r < dist.rank()) offset += (int) counts[r];
        total += (int) counts[r];
      }
      double[] sizes = new double[total];
      for (int g = 0; g < local.size(); g++) sizes[offset + g] = local.get(g).length;
      sizes = dist.allReduceSum(sizes);
      int[] start = new int[total + 1];
      for (int g = 0; g < total; g++) start[g + 1] = start[g] + (int) sizes[g];
      double[] flat = new double[start[total]];
      for (int g = 0; g < local.size(); g++)
        System.arraycopy(local.get(g), 0, flat, start[offset + g], local.get(g).length);
      flat = dist.allReduceSum(flat);
      List<double[]> all = new ArrayList<>();
      for (int g = 0; g < total; g++)
        all.add(java.util.Arrays.copyOfRange(flat, start[g], start[g + 1]));
      return new GlobalGroups(all, offset, local.size());
    }

    int count() {
      return rewards.size();
    }

    /** This rank's rows of a per-group array computed over all groups. */
    double[][] local(double[][] perGroup) {
      return java.util.Arrays.copyOfRange(perGroup, offset, offset + local);
    }
  }
}
