// token_stats: log-prob of the target, entropy and log-sum-exp per row, one pass per row.
#include "common.h"

namespace arpo {

ARPO_SIMD RowStats row_stats_f32(const float* row, int64_t v, float inv_temp) { return row_stats(row, v, inv_temp); }
ARPO_SIMD RowStats row_stats_bf16(const uint16_t* row, int64_t v, float inv_temp) { return row_stats(row, v, inv_temp); }

namespace {
template <typename T>
void token_stats_rows(const T* logits, int64_t n, int64_t v, int64_t stride, const int64_t* targets,
                      float temperature, float* logprob, float* entropy, float* logsumexp) {
  const float inv_temp = 1.0f / temperature;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const T* row = logits + i * stride;
    const RowStats st = row_stats_of(row, v, inv_temp);
    const double lse = st.lse();
    if (logsumexp) logsumexp[i] = static_cast<float>(lse);
    // base-2 sums turned back into natural units round by a few ulp: a log-prob stays <= 0 and an
    // entropy >= 0, as the tests and callers (and probability itself) require
    if (entropy) entropy[i] = static_cast<float>(std::fmax(0.0, st.entropy()));
    if (targets && logprob) logprob[i] = static_cast<float>(std::fmin(0.0, load1(row + targets[i]) * inv_temp - lse));
  }
}
}  // namespace
}  // namespace arpo

ARPO_API int arpo_token_stats(const void* logits, arpo_dtype dtype, int64_t n, int64_t v, int64_t row_stride,
                              const int64_t* targets, float temperature, float* logprob, float* entropy,
                              float* logsumexp) {
  if (!logits || n <= 0 || v <= 0 || row_stride < v) return arpo::fail("token_stats: bad logits shape");
  if (!(temperature > 0.0f) || !std::isfinite(temperature)) return arpo::fail("token_stats: temperature must be > 0");
  if (dtype == ARPO_F32) {
    arpo::token_stats_rows(static_cast<const float*>(logits), n, v, row_stride, targets, temperature, logprob, entropy, logsumexp);
  } else if (dtype == ARPO_BF16) {
    arpo::token_stats_rows(static_cast<const uint16_t*>(logits), n, v, row_stride, targets, temperature, logprob, entropy, logsumexp);
  } else {
    return arpo::fail("token_stats: unknown dtype");
  }
  return ARPO_OK;
}
