package io.arpo4j.trainer;

import io.arpo4j.config.Defaults;

/**
 * AdamW and gradient clipping (ARPO.md §6); {@link #defaults()} are defaults.yaml's {@code
 * optimizer} section, the reference's.
 *
 * @param lr learning rate (constant after warm-up)
 * @param weightDecay decoupled weight decay
 * @param beta1 Adam beta1
 * @param beta2 Adam beta2
 * @param eps Adam epsilon
 * @param gradClip max global gradient norm (<= 0 disables)
 * @param warmupSteps linear warm-up of the learning rate over this many optimizer steps
 */
public record OptimizerConfig(
    double lr,
    double weightDecay,
    double beta1,
    double beta2,
    double eps,
    double gradClip,
    int warmupSteps) {
  public OptimizerConfig {
    if (!(lr > 0) || !Double.isFinite(lr))
      throw new IllegalArgumentException("lr must be > 0, got " + lr);
    if (!(weightDecay >= 0))
      throw new IllegalArgumentException("weightDecay must be >= 0, got " + weightDecay);
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
      throw new IllegalArgumentException("betas must be in [0, 1), got " + beta1 + ", " + beta2);
    }
    if (!(eps > 0)) throw new IllegalArgumentException("eps must be > 0, got " + eps);
    if (warmupSteps < 0)
      throw new IllegalArgumentException("warmupSteps must be >= 0, got " + warmupSteps);
  }

  public static OptimizerConfig defaults() {
    return new OptimizerConfig(
        Defaults.number("optimizer.lr"),
        Defaults.number("optimizer.weight_decay"),
        Defaults.number("optimizer.beta1"),
        Defaults.number("optimizer.beta2"),
        Defaults.number("optimizer.eps"),
        Defaults.number("optimizer.grad_clip"),
        Defaults.integer("optimizer.warmup_steps"));
  }

  public OptimizerConfig withLr(double newLr) {
    return new OptimizerConfig(newLr, weightDecay, beta1, beta2, eps, gradClip, warmupSteps);
  }
}
