package io.arpo4j.rollout;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The branch rule of ARPO.md §3 with AEPO's consecutive-branch penalty (AEPO.md §2): ΔH = (H_t −
 * H_initial) / ln|V|, P = (α + β·ΔH)·max(0, 1 − λ·l), then either P > τ (threshold) or U < clamp(P,
 * 0, 1) (stochastic); and the budget split among simultaneous requests, highest ΔH first.
 */
final class BranchDecider {

  /** One path's decision at a branch point, before the budget is split. */
  record Request(
      PathState path,
      double probeEntropy,
      double deltaH,
      double probability,
      boolean wanted,
      int consecutiveBranches) {}

  private final RolloutConfig config;
  private final double logVocab;
  private final long round;

  /** {@code round} tells apart successive rollouts of one engine in the stochastic draws. */
  BranchDecider(RolloutConfig config, int vocabSize, long round) {
    this.config = config;
    this.logVocab = Math.log(vocabSize);
    this.round = round;
  }

  /** {@code consecutiveBranches} is l in the rollout's penalty scope. */
  Request decide(PathState path, double probeEntropy, int consecutiveBranches) {
    double deltaH = (probeEntropy - path.initialEntropy) / logVocab;
    double p =
        (config.alpha() + config.beta() * deltaH) * config.penaltyFactor(consecutiveBranches);
    boolean wanted =
        switch (config.branchRule()) {
          case THRESHOLD -> p > config.tau();
          case STOCHASTIC -> draw(path) < Math.min(1.0, Math.max(0.0, p));
        };
    return new Request(path, probeEntropy, deltaH, p, wanted, consecutiveBranches);
  }

  /**
   * The uniform draw of one branch point. It is a hash of (seed, round, prompt, trajectory, tool
   * call) rather than the next number of one shared generator: tool calls finish in an order that
   * depends on timing, and a shared generator would hand out its numbers in that order.
   */
  private double draw(PathState path) {
    long h = mix(config.seed());
    h = mix(h ^ round);
    h = mix(h ^ path.group.index);
    h = mix(h ^ path.id);
    h = mix(h ^ path.toolCalls.size());
    return new SplittableRandom(h).nextDouble();
  }

  /** A 64-bit finaliser (the one SplittableRandom uses): every input bit moves every output bit. */
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }

  /** A budget grant: {@code children} new paths for {@code request}. */
  record Grant(Request request, int children) {}

  /**
   * Splits {@code budget} free slots among one prompt's simultaneous requests: those the rule
   * wants, highest ΔH first (ties: lower trajectory id), Z each while slots last. Requests the rule
   * declined, or that found no slot left, get 0. Grants come back in serving order.
   */
  List<Grant> allocate(List<Request> requests, int budget) {
    List<Request> order = new ArrayList<>(requests);
    order.sort(
        Comparator.comparing(Request::wanted)
            .thenComparingDouble(Request::deltaH)
            .reversed()
            .thenComparingInt(r -> r.path().id));
    List<Grant> grants = new ArrayList<>(order.size());
    int left = budget;
    for (Request r : order) {
      int children = r.wanted() ? Math.min(config.branchesPerPoint(), left) : 0;
      left -= children;
      grants.add(new Grant(r, children));
    }
    return grants;
  }
}
