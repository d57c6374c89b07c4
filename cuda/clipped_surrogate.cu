// clipped_surrogate: the PPO/GRPO policy loss of ARPO.md §6 (with AEPO.md §3's stop-gradient
// clipping, a change of the gradient only) and its gradient wrt logprob,
// over a padded [S, L] batch. Three kernels, all reductions in a fixed order (deterministic):
//   1. one block per sequence: masked sums of the sequence (tokens, loss, statistics);
//   2. one block: the batch totals, the loss and the statistics;
//   3. every token: its gradient, weighted by its sequence's share of the aggregate.
// Per-token terms are computed in double exactly as in native/src/clipped_surrogate.cpp.
#include <cmath>

#include "common.cuh"

namespace arpo_cuda {
namespace {

struct TokenTerm {
  double loss;   // L_t
  double dloss;  // dL_t / dlogprob_t
  double ratio;
  bool clipped;  // the clipped term was the active one
  bool dual;     // the dual-clip bound was the active one
  bool kept;     // clipped, yet the stop-gradient clip passed a gradient
};

__device__ __forceinline__ TokenTerm token_term(float logprob, float old_logprob, float advantage, float eps_low,
                                                float eps_high, float dual_clip_c, float clip_grad_low,
                                                float clip_grad_high) {
  const double log_ratio = static_cast<double>(logprob) - old_logprob;
  const bool saturated = log_ratio < -20.0 || log_ratio > 20.0;  // the clamp has zero gradient
  const double ratio = exp(saturated ? (log_ratio < 0 ? -20.0 : 20.0) : log_ratio);
  const double a = advantage;
  const double clipped_ratio = fmin(fmax(ratio, 1.0 - eps_low), 1.0 + eps_high);
  const double unclipped_loss = -a * ratio, clipped_loss = -a * clipped_ratio;
  TokenTerm t;
  t.ratio = ratio;
  t.clipped = clipped_loss > unclipped_loss;
  t.loss = t.clipped ? clipped_loss : unclipped_loss;
  t.dual = false;
  t.kept = false;
  if (saturated) {
    t.dloss = 0.0;
  } else if (!t.clipped) {
    t.dloss = -a * ratio;
  } else {
    // stop-gradient clip: the bound b * ratio / sg(ratio) keeps a gradient -A * b * coef
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

// Masked sums over one sequence (or, in Totals, over the batch).
struct SeqSums {
  double tokens, loss, clipped, dual, kept, kl, ratio;
  __device__ __forceinline__ static SeqSums plus(const SeqSums& a, const SeqSums& b) {
    return {a.tokens + b.tokens, a.loss + b.loss, a.clipped + b.clipped, a.dual + b.dual,
            a.kept + b.kept,     a.kl + b.kl,     a.ratio + b.ratio};
  }
};
__device__ __forceinline__ SeqSums shfl_xor(const SeqSums& s, int o) {
  using arpo_cuda::shfl_xor;
  return {shfl_xor(s.tokens, o), shfl_xor(s.loss, o), shfl_xor(s.clipped, o), shfl_xor(s.dual, o),
          shfl_xor(s.kept, o),   shfl_xor(s.kl, o),   shfl_xor(s.ratio, o)};
}

struct Totals {
  SeqSums sums;
  double nonempty;   // sequences with tokens
  double seq_means;  // sum over non-empty sequences of loss / tokens
  __device__ __forceinline__ static Totals plus(const Totals& a, const Totals& b) {
    return {SeqSums::plus(a.sums, b.sums), a.nonempty + b.nonempty, a.seq_means + b.seq_means};
  }
};
__device__ __forceinline__ Totals shfl_xor(const Totals& t, int o) {
  using arpo_cuda::shfl_xor;
  return {shfl_xor(t.sums, o), shfl_xor(t.nonempty, o), shfl_xor(t.seq_means, o)};
}

struct Params {
  const float* logprob;
  const float* old_logprob;
  const float* advantage;
  const float* mask;
  int64_t num_seqs;
  int64_t seq_len;
  float eps_low, eps_high, dual_clip_c, clip_grad_low, clip_grad_high;
  arpo_agg_mode mode;
};

constexpr int kSeqThreads = 128;
constexpr int kTotalThreads = 1024;
constexpr int kGradThreads = 256;

__global__ void __launch_bounds__(kSeqThreads) seq_sums_kernel(Params p, SeqSums* __restrict__ seq_sums) {
  __shared__ SeqSums partial[32];
  for (int64_t s = blockIdx.x; s < p.num_seqs; s += gridDim.x) {
    SeqSums acc{0, 0, 0, 0, 0, 0, 0};
    for (int64_t t = threadIdx.x; t < p.seq_len; t += blockDim.x) {
      const int64_t i = s * p.seq_len + t;
      const double m = p.mask[i];
      if (m == 0) continue;
      const TokenTerm term = token_term(p.logprob[i], p.old_logprob[i], p.advantage[i], p.eps_low, p.eps_high,
                                        p.dual_clip_c, p.clip_grad_low, p.clip_grad_high);
      acc.tokens += m;
      acc.loss += m * term.loss;
      acc.clipped += m * term.clipped;
      acc.dual += m * term.dual;
      acc.kept += m * term.kept;
      acc.kl += m * (static_cast<double>(p.old_logprob[i]) - p.logprob[i]);
      acc.ratio += m * term.ratio;
    }
    acc = block_reduce(acc, SeqSums::plus, SeqSums{0, 0, 0, 0, 0, 0, 0}, partial);
    if (threadIdx.x == 0) seq_sums[s] = acc;
  }
}

__global__ void __launch_bounds__(kTotalThreads)
    totals_kernel(Params p, const SeqSums* __restrict__ seq_sums, Totals* __restrict__ totals,
                  float* __restrict__ loss, float* __restrict__ stats) {
  __shared__ Totals partial[32];
  Totals acc{{0, 0, 0, 0, 0, 0, 0}, 0, 0};
  for (int64_t s = threadIdx.x; s < p.num_seqs; s += blockDim.x) {
    const SeqSums& q = seq_sums[s];
    acc.sums = SeqSums::plus(acc.sums, q);
    if (q.tokens > 0) {
      acc.nonempty += 1;
      acc.seq_means += q.loss / q.tokens;
    }
  }
  acc = block_reduce(acc, Totals::plus, Totals{{0, 0, 0, 0, 0, 0, 0}, 0, 0}, partial);
  if (threadIdx.x != 0) return;
  *totals = acc;
  const double tokens = acc.sums.tokens;
  double value = 0;
  switch (p.mode) {
    case ARPO_AGG_TOKEN_MEAN: value = tokens > 0 ? acc.sums.loss / tokens : 0.0; break;
    case ARPO_AGG_SEQ_MEAN_TOKEN_MEAN: value = acc.nonempty > 0 ? acc.seq_means / acc.nonempty : 0.0; break;
    case ARPO_AGG_SEQ_SUM_TOKEN_MEAN: value = acc.seq_means; break;
  }
  loss[0] = static_cast<float>(value);
  const double denom = tokens > 0 ? tokens : 1.0;
  stats[ARPO_STAT_CLIP_FRAC] = static_cast<float>(acc.sums.clipped / denom);
  stats[ARPO_STAT_APPROX_KL] = static_cast<float>(acc.sums.kl / denom);
  stats[ARPO_STAT_MEAN_RATIO] = static_cast<float>(acc.sums.ratio / denom);
  stats[ARPO_STAT_DUAL_CLIP_FRAC] = static_cast<float>(acc.sums.dual / denom);
  stats[ARPO_STAT_CLIP_GRAD_KEPT_FRAC] = static_cast<float>(acc.sums.kept / denom);
}

__global__ void __launch_bounds__(kGradThreads)
    grad_kernel(Params p, const SeqSums* __restrict__ seq_sums, const Totals* __restrict__ totals,
                float* __restrict__ grad_logprob) {
  const int64_t count = p.num_seqs * p.seq_len;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const double m = p.mask[i];
    if (m == 0) {
      grad_logprob[i] = 0.0f;
      continue;
    }
    // d aggregate / d L_t for the unmasked tokens of this sequence
    const double seq_tokens = seq_sums[i / p.seq_len].tokens;
    double weight = 0;
    if (seq_tokens > 0) {
      switch (p.mode) {
        case ARPO_AGG_TOKEN_MEAN: weight = 1.0 / totals->sums.tokens; break;
        case ARPO_AGG_SEQ_MEAN_TOKEN_MEAN: weight = 1.0 / (seq_tokens * totals->nonempty); break;
        case ARPO_AGG_SEQ_SUM_TOKEN_MEAN: weight = 1.0 / seq_tokens; break;
      }
    }
    const TokenTerm term =
        token_term(p.logprob[i], p.old_logprob[i], p.advantage[i], p.eps_low, p.eps_high, p.dual_clip_c,
                   p.clip_grad_low, p.clip_grad_high);
    grad_logprob[i] = static_cast<float>(weight * m * term.dloss);
  }
}

}  // namespace
}  // namespace arpo_cuda

ARPO_CUDA_API int arpo_cuda_clipped_surrogate(const float* logprob, const float* old_logprob, const float* advantage,
                                              const float* mask, int64_t num_seqs, int64_t seq_len, float eps_low,
                                              float eps_high, float dual_clip_c, float clip_grad_low,
                                              float clip_grad_high, arpo_agg_mode mode, float* loss,
                                              float* grad_logprob, float* stats, void* stream) {
  using namespace arpo_cuda;
  if (!logprob || !old_logprob || !advantage || !mask || !loss || !grad_logprob || !stats)
    return fail("clipped_surrogate: null pointer");
  if (num_seqs <= 0 || seq_len <= 0) return fail("clipped_surrogate: empty batch");
  if (num_seqs > INT64_MAX / seq_len) return fail("clipped_surrogate: batch too large");
  if (!(eps_low >= 0.0f && eps_low < 1.0f) || !(eps_high >= 0.0f))
    return fail("clipped_surrogate: need 0 <= eps_low < 1 and eps_high >= 0");
  if (!(clip_grad_low >= 0.0f) || !std::isfinite(clip_grad_low) || !(clip_grad_high >= 0.0f) ||
      !std::isfinite(clip_grad_high))
    return fail("clipped_surrogate: need finite clip_grad_low >= 0 and clip_grad_high >= 0");
  if (mode != ARPO_AGG_TOKEN_MEAN && mode != ARPO_AGG_SEQ_MEAN_TOKEN_MEAN && mode != ARPO_AGG_SEQ_SUM_TOKEN_MEAN)
    return fail("clipped_surrogate: unknown aggregation mode");

  cudaStream_t s = static_cast<cudaStream_t>(stream);
  // Workspace: per-sequence sums, then the totals; stream-ordered, so no host sync.
  void* workspace = nullptr;
  cudaError_t error = cudaMallocAsync(&workspace, num_seqs * sizeof(SeqSums) + sizeof(Totals), s);
  if (error != cudaSuccess) return fail_cuda("clipped_surrogate: workspace allocation failed", error);
  SeqSums* seq_sums = static_cast<SeqSums*>(workspace);
  Totals* totals = reinterpret_cast<Totals*>(seq_sums + num_seqs);

  const Params p{logprob,  old_logprob, advantage,     mask,          num_seqs,       seq_len,
                 eps_low,  eps_high,    dual_clip_c,   clip_grad_low, clip_grad_high, mode};
  constexpr int64_t kMaxGrid = 1 << 20;  // grid-stride loops cover the rest
  const unsigned seq_blocks = static_cast<unsigned>(num_seqs < kMaxGrid ? num_seqs : kMaxGrid);
  const int64_t grad_needed = (num_seqs * seq_len + kGradThreads - 1) / kGradThreads;
  const unsigned grad_blocks = static_cast<unsigned>(grad_needed < kMaxGrid ? grad_needed : kMaxGrid);
  seq_sums_kernel<<<seq_blocks, kSeqThreads, 0, s>>>(p, seq_sums);
  totals_kernel<<<1, kTotalThreads, 0, s>>>(p, seq_sums, totals, loss, stats);
  grad_kernel<<<grad_blocks, kGradThreads, 0, s>>>(p, seq_sums, totals, grad_logprob);
  const int rc = check_launch("clipped_surrogate");
  error = cudaFreeAsync(workspace, s);
  if (rc != ARPO_OK) return rc;
  if (error != cudaSuccess) return fail_cuda("clipped_surrogate: workspace release failed", error);
  return ARPO_OK;
}
