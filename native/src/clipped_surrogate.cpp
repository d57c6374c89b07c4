// clipped_surrogate: the PPO/GRPO policy loss of ARPO.md §6 and its gradient wrt logprob, with
// stop-gradient clipping (AEPO.md §3: GPPO, CE-GPPO, AEPO) as a change of the gradient only.
#include <vector>

#include "common.h"

namespace {

struct TokenTerm {
  double loss;   // L_t
  double dloss;  // dL_t / dlogprob_t
  bool clipped;  // the clipped term was the active one
  bool dual;     // the dual-clip bound was the active one
  bool kept;     // clipped, yet the stop-gradient clip passed a gradient
  double ratio;
};

// The value is PPO's in every mode; clip_grad_low / clip_grad_high only give the clipped bound a
// gradient, b * ratio / sg(ratio) (arpo4j.h), which is -A * b * coef with respect to logprob.
inline TokenTerm token_term(float logprob, float old_logprob, float advantage, float eps_low, float eps_high,
                            float dual_clip_c, float clip_grad_low, float clip_grad_high) {
  const double log_ratio = static_cast<double>(logprob) - old_logprob;
  const bool saturated = log_ratio < -20.0 || log_ratio > 20.0;  // the clamp has zero gradient
  const double ratio = std::exp(saturated ? (log_ratio < 0 ? -20.0 : 20.0) : log_ratio);
  const double a = advantage;
  const double clipped_ratio = std::min(std::max(ratio, 1.0 - eps_low), 1.0 + eps_high);
  const double unclipped_loss = -a * ratio, clipped_loss = -a * clipped_ratio;
  TokenTerm t{};
  t.ratio = ratio;
  t.clipped = clipped_loss > unclipped_loss;
  t.loss = t.clipped ? clipped_loss : unclipped_loss;
  if (saturated) {
    t.dloss = 0.0;
  } else if (!t.clipped) {
    t.dloss = -a * ratio;
  } else {
    // clipped: a > 0 means the ratio is above 1 + eps_high, a < 0 below 1 - eps_low
    const double bound_grad = a > 0 ? (1.0 + eps_high) * static_cast<double>(clip_grad_high)
                                    : (1.0 - eps_low) * static_cast<double>(clip_grad_low);
    t.dloss = -a * bound_grad;
    t.kept = bound_grad != 0.0;
  }
  if (a < 0 && dual_clip_c > 1.0f && t.loss > -a * dual_clip_c) {
    t.dual = true;
    t.kept = false;
    t.loss = -a * dual_clip_c;
    t.dloss = 0.0;
  }
  return t;
}

}  // namespace

ARPO_API int arpo_clipped_surrogate(const float* logprob, const float* old_logprob, const float* advantage,
                                    const float* mask, int64_t num_seqs, int64_t seq_len, float eps_low,
                                    float eps_high, float dual_clip_c, float clip_grad_low, float clip_grad_high,
                                    arpo_agg_mode mode, float* loss,
                                    float* grad_logprob, float* stats) {
  if (!logprob || !old_logprob || !advantage || !mask || !loss || !grad_logprob || !stats)
    return arpo::fail("clipped_surrogate: null pointer");
  if (num_seqs <= 0 || seq_len <= 0) return arpo::fail("clipped_surrogate: empty batch");
  if (!(eps_low >= 0.0f && eps_low < 1.0f) || !(eps_high >= 0.0f))
    return arpo::fail("clipped_surrogate: need 0 <= eps_low < 1 and eps_high >= 0");
  if (!(clip_grad_low >= 0.0f) || !std::isfinite(clip_grad_low) || !(clip_grad_high >= 0.0f) ||
      !std::isfinite(clip_grad_high))
    return arpo::fail("clipped_surrogate: need finite clip_grad_low >= 0 and clip_grad_high >= 0");
  if (mode != ARPO_AGG_TOKEN_MEAN && mode != ARPO_AGG_SEQ_MEAN_TOKEN_MEAN && mode != ARPO_AGG_SEQ_SUM_TOKEN_MEAN)
    return arpo::fail("clipped_surrogate: unknown aggregation mode");

  // Per-sequence token counts fix each token's weight in the aggregate.
  std::vector<double> seq_tokens(num_seqs, 0.0);
  double total_tokens = 0;
  int64_t nonempty = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    double c = 0;
    for (int64_t t = 0; t < seq_len; ++t) c += mask[s * seq_len + t];
    seq_tokens[s] = c;
    total_tokens += c;
    nonempty += c > 0;
  }

  double total = 0, clipped = 0, dual = 0, kept = 0, kl = 0, ratio_sum = 0;
#pragma omp parallel for reduction(+ : total, clipped, dual, kept, kl, ratio_sum) schedule(static)
  for (int64_t s = 0; s < num_seqs; ++s) {
    double weight = 0;  // d aggregate / d L_t for the unmasked tokens of this sequence
    if (seq_tokens[s] > 0) {
      switch (mode) {
        case ARPO_AGG_TOKEN_MEAN: weight = 1.0 / total_tokens; break;
        case ARPO_AGG_SEQ_MEAN_TOKEN_MEAN: weight = 1.0 / (seq_tokens[s] * nonempty); break;
        case ARPO_AGG_SEQ_SUM_TOKEN_MEAN: weight = 1.0 / seq_tokens[s]; break;
      }
    }
    for (int64_t t = 0; t < seq_len; ++t) {
      const int64_t i = s * seq_len + t;
      const double m = mask[i];
      if (m == 0) {
        grad_logprob[i] = 0.0f;
        continue;
      }
      const TokenTerm term = token_term(logprob[i], old_logprob[i], advantage[i], eps_low, eps_high,
                                           dual_clip_c, clip_grad_low, clip_grad_high);
      total += weight * m * term.loss;
      grad_logprob[i] = static_cast<float>(weight * m * term.dloss);
      clipped += m * term.clipped;
      dual += m * term.dual;
      kept += m * term.kept;
      kl += m * (static_cast<double>(old_logprob[i]) - logprob[i]);
      ratio_sum += m * term.ratio;
    }
  }
  loss[0] = static_cast<float>(total);
  const double denom = total_tokens > 0 ? total_tokens : 1.0;
  stats[ARPO_STAT_CLIP_FRAC] = static_cast<float>(clipped / denom);
  stats[ARPO_STAT_APPROX_KL] = static_cast<float>(kl / denom);
  stats[ARPO_STAT_MEAN_RATIO] = static_cast<float>(ratio_sum / denom);
  stats[ARPO_STAT_DUAL_CLIP_FRAC] = static_cast<float>(dual / denom);
  stats[ARPO_STAT_CLIP_GRAD_KEPT_FRAC] = static_cast<float>(kept / denom);
  return ARPO_OK;
}
