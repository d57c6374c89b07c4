// sample: temperature softmax + top-k + top-p + inverse-CDF draw, with the full-vocabulary
// entropy and log-prob of the drawn token under the unfiltered temperature distribution.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "arpo4j_philox.h"
#include "common.h"

namespace arpo {

// exp(s_j - max) for entries with s_j >= floor (0 for the others), into out when not null;
// returns their sum. Computed as 2^(z_j * scale2 - m2) like row_stats, with scale2 = inv_temp *
// log2(e) and m2 = top * scale2 (top: the row's largest logit), so that with no filter these are
// the terms of the row's RowStats sum. Vectorised; compiled per SIMD level.
template <typename T>
ARPO_INLINE double kept_exp_impl(const T* p, int64_t len, float inv_temp, float top, float floor, float* out) {
  const int64_t vec_end = len - len % kLanes;
  const float scale2 = inv_temp * kLog2e, m2 = top * scale2;
  const vf vt = splat(inv_temp), vscale2 = splat(scale2), vm2 = splat(m2), vfloor = splat(floor);
  vf acc = splat(0.0f);
  for (int64_t j = 0; j < vec_end; j += kLanes) {
    vf z = load(p + j);
    vf e = vexp2(z * vscale2 - vm2);
    e = z * vt >= vfloor ? e : splat(0.0f);
    acc += e;
    if (out) store(out + j, e);
  }
  double sum = hsum(acc);
  for (int64_t j = vec_end; j < len; ++j) {
    float z = load1(p + j);
    float e = z * inv_temp >= floor ? exp2_scalar(z * scale2 - m2) : 0.0f;
    sum += e;
    if (out) out[j] = e;
  }
  return sum;
}
ARPO_SIMD double kept_exp_f32(const float* p, int64_t len, float inv_temp, float top, float floor, float* out) {
  return kept_exp_impl(p, len, inv_temp, top, floor, out);
}
ARPO_SIMD double kept_exp_bf16(const uint16_t* p, int64_t len, float inv_temp, float top, float floor, float* out) {
  return kept_exp_impl(p, len, inv_temp, top, floor, out);
}

namespace {

inline double kept_exp(const float* p, int64_t len, float inv_temp, float top, float floor, float* out) {
  return kept_exp_f32(p, len, inv_temp, top, floor, out);
}
inline double kept_exp(const uint16_t* p, int64_t len, float inv_temp, float top, float floor, float* out) {
  return kept_exp_bf16(p, len, inv_temp, top, floor, out);
}

// Largest-first threshold in s-space keeping the top k entries (ties at the threshold kept).
template <typename T>
float top_k_threshold(const T* row, int64_t v, float inv_temp, int32_t k, std::vector<float>& scratch) {
  scratch.resize(v);
  for (int64_t j = 0; j < v; ++j) scratch[j] = load1(row + j) * inv_temp;
  std::nth_element(scratch.begin(), scratch.begin() + (k - 1), scratch.end(), std::greater<float>());
  return scratch[k - 1];
}

// Nucleus threshold: the smallest set of top entries (among s >= floor) whose mass reaches
// top_p of the mass above floor. Only entries near the max are sorted: candidates within
// `width` of the max are tried first and the window widens until it holds enough mass, so the
// answer is exact without sorting the whole vocabulary.
template <typename T>
float top_p_threshold(const T* row, int64_t v, float inv_temp, float top, float floor, float top_p,
                      std::vector<float>& scratch) {
  double kept_mass = 0;
  for (int64_t c0 = 0; c0 < v; c0 += kChunk) {
    kept_mass += kept_exp(row + c0, std::min(kChunk, v - c0), inv_temp, top, floor, nullptr);
  }
  const float max = top * inv_temp;
  const double target = top_p * kept_mass;
  for (float width = 8.0f;; width *= 2.0f) {
    const float cut = std::max(floor, max - width);
    scratch.clear();
    double mass = 0;
    for (int64_t j = 0; j < v; ++j) {
      float s = load1(row + j) * inv_temp;
      if (s >= cut) {
        scratch.push_back(s);
        mass += std::exp(static_cast<double>(s) - max);
      }
    }
    if (mass >= target || cut == floor || !std::isfinite(width)) {
      std::sort(scratch.begin(), scratch.end(), std::greater<float>());
      double acc = 0;
      for (float s : scratch) {
        acc += std::exp(static_cast<double>(s) - max);
        if (acc >= target) return s;
      }
      return scratch.empty() ? floor : scratch.back();
    }
  }
}

template <typename T>
void sample_row(const T* row, int64_t v, float temperature, float top_p, int32_t top_k, uint64_t seed,
                uint64_t step, int64_t index, int64_t* token, float* logprob, float* entropy,
                std::vector<float>& scratch) {
  const float inv_temp = temperature > 0.0f ? 1.0f / temperature : 1.0f;
  const RowStats st = row_stats_of(row, v, inv_temp);
  const double lse = st.lse();
  int64_t chosen = -1;
  if (temperature == 0.0f) {
    for (int64_t j = 0; j < v && chosen < 0; ++j) {
      if (load1(row + j) == st.top) chosen = j;
    }
  } else {
    const float top = st.top;
    float floor = kNegInf;
    if (top_k > 0 && top_k < v) floor = top_k_threshold(row, v, inv_temp, top_k, scratch);
    if (top_p < 1.0f) floor = top_p_threshold(row, v, inv_temp, top, floor, top_p, scratch);
    // Inverse CDF in index order over the kept entries, chunk by chunk: the exp of a chunk
    // is computed once (vectorised) into a buffer, summed, and scanned only if u falls in it.
    double mass = st.sum;  // without filtering the row statistics already hold the mass
    if (floor != kNegInf) {
      mass = 0;
      for (int64_t c0 = 0; c0 < v; c0 += kChunk) {
        mass += kept_exp(row + c0, std::min(kChunk, v - c0), inv_temp, top, floor, nullptr);
      }
    }
    const double target = arpo_philox_uniform(seed, step, static_cast<uint64_t>(index)) * mass;
    double acc = 0;
    int64_t last_kept = -1;
    float buf[kChunk];
    for (int64_t c0 = 0; c0 < v && chosen < 0; c0 += kChunk) {
      const int64_t len = std::min(kChunk, v - c0);
      const double chunk_mass = kept_exp(row + c0, len, inv_temp, top, floor, buf);
      if (acc + chunk_mass <= target) {
        acc += chunk_mass;
        for (int64_t j = len - 1; j >= 0 && chunk_mass > 0; --j) {
          if (buf[j] > 0.0f) { last_kept = c0 + j; break; }
        }
        continue;
      }
      for (int64_t j = 0; j < len; ++j) {
        if (buf[j] == 0.0f) continue;
        last_kept = c0 + j;
        acc += buf[j];
        if (acc > target) { chosen = c0 + j; break; }
      }
    }
    if (chosen < 0) chosen = last_kept;  // rounding left u*mass just past the last kept token
  }
  token[index] = chosen;
  // clamped as in token_stats: the base-2 sums' rounding must not make a log-prob positive
  if (logprob) logprob[index] = static_cast<float>(std::fmin(0.0, load1(row + chosen) * inv_temp - lse));
  if (entropy) entropy[index] = static_cast<float>(std::fmax(0.0, st.entropy()));
}

// Logits per thread below which a thread more costs more than it takes over (a row of a 2K-token
// vocabulary is a few microseconds; waking a thread, tens).
constexpr int64_t kMinLogitsPerThread = 1 << 16;

template <typename T>
void sample_rows(const T* logits, int64_t b, int64_t v, int64_t stride, float temperature, float top_p,
                 int32_t top_k, uint64_t seed, uint64_t step, int64_t* token, float* logprob, float* entropy) {
  const int64_t by_size = std::max<int64_t>(1, std::min(b, b * v / kMinLogitsPerThread));  // whole rows per thread
  const int threads = static_cast<int>(std::min<int64_t>(omp_get_max_threads(), by_size));
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> scratch;
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < b; ++i) {
      sample_row(logits + i * stride, v, temperature, top_p, top_k, seed, step, i, token, logprob, entropy, scratch);
    }
  }
}

}  // namespace
}  // namespace arpo

ARPO_API int arpo_sample(const void* logits, arpo_dtype dtype, int64_t b, int64_t v, int64_t row_stride,
                         float temperature, float top_p, int32_t top_k, uint64_t seed, uint64_t step,
                         int64_t* token, float* logprob, float* entropy) {
  if (!logits || !token || b <= 0 || v <= 0 || row_stride < v) return arpo::fail("sample: bad logits shape");
  if (!(temperature >= 0.0f) || !std::isfinite(temperature)) return arpo::fail("sample: temperature must be >= 0");
  if (!(top_p > 0.0f && top_p <= 1.0f)) return arpo::fail("sample: top_p must be in (0, 1]");
  if (top_k < 0) return arpo::fail("sample: top_k must be >= 0");
  if (dtype == ARPO_F32) {
    arpo::sample_rows(static_cast<const float*>(logits), b, v, row_stride, temperature, top_p, top_k, seed, step, token, logprob, entropy);
  } else if (dtype == ARPO_BF16) {
    arpo::sample_rows(static_cast<const uint16_t*>(logits), b, v, row_stride, temperature, top_p, top_k, seed, step, token, logprob, entropy);
  } else {
    return arpo::fail("sample: unknown dtype");
  }
  return ARPO_OK;
}
