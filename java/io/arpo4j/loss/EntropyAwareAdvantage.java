package io.arpo4j.loss;

import io.arpo4j.config.Registry;
import java.util.Locale;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * AEPO's entropy-aware advantage (AEPO.md §4): Ã_t = Â_t · max(0, 1 + a · sg(z_t)), z_t = (H_t − μ)
 * / σ, where H_t is the token's full-vocabulary entropy under the policy being trained and μ, σ are
 * the mean and (population) standard deviation of the entropies of the training tokens of the
 * normalisation scope. It reshapes the advantage before the clipped surrogate (clip, dual clip and
 * aggregation all see Ã) and carries no gradient itself.
 */
public final class EntropyAwareAdvantage {
  /** A scope whose entropies spread less than this is treated as constant (z = 0). */
  public static final double MIN_STD = 1e-6;

  private EntropyAwareAdvantage() {}

  /** Over which tokens μ and σ are taken ({@code aepo.entropy_norm_scope}). */
  public enum Scope {
    /** the training tokens of the optimizer mini-batch (every rank's part) */
    MINIBATCH,
    /** the training tokens of the step's whole batch (every rank's part) */
    BATCH;

    public static final Registry<Scope> REGISTRY = new Registry<>("aepo.entropy_norm_scope");

    static {
      for (Scope s : values()) REGISTRY.register(s.name().toLowerCase(Locale.ROOT), s);
    }
  }

  /**
   * Count, sum and sum of squares of entropies over tokens with mask > 0: the additive moments that
   * ranks and micro-batches combine by summing before {@link Moments#of}.
   */
  public static double[] sums(float[] entropy, float[] mask) {
    if (entropy.length != mask.length) {
      throw new IllegalArgumentException(
          "entropy has " + entropy.length + " tokens but mask " + mask.length);
    }
    double n = 0, sum = 0, squares = 0;
    for (int i = 0; i < mask.length; i++) {
      if (mask[i] > 0) {
        double h = entropy[i];
        n++;
        sum += h;
        squares += h * h;
      }
    }
    return new double[] {n, sum, squares};
  }

  /** μ and σ of a normalisation scope. */
  public record Moments(double mean, double std) {
    /** From {count, sum, sum of squares} ({@link #sums}); no tokens gives μ = σ = 0. */
    public static Moments of(double[] sums) {
      double n = sums[0];
      if (n <= 0) return new Moments(0, 0);
      double mean = sums[1] / n;
      return new Moments(mean, Math.sqrt(Math.max(sums[2] / n - mean * mean, 0)));
    }
  }

  /**
   * Ã and its statistics over the tokens with mask > 0.
   *
   * @param advantage Ã, fp32, the shape of the input advantage
   * @param meanAbsZ mean |z| over the training tokens
   * @param clampedFraction fraction of training tokens where 1 + a·z < 0 (Ã set to 0)
   * @param tokens training tokens (mask > 0) these statistics are over
   */
  public record Result(Tensor advantage, double meanAbsZ, double clampedFraction, double tokens) {}

  /**
   * @param advantage Â, fp32 [S, L]
   * @param entropy H_t under the current policy, fp32 [S, L] (no gradient flows through it)
   * @param mask training tokens, fp32 [S, L]
   * @param coef a, > 0
   * @param moments μ, σ of the scope; σ below {@link #MIN_STD} gives z = 0 (every token keeps Â)
   */
  public static Result apply(
      Tensor advantage, Tensor entropy, Tensor mask, Moments moments, double coef) {
    if (!(coef > 0) || !Double.isFinite(coef)) {
      throw new IllegalArgumentException("coef must be finite and > 0, got " + coef);
    }
    if (!java.util.Arrays.equals(entropy.sizes().vec().get(), advantage.sizes().vec().get())
        || !java.util.Arrays.equals(mask.sizes().vec().get(), advantage.sizes().vec().get())) {
      throw new IllegalArgumentException("entropy and mask must have the shape of advantage");
    }
    // in float64: z of a token far from μ must not lose the 1 in 1 + a z
    Tensor h = entropy.detach().to(ScalarType.Double);
    Tensor z =
        moments.std() < MIN_STD
            ? torch.zeros_like(h)
            : h.sub(new Scalar(moments.mean())).div(new Scalar(moments.std()));
    Tensor scale = z.mul(new Scalar(coef)).add(new Scalar(1.0));
    Tensor trained = mask.gt(new Scalar(0.0)).to(ScalarType.Double);
    double tokens = trained.sum().item_double();
    double meanAbsZ = tokens == 0 ? 0 : z.abs().mul(trained).sum().item_double() / tokens;
    double clamped =
        tokens == 0
            ? 0
            : scale.lt(new Scalar(0.0)).to(ScalarType.Double).mul(trained).sum().item_double()
                / tokens;
    Tensor shaped =
        advantage.to(ScalarType.Double).mul(scale.clamp_min(new Scalar(0.0))).to(ScalarType.Float);
    return new Result(shaped.contiguous(), meanAbsZ, clamped, tokens);
  }
}
