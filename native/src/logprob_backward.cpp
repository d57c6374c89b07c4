// logprob_backward: d(g_lp * logprob + g_h * entropy)/d logits, written over the logits.
#include "common.h"

namespace arpo {
namespace {

// p_j = 2^((s_j - lse) log2(e)) by the kernels' exp2; log p_j below exp2's floor (p_j = 0 there)
// is clamped to the floor so that p_j log p_j is 0, not 0 * -inf.
constexpr float kLogpFloor = kExp2Floor / kLog2e;

template <typename T>
ARPO_INLINE void backward_row(T* row, int64_t v, int64_t target, float inv_temp, float lse, float h, float g_lp,
                              float g_h) {
  // The target's own gradient needs its logit, which the vector loop overwrites: keep it.
  const float s_target = load1(row + target) * inv_temp;
  const int64_t vec_end = v - v % kLanes;
  const vf vt = splat(inv_temp), vlse = splat(lse), vh = splat(h), vfloor = splat(kLogpFloor);
  const vf vglp = splat(g_lp * inv_temp), vgh = splat(g_h * inv_temp);
  for (int64_t j = 0; j < vec_end; j += kLanes) {
    vf logp = load(row + j) * vt - vlse;
    logp = logp < vfloor ? vfloor : logp;
    vf p = vexp2(logp * kLog2e);
    store(row + j, -vglp * p - vgh * p * (logp + vh));
  }
  for (int64_t j = vec_end; j < v; ++j) {
    float logp = load1(row + j) * inv_temp - lse;
    logp = logp < kLogpFloor ? kLogpFloor : logp;
    float p = exp2_scalar(logp * kLog2e);
    store1(row + j, -g_lp * inv_temp * p - g_h * inv_temp * p * (logp + h));
  }
  float logp = s_target - lse;
  logp = logp < kLogpFloor ? kLogpFloor : logp;
  const float p = exp2_scalar(logp * kLog2e);
  store1(row + target, g_lp * inv_temp * (1.0f - p) - g_h * inv_temp * p * (logp + h));
}

ARPO_SIMD void backward_row_f32(float* row, int64_t v, int64_t target, float inv_temp, float lse, float h, float g_lp,
                                float g_h) {
  backward_row(row, v, target, inv_temp, lse, h, g_lp, g_h);
}
ARPO_SIMD void backward_row_bf16(uint16_t* row, int64_t v, int64_t target, float inv_temp, float lse, float h,
                                 float g_lp, float g_h) {
  backward_row(row, v, target, inv_temp, lse, h, g_lp, g_h);
}
inline void backward_row_of(float* row, int64_t v, int64_t target, float inv_temp, float lse, float h, float g_lp, float g_h) {
  backward_row_f32(row, v, target, inv_temp, lse, h, g_lp, g_h);
}
inline void backward_row_of(uint16_t* row, int64_t v, int64_t target, float inv_temp, float lse, float h, float g_lp, float g_h) {
  backward_row_bf16(row, v, target, inv_temp, lse, h, g_lp, g_h);
}

template <typename T>
void backward_rows(T* logits, int64_t n, int64_t v, int64_t stride, const int64_t* targets, const float* logsumexp,
                   const float* entropy, const float* grad_logprob, const float* grad_entropy, float temperature) {
  const float inv_temp = 1.0f / temperature;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float g_h = grad_entropy ? grad_entropy[i] : 0.0f;
    const float h = grad_entropy ? entropy[i] : 0.0f;
    backward_row_of(logits + i * stride, v, targets[i], inv_temp, logsumexp[i], h, grad_logprob[i], g_h);
  }
}

}  // namespace
}  // namespace arpo

ARPO_API int arpo_logprob_backward(void* logits, arpo_dtype dtype, int64_t n, int64_t v, int64_t row_stride,
                                   const int64_t* targets, const float* logsumexp, const float* entropy,
                                   const float* grad_logprob, const float* grad_entropy, float temperature) {
  if (!logits || !targets || !logsumexp || !grad_logprob) return arpo::fail("logprob_backward: null pointer");
  if (grad_entropy && !entropy) return arpo::fail("logprob_backward: grad_entropy needs entropy");
  if (n <= 0 || v <= 0 || row_stride < v) return arpo::fail("logprob_backward: bad logits shape");
  if (!(temperature > 0.0f) || !std::isfinite(temperature)) return arpo::fail("logprob_backward: temperature must be > 0");
  if (dtype == ARPO_F32) {
    arpo::backward_rows(static_cast<float*>(logits), n, v, row_stride, targets, logsumexp, entropy, grad_logprob, grad_entropy, temperature);
  } else if (dtype == ARPO_BF16) {
    arpo::backward_rows(static_cast<uint16_t*>(logits), n, v, row_stride, targets, logsumexp, entropy, grad_logprob, grad_entropy, temperature);
  } else {
    return arpo::fail("logprob_backward: unknown dtype");
  }
  return ARPO_OK;
}
