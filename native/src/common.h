// Shared pieces of the CPU kernels: SIMD vector type, exp2, bf16 conversion, the chunked
// softmax row statistics, error reporting.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "arpo4j.h"

#define ARPO_API extern "C" __attribute__((visibility("default")))
// Each hot row function is compiled three times; the loader picks the best for the CPU.
#define ARPO_SIMD __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define ARPO_INLINE inline __attribute__((always_inline))

namespace arpo {

// One AVX-512 register; the AVX2 build does each operation on two registers, the baseline on four.
constexpr int kLanes = 16;
typedef float vf __attribute__((vector_size(kLanes * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(kLanes * sizeof(int32_t))));
typedef uint32_t vu __attribute__((vector_size(kLanes * sizeof(uint32_t))));
typedef uint16_t vh __attribute__((vector_size(kLanes * sizeof(uint16_t))));

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

int fail(const char* message);

ARPO_INLINE float bf16_to_float(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

ARPO_INLINE uint16_t float_to_bf16(float f) {  // round to nearest even
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

ARPO_INLINE vf splat(float x) { return vf{} + x; }

// Loads kLanes logits as floats from fp32 or bf16 memory.
ARPO_INLINE vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
ARPO_INLINE vf load(const uint16_t* p) {
  vh h;
  std::memcpy(&h, p, sizeof h);
  vi bits = __builtin_convertvector(h, vi) << 16;
  vf v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}
// Loads 2 * kLanes logits as two vectors of floats in some order (for order-free reductions):
// from bf16, each 32-bit word holds two logits, which a shift and a mask turn into floats.
ARPO_INLINE void load_pair(const float* p, vf& a, vf& b) {
  a = load(p);
  b = load(p + kLanes);
}
ARPO_INLINE void load_pair(const uint16_t* p, vf& a, vf& b) {
  vu w;
  std::memcpy(&w, p, sizeof w);
  const vu even = w << 16, odd = w & 0xFFFF0000u;
  std::memcpy(&a, &even, sizeof a);
  std::memcpy(&b, &odd, sizeof b);
}
ARPO_INLINE float load1(const float* p) { return *p; }
ARPO_INLINE float load1(const uint16_t* p) { return bf16_to_float(*p); }

ARPO_INLINE void store(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
ARPO_INLINE void store(uint16_t* p, vf v) {
  vi bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits = bits + 0x7FFF + ((bits >> 16) & 1);
  vh h = __builtin_convertvector((bits >> 16) & 0xFFFF, vh);
  std::memcpy(p, &h, sizeof h);
}
ARPO_INLINE void store1(float* p, float x) { *p = x; }
ARPO_INLINE void store1(uint16_t* p, float x) { *p = float_to_bf16(x); }

// log2(e) and ln(2): the kernels take softmaxes in base 2, 2^(z * inv_temp * log2(e) - m2), so
// one FMA per element gives exp2's argument; their sums are turned back into natural units once.
constexpr float kLog2e = 1.44269504088896341f;
constexpr double kLn2 = 0.693147180559945309417;
// exp2 returns 0 below this (2^-126 is the smallest normal float, e^-87.34).
constexpr float kExp2Floor = -127.0f;

// 2^x for kExp2Floor <= x <= 127, the one exp of the CPU kernels; V is float or a vector of
// floats (compiled per SIMD level with its caller). x = n + f with n an integer and |f| <= 1/2;
// 2^f is a degree-6 polynomial (coefficients fitted to minimise the relative error on
// [-1/2, 1/2]; in fp32 within about 1e-7 of 2^f, measured by native/tests/simd_check.cpp), 2^n is
// written into the exponent bits. x < -126.5 gives exactly 0 (at n = -127 2^n's bits are 0).
// Callers clamp x with exp2_floor first (kernels that weight by x need the clamped x too).
template <typename V, typename U>
ARPO_INLINE V exp2_above_floor(V x) {
  // Adding 1.5 * 2^23 rounds x to the nearest integer n and leaves n in the low mantissa bits.
  const V shifted = x + 12582912.0f;
  const V n = shifted - 12582912.0f;
  const V f = x - n;
  V p = V{} + 1.5353362e-4f;
  p = p * f + 1.3398875e-3f;
  p = p * f + 9.6184369e-3f;
  p = p * f + 5.5503324e-2f;
  p = p * f + 2.4022648e-1f;
  p = p * f + 6.9314718e-1f;
  p = p * f + 1.0f;
  // The shift drops the 1.5 * 2^23 bits and moves n into the exponent field: (n + 127) << 23.
  U bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  bits = (bits << 23) + 0x3F800000u;
  V scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}
ARPO_INLINE vf exp2_floor(vf x) { return x < splat(kExp2Floor) ? splat(kExp2Floor) : x; }
ARPO_INLINE float exp2_floor(float x) { return x < kExp2Floor ? kExp2Floor : x; }
ARPO_INLINE vf vexp2(vf x) { return exp2_above_floor<vf, vu>(exp2_floor(x)); }
ARPO_INLINE float exp2_scalar(float x) { return exp2_above_floor<float, uint32_t>(exp2_floor(x)); }

ARPO_INLINE float hmax(vf v) {
  float m = v[0];
  for (int i = 1; i < kLanes; ++i) m = v[i] > m ? v[i] : m;
  return m;
}
ARPO_INLINE float hsum(vf v) {
  float s = 0;
  for (int i = 0; i < kLanes; ++i) s += v[i];
  return s;
}

// Softmax statistics of s = z * inv_temp over one row, relative to the row max m:
//   sum = sum_j exp(s_j - m),  wsum = sum_j exp(s_j - m) (s_j - m)
// so that lse = m + log(sum) and entropy = log(sum) - wsum / sum. top is the largest logit z.
struct RowStats {
  double max = -INFINITY;
  double sum = 0;
  double wsum = 0;
  float top = kNegInf;

  // Folds in a chunk's statistics taken relative to the chunk max cm.
  ARPO_INLINE void merge(double cm, double csum, double cwsum) {
    if (cm == -INFINITY) return;
    if (max == -INFINITY) {
      max = cm; sum = csum; wsum = cwsum;
      return;
    }
    double m = max > cm ? max : cm;
    double a = std::exp(max - m), b = std::exp(cm - m);
    wsum = a * (wsum + sum * (max - m)) + b * (cwsum + csum * (cm - m));
    sum = a * sum + b * csum;
    max = m;
  }
  double lse() const { return max + std::log(sum); }
  double entropy() const { return std::log(sum) - wsum / sum; }
};

// Chunk size in elements: a chunk is fetched into L1 while the previous chunk's exps are
// computed, then read twice from there (its max, its exps).
constexpr int64_t kChunk = 4096;

// The row's RowStats, chunk by chunk: the chunk's largest logit, then, while the chunk is still
// in L1, 2^x and 2^x * x for x = z * scale2 - m2 (scale2 = inv_temp * log2(e), m2 = the chunk max
// of z * scale2), which are e^(s - m) and e^(s - m) (s - m) / ln 2.
template <typename T>
ARPO_INLINE RowStats row_stats(const T* row, int64_t v, float inv_temp) {
  RowStats st;
  const float scale2 = inv_temp * kLog2e;
  const vf vscale2 = splat(scale2);
  for (int64_t c0 = 0; c0 < v; c0 += kChunk) {
    const int64_t len = (v - c0) < kChunk ? (v - c0) : kChunk;
    const int64_t vec_end = len - len % kLanes;
    const T* p = row + c0;
    // Two accumulators per loop hide the latency of the max / FMA dependency chains.
    const int64_t pair_end = len - len % (2 * kLanes);
    vf vm0 = splat(kNegInf), vm1 = splat(kNegInf);
    for (int64_t j = 0; j < pair_end; j += 2 * kLanes) {
      vf z0, z1;
      load_pair(p + j, z0, z1);
      vm0 = z0 > vm0 ? z0 : vm0;
      vm1 = z1 > vm1 ? z1 : vm1;
    }
    for (int64_t j = pair_end; j < vec_end; j += kLanes) {
      vf z = load(p + j);
      vm0 = z > vm0 ? z : vm0;
    }
    vm0 = vm1 > vm0 ? vm1 : vm0;
    float top = hmax(vm0);
    for (int64_t j = vec_end; j < len; ++j) {
      float z = load1(p + j);
      top = z > top ? z : top;
    }
    if (top == kNegInf) continue;
    st.top = top > st.top ? top : st.top;
    const float m2 = top * scale2;
    const vf vm2 = splat(m2);
    vf vs0 = splat(0.0f), vw0 = splat(0.0f), vs1 = splat(0.0f), vw1 = splat(0.0f);
    // The next chunk is fetched while this one's exps are computed, so memory and arithmetic
    // overlap instead of taking turns (its max pass then reads it from cache).
    const T* next = p + kChunk;
    const int64_t next_len = v - c0 - kChunk;
    for (int64_t j = 0; j < pair_end; j += 2 * kLanes) {
      if (j < next_len) __builtin_prefetch(next + j, 0, 3);
      if (sizeof(T) == 4 && j + kLanes < next_len) __builtin_prefetch(next + j + kLanes, 0, 3);
      vf z0, z1;
      load_pair(p + j, z0, z1);
      vf x0 = z0 * vscale2 - vm2, x1 = z1 * vscale2 - vm2;
      // clamped for the weighted sum too: 2^x is 0 there, and 0 * -inf is not
      x0 = exp2_floor(x0);
      x1 = exp2_floor(x1);
      vf e0 = exp2_above_floor<vf, vu>(x0), e1 = exp2_above_floor<vf, vu>(x1);
      vs0 += e0;
      vs1 += e1;
      vw0 += e0 * x0;
      vw1 += e1 * x1;
    }
    for (int64_t j = pair_end; j < vec_end; j += kLanes) {
      vf x = load(p + j) * vscale2 - vm2;
      x = exp2_floor(x);
      vf e = exp2_above_floor<vf, vu>(x);
      vs0 += e;
      vw0 += e * x;
    }
    double csum = hsum(vs0 + vs1), cwsum = hsum(vw0 + vw1);
    for (int64_t j = vec_end; j < len; ++j) {
      float x = load1(p + j) * scale2 - m2;
      x = exp2_floor(x);
      float e = exp2_above_floor<float, uint32_t>(x);
      csum += e;
      cwsum += static_cast<double>(e) * x;
    }
    st.merge(kLn2 * m2, csum, kLn2 * cwsum);
  }
  return st;
}

// The per-row entry points, compiled per SIMD level. (OpenMP loops call these rather than
// living inside a cloned function: an outlined OpenMP body would not inherit the clone's ISA.)
RowStats row_stats_f32(const float* row, int64_t v, float inv_temp);
RowStats row_stats_bf16(const uint16_t* row, int64_t v, float inv_temp);
ARPO_INLINE RowStats row_stats_of(const float* row, int64_t v, float inv_temp) { return row_stats_f32(row, v, inv_temp); }
ARPO_INLINE RowStats row_stats_of(const uint16_t* row, int64_t v, float inv_temp) { return row_stats_bf16(row, v, inv_temp); }

}  // namespace arpo
