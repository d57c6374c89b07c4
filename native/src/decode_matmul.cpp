// decode_matmul: y[b, n] = sum_k x[b, k] W[n, k] (+ bias[n]) for the few rows of a decode step.
//
// A decode step multiplies 1-64 activation rows by every weight matrix of the model, so its speed
// is the speed at which the weights stream from memory. Each weight is read from memory once per
// call for all rows: the weight rows are walked in tiles of kTileN, and every row of x is
// multiplied against the tile while the tile is in cache (kTileB rows of x at a time, their
// accumulators in registers). The output features n are split between threads.
//
// Weights are fp32 or bf16. bf16 weights multiply bf16 activations: each call rounds its rows of x
// to bf16 (to nearest even) once, as a bf16 model's activations are, so the products are exact in
// fp32 and every path computes the same ones, differing only in the order of the fp32 sums. Where
// the CPU has AVX512_BF16, vdpbf16ps multiplies pairs of them straight from the bf16 weights
// (twice the fp32 FMA's work per instruction); elsewhere the bf16 values are widened to fp32 in
// registers (a 16-bit shift, exact). fp32 weights keep fp32 activations and arithmetic.
// On that path bf16 weights may also come packed (ARPO_BF16_PACKED, arpo_pack_bf16): blocks of 64
// outputs holding each column pair's 64 weight pairs side by side, so that one vdpbf16ps multiplies
// 16 outputs by a broadcast pair of x and no output ends in a sum across lanes (16 rows: 371 -> 722
// GFLOP/s over 35 MB of weights; 499-542 over the 280 MB the harness below now times).
//
// Instruction sets, picked at run time (arpo_decode_matmul's isa argument can force one, for the
// tests): AVX-512 with AVX512_BF16, AVX-512 (F + BW), AVX2 + FMA, and a portable scalar loop.
#include <omp.h>

// GCC 12's AVX-512 intrinsics start from _mm*_undefined_*() values and trip
// -Wmaybe-uninitialized (-Wuninitialized in the harness below) inside its own header once inlined.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "decode_matmul.h"

namespace arpo {
namespace {

// activation rows whose accumulators live in registers at once: kTileN * kTileB accumulators
// plus kTileN weight vectors fit AVX-512's 32 registers, and AVX2's 16 at two rows
constexpr int kTileB = 4;
constexpr int kTileBAvx2 = 2;
// Below this many weights per thread a thread costs more to wake than its share of the reads.
constexpr int64_t kMinWeightsPerThread = 1 << 16;

ARPO_INLINE float weight_at(const Problem& p, int64_t row, int64_t col) {
  return p.dtype == ARPO_F32 ? static_cast<const float*>(p.weight)[row * p.k + col]
                             : bf16_to_float(static_cast<const uint16_t*>(p.weight)[row * p.k + col]);
}

ARPO_INLINE void store_out(const Problem& p, int64_t b, int64_t row, float sum) {
  float* out = p.y + b * p.n + row;
  if (p.bias) sum += p.bias[row];
  *out = p.accumulate ? *out + sum : sum;
}

// The bits of x rounded to bf16 (to nearest even, as float_to_bf16), in the upper half; a NaN stays
// a (quiet) NaN instead of rounding into the infinities, as in libtorch's conversion.
ARPO_INLINE uint32_t bf16_rounded_bits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
  return (bits & 0x7FFFFFFFu) > 0x7F800000u ? (bits | 0x00400000u) & 0xFFFF0000u : rounded;
}

// p's rows of x rounded to bf16 values, into `rounded` (rows x k, contiguous): the x of p's bf16
// products. Inlined into each path's kernel, so that the loop is vectorised for its instruction set.
ARPO_INLINE Problem with_bf16_activations(const Problem& p, std::vector<float>& rounded) {
  rounded.resize(static_cast<size_t>(p.rows * p.k));
  for (int64_t b = 0; b < p.rows; ++b) {
    const float* in = p.x + b * p.x_stride;
    float* out = rounded.data() + b * p.k;
    for (int64_t c = 0; c < p.k; ++c) {
      const uint32_t bits = bf16_rounded_bits(in[c]);
      std::memcpy(out + c, &bits, sizeof bits);
    }
  }
  Problem q = p;
  q.x = rounded.data();
  q.x_stride = p.k;
  return q;
}

// typed(problem, weights) with p's weights as their element type; for bf16, p's x rounded to bf16.
template <typename Typed>
ARPO_INLINE void by_weight_type(const Problem& p, Typed typed) {
  if (p.dtype == ARPO_F32) {
    typed(p, static_cast<const float*>(p.weight));
  } else {
    thread_local std::vector<float> rounded;
    typed(with_bf16_activations(p, rounded), static_cast<const uint16_t*>(p.weight));
  }
}

// ---- scalar ------------------------------------------------------------------------------------

void rows_scalar(const Problem& given, int64_t n0, int64_t n1) {
  thread_local std::vector<float> rounded;
  const Problem p = given.dtype == ARPO_BF16 ? with_bf16_activations(given, rounded) : given;
  for (int64_t j = n0; j < n1; ++j) {
    for (int64_t b = 0; b < p.rows; ++b) {
      const float* xr = p.x + b * p.x_stride;
      float sum = 0.0f;
      for (int64_t c = 0; c < p.k; ++c) sum += xr[c] * weight_at(p, j, c);
      store_out(p, b, j, sum);
    }
  }
}

// ---- AVX2 + FMA --------------------------------------------------------------------------------

#define ARPO_AVX2 __attribute__((target("avx2,fma")))

ARPO_AVX2 ARPO_INLINE __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
ARPO_AVX2 ARPO_INLINE __m256 load8(const uint16_t* p) {
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
ARPO_AVX2 ARPO_INLINE float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// One tile: NT weight rows from w (row length k) times BT rows of x.
template <int NT, int BT, typename W>
ARPO_AVX2 ARPO_INLINE void tile_avx2(const Problem& p, const W* w, int64_t j, int64_t b) {
  __m256 acc[NT][BT];
  #pragma GCC unroll 4
  for (int i = 0; i < NT; ++i)
    #pragma GCC unroll 4
    for (int r = 0; r < BT; ++r) acc[i][r] = _mm256_setzero_ps();
  const int64_t k = p.k, vec_end = k - k % 8;
  const float* xs[BT];
  #pragma GCC unroll 4
  for (int r = 0; r < BT; ++r) xs[r] = p.x + (b + r) * p.x_stride;
  for (int64_t c = 0; c < vec_end; c += 8) {
    __m256 wv[NT];
    #pragma GCC unroll 4
    for (int i = 0; i < NT; ++i) {
      wv[i] = load8(w + (j + i) * k + c);
      if (c % 16 == 0) __builtin_prefetch(w + (j + i + NT) * k + c, 0, 0);  // see tile_avx512
    }
    #pragma GCC unroll 4
    for (int r = 0; r < BT; ++r) {
      __m256 xv = _mm256_loadu_ps(xs[r] + c);
      #pragma GCC unroll 4
      for (int i = 0; i < NT; ++i) acc[i][r] = _mm256_fmadd_ps(wv[i], xv, acc[i][r]);
    }
  }
  #pragma GCC unroll 4
  for (int i = 0; i < NT; ++i) {
    #pragma GCC unroll 4
    for (int r = 0; r < BT; ++r) {
      float sum = hsum8(acc[i][r]);
      for (int64_t c = vec_end; c < k; ++c) sum += xs[r][c] * weight_at(p, j + i, c);
      store_out(p, b + r, j + i, sum);
    }
  }
}

template <int NT, typename W>
ARPO_AVX2 void tile_rows_avx2(const Problem& p, const W* w, int64_t j) {
  int64_t b = 0;
  for (; b + kTileBAvx2 <= p.rows; b += kTileBAvx2) tile_avx2<NT, kTileBAvx2>(p, w, j, b);
  if (b < p.rows) tile_avx2<NT, 1>(p, w, j, b);
}

template <typename W>
ARPO_AVX2 void rows_avx2_typed(const Problem& p, const W* w, int64_t n0, int64_t n1) {
  int64_t j = n0;
  for (; j + kTileN <= n1; j += kTileN) tile_rows_avx2<kTileN>(p, w, j);
  for (; j < n1; ++j) tile_rows_avx2<1>(p, w, j);
}

ARPO_AVX2 void rows_avx2(const Problem& p, int64_t n0, int64_t n1) {
  by_weight_type(p, [&](const Problem& q, const auto* w) ARPO_AVX2 { rows_avx2_typed(q, w, n0, n1); });
}

// ---- AVX-512 -----------------------------------------------------------------------------------

#define ARPO_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))

ARPO_AVX512 ARPO_INLINE float hsum16(__m512 v) {
  __m512 s = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
  return hsum8(_mm512_castps512_ps256(s));
}
ARPO_AVX512 ARPO_INLINE __m512 load16(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
ARPO_AVX512 ARPO_INLINE __m512 load16(const uint16_t* p, __mmask16 m) {
  __m256i h = _mm256_maskz_loadu_epi16(m, p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

template <int NT, int BT, typename W>
ARPO_AVX512 ARPO_INLINE void tile_avx512(const Problem& p, const W* w, int64_t j, int64_t b) {
  __m512 acc[NT][BT] = {};
  const int64_t k = p.k;
  const float* xs[BT];
  #pragma GCC unroll 4
  for (int r = 0; r < BT; ++r) xs[r] = p.x + (b + r) * p.x_stride;
  // one step over 16 columns; masked lanes read as 0
  auto step = [&](int64_t c, __mmask16 m) ARPO_AVX512 __attribute__((always_inline)) {
    __m512 wv[NT];
    #pragma GCC unroll 4
    for (int i = 0; i < NT; ++i) {
      wv[i] = load16(w + (j + i) * k + c, m);
      // The same line of the next tile: a tile's rows are short streams (a few KB) that the
      // hardware prefetcher barely starts on before they end; asking one tile ahead doubled the
      // GB/s streamed at one row (native harness, 2 threads: bf16 32-37 -> 60-71 GB/s).
      __builtin_prefetch(w + (j + i + NT) * k + c, 0, 0);
    }
    #pragma GCC unroll 4
    for (int r = 0; r < BT; ++r) {
      __m512 xv = _mm512_maskz_loadu_ps(m, xs[r] + c);
      #pragma GCC unroll 4
      for (int i = 0; i < NT; ++i) acc[i][r] = _mm512_fmadd_ps(wv[i], xv, acc[i][r]);
    }
  };
  const int64_t vec_end = k - k % 16;
  for (int64_t c = 0; c < vec_end; c += 16) step(c, static_cast<__mmask16>(0xFFFF));
  if (vec_end < k) step(vec_end, static_cast<__mmask16>((1u << (k - vec_end)) - 1u));
  #pragma GCC unroll 4
  for (int i = 0; i < NT; ++i)
    #pragma GCC unroll 4
    for (int r = 0; r < BT; ++r) store_out(p, b + r, j + i, hsum16(acc[i][r]));
}

template <int NT, typename W>
ARPO_AVX512 void tile_rows_avx512(const Problem& p, const W* w, int64_t j) {
  int64_t b = 0;
  for (; b + kTileB <= p.rows; b += kTileB) tile_avx512<NT, kTileB>(p, w, j, b);
  switch (p.rows - b) {
    case 3: tile_avx512<NT, 3>(p, w, j, b); break;
    case 2: tile_avx512<NT, 2>(p, w, j, b); break;
    case 1: tile_avx512<NT, 1>(p, w, j, b); break;
    default: break;
  }
}

template <typename W>
ARPO_AVX512 void rows_avx512_typed(const Problem& p, const W* w, int64_t n0, int64_t n1) {
  int64_t j = n0;
  for (; j + kTileN <= n1; j += kTileN) tile_rows_avx512<kTileN>(p, w, j);
  for (; j < n1; ++j) tile_rows_avx512<1>(p, w, j);
}

ARPO_AVX512 void rows_avx512(const Problem& p, int64_t n0, int64_t n1) {
  by_weight_type(p, [&](const Problem& q, const auto* w) ARPO_AVX512 { rows_avx512_typed(q, w, n0, n1); });
}

// ---- AVX-512 with AVX512_BF16 ------------------------------------------------------------------

#define ARPO_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")))

// Columns per vdpbf16ps: 16 fp32 lanes, each the sum of a pair of bf16 products.
constexpr int64_t kPairColumns = 32;

// One tile: NT weight rows from w times BT rows of xb (bf16, row stride kp, zero past k).
template <int NT, int BT>
ARPO_AVX512_BF16 ARPO_INLINE void tile_avx512_bf16(const Problem& p, const uint16_t* xb, int64_t kp,
                                                   const uint16_t* w, int64_t j, int64_t b) {
  __m512 acc[NT][BT] = {};
  const int64_t k = p.k;
  // one step over 32 columns; masked weight lanes read as 0 (and x is 0 past k)
  auto step = [&](int64_t c, __mmask32 m) ARPO_AVX512_BF16 __attribute__((always_inline)) {
    __m512i wv[NT];
    #pragma GCC unroll 4
    for (int i = 0; i < NT; ++i) {
      wv[i] = _mm512_maskz_loadu_epi16(m, w + (j + i) * k + c);
      __builtin_prefetch(w + (j + i + NT) * k + c, 0, 0);  // see tile_avx512
    }
    #pragma GCC unroll 4
    for (int r = 0; r < BT; ++r) {
      const __m512bh xv = reinterpret_cast<__m512bh>(_mm512_loadu_si512(xb + (b + r) * kp + c));
      #pragma GCC unroll 4
      for (int i = 0; i < NT; ++i) acc[i][r] = _mm512_dpbf16_ps(acc[i][r], xv, reinterpret_cast<__m512bh>(wv[i]));
    }
  };
  const int64_t vec_end = k - k % kPairColumns;
  for (int64_t c = 0; c < vec_end; c += kPairColumns) step(c, static_cast<__mmask32>(0xFFFFFFFFu));
  if (vec_end < k) step(vec_end, static_cast<__mmask32>((1u << (k - vec_end)) - 1u));
  #pragma GCC unroll 4
  for (int i = 0; i < NT; ++i)
    #pragma GCC unroll 4
    for (int r = 0; r < BT; ++r) store_out(p, b + r, j + i, hsum16(acc[i][r]));
}

template <int NT>
ARPO_AVX512_BF16 void tile_rows_avx512_bf16(const Problem& p, const uint16_t* xb, int64_t kp, const uint16_t* w,
                                            int64_t j) {
  int64_t b = 0;
  for (; b + kTileB <= p.rows; b += kTileB) tile_avx512_bf16<NT, kTileB>(p, xb, kp, w, j, b);
  switch (p.rows - b) {
    case 3: tile_avx512_bf16<NT, 3>(p, xb, kp, w, j, b); break;
    case 2: tile_avx512_bf16<NT, 2>(p, xb, kp, w, j, b); break;
    case 1: tile_avx512_bf16<NT, 1>(p, xb, kp, w, j, b); break;
    default: break;
  }
}

// Rows of packed-weight outputs per pass over a block: 6 x 4 accumulators and 4 weight vectors.
constexpr int kPackedRows = 6;

// Outputs j0..j0+63 of rows b..b+R-1 from block `block` of packed weights (ARPO_BF16_PACKED): per
// column pair, four vectors of 16 outputs' weight pairs, each multiplied by the rows' broadcast x
// pairs (xp: x as bf16 pairs, row stride `pairs_stride`); no sum across lanes.
template <int R>
ARPO_AVX512_BF16 ARPO_INLINE void packed_rows(const Problem& p, const uint32_t* xp, int64_t pairs_stride,
                                              const uint16_t* block, int64_t j0, int64_t b) {
  __m512 acc[R][4] = {};
  const int64_t pairs = p.k / 2;
  for (int64_t c = 0; c < pairs; ++c) {
    const uint16_t* w = block + c * 2 * kPackedN;
    __m512i wv[4];
    #pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      wv[i] = _mm512_loadu_si512(w + 32 * i);
      __builtin_prefetch(w + 8 * 2 * kPackedN + 32 * i, 0, 3);  // 8 pairs (2 KB) ahead, into the next block
    }
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512bh xv = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(xp[(b + r) * pairs_stride + c])));
      #pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) acc[r][i] = _mm512_dpbf16_ps(acc[r][i], xv, reinterpret_cast<__m512bh>(wv[i]));
    }
  }
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    float* out = p.y + (b + r) * p.n + j0;
    #pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      __m512 v = acc[r][i];
      if (p.bias) v = _mm512_add_ps(v, _mm512_loadu_ps(p.bias + j0 + 16 * i));
      if (p.accumulate) v = _mm512_add_ps(_mm512_loadu_ps(out + 16 * i), v);
      _mm512_storeu_ps(out + 16 * i, v);
    }
  }
}

ARPO_AVX512_BF16 void rows_packed(const Problem& p, const uint32_t* xp, int64_t pairs_stride, int64_t n0, int64_t n1) {
  const uint16_t* w = static_cast<const uint16_t*>(p.weight);
  for (int64_t j0 = n0; j0 < n1; j0 += kPackedN) {  // n0, n1: multiples of kPackedN
    const uint16_t* block = w + j0 * p.k;
    int64_t b = 0;
    for (; b + kPackedRows <= p.rows; b += kPackedRows) packed_rows<kPackedRows>(p, xp, pairs_stride, block, j0, b);
    switch (p.rows - b) {
      case 5: packed_rows<5>(p, xp, pairs_stride, block, j0, b); break;
      case 4: packed_rows<4>(p, xp, pairs_stride, block, j0, b); break;
      case 3: packed_rows<3>(p, xp, pairs_stride, block, j0, b); break;
      case 2: packed_rows<2>(p, xp, pairs_stride, block, j0, b); break;
      case 1: packed_rows<1>(p, xp, pairs_stride, block, j0, b); break;
      default: break;
    }
  }
}

ARPO_AVX512_BF16 void rows_avx512_bf16(const Problem& p, int64_t n0, int64_t n1) {
  if (p.dtype == ARPO_F32) {
    rows_avx512(p, n0, n1);
    return;
  }
  // x rounded to bf16 once per call, rows padded with zeros to whole vectors
  const int64_t kp = (p.k + kPairColumns - 1) / kPairColumns * kPairColumns;
  thread_local std::vector<uint16_t> xb;
  xb.resize(static_cast<size_t>(p.rows * kp));
  for (int64_t b = 0; b < p.rows; ++b) {
    const float* in = p.x + b * p.x_stride;
    uint16_t* out = xb.data() + b * kp;
    for (int64_t c = 0; c < p.k; ++c) out[c] = static_cast<uint16_t>(bf16_rounded_bits(in[c]) >> 16);
    std::fill(out + p.k, out + kp, uint16_t{0});
  }
  if (p.dtype == ARPO_BF16_PACKED) {
    rows_packed(p, reinterpret_cast<const uint32_t*>(xb.data()), kp / 2, n0, n1);
    return;
  }
  const uint16_t* w = static_cast<const uint16_t*>(p.weight);
  int64_t j = n0;
  for (; j + kTileN <= n1; j += kTileN) tile_rows_avx512_bf16<kTileN>(p, xb.data(), kp, w, j);
  for (; j < n1; ++j) tile_rows_avx512_bf16<1>(p, xb.data(), kp, w, j);
}

// ---- dispatch ----------------------------------------------------------------------------------

bool cpu_has(int isa) {
  switch (isa) {
    case ARPO_ISA_SCALAR: return true;
    case ARPO_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case ARPO_ISA_AVX512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                 __builtin_cpu_supports("avx512vl");
    case ARPO_ISA_AVX512_BF16: return cpu_has(ARPO_ISA_AVX512) && __builtin_cpu_supports("avx512bf16");
    default: return false;
  }
}

}  // namespace

bool decode_isa_supported(int isa) { return cpu_has(isa); }

int decode_best_isa() {
  static const int best = cpu_has(ARPO_ISA_AVX512_BF16) ? ARPO_ISA_AVX512_BF16
                          : cpu_has(ARPO_ISA_AVX512)      ? ARPO_ISA_AVX512
                          : cpu_has(ARPO_ISA_AVX2) ? ARPO_ISA_AVX2
                                                   : ARPO_ISA_SCALAR;
  return best;
}

DecodeRows decode_rows(int isa) {
  if (isa == ARPO_ISA_AUTO) isa = decode_best_isa();
  switch (isa) {
    case ARPO_ISA_AVX512_BF16: return rows_avx512_bf16;
    case ARPO_ISA_AVX512: return rows_avx512;
    case ARPO_ISA_AVX2: return rows_avx2;
    default: return rows_scalar;
  }
}

}  // namespace arpo

ARPO_API int arpo_decode_matmul_best_isa(void) { return arpo::decode_best_isa(); }

ARPO_API int arpo_decode_matmul_isa_supported(int32_t isa) { return arpo::decode_isa_supported(isa) ? 1 : 0; }

ARPO_API int arpo_decode_matmul(const float* x, int64_t rows, int64_t k, int64_t x_stride, const void* weight,
                                arpo_dtype weight_dtype, int64_t n, const float* bias, float* y,
                                int32_t num_threads, int32_t isa) {
  if (!x || !weight || !y) return arpo::fail("decode_matmul: null pointer");
  if (rows <= 0 || k <= 0 || n <= 0 || x_stride < k) return arpo::fail("decode_matmul: bad shape");
  if (!arpo::decode_dtype(weight_dtype)) return arpo::fail("decode_matmul: unknown dtype");
  if (isa == ARPO_ISA_AUTO) isa = arpo::decode_best_isa();
  if (!arpo::decode_isa_supported(isa)) return arpo::fail("decode_matmul: the CPU lacks the requested instruction set");
  if (weight_dtype == ARPO_BF16_PACKED) {
    if (isa != ARPO_ISA_AVX512_BF16) return arpo::fail("decode_matmul: packed bf16 weights need the AVX512_BF16 path");
    if (!arpo::packs(n, k)) return arpo::fail("decode_matmul: packed bf16 weights need n a multiple of 64 and k even");
  }
  const arpo::DecodeRows run = arpo::decode_rows(isa);
  const int64_t by_size = std::max<int64_t>(1, n * k / arpo::kMinWeightsPerThread);
  const int threads = static_cast<int>(std::min<int64_t>(num_threads > 0 ? num_threads : omp_get_max_threads(), by_size));
  const arpo::Problem p{x, rows, k, x_stride, weight, weight_dtype, n, bias, y, false};
  if (threads <= 1) {
    arpo::run_row_blocks(run, p, 0, n);
    return ARPO_OK;
  }
#pragma omp parallel num_threads(threads)
  {
    int64_t n0, n1;  // a contiguous range of whole tiles per thread
    arpo::tile_split(n, arpo::split_unit(p), omp_get_thread_num(), omp_get_num_threads(), n0, n1);
    if (n0 < n1) arpo::run_row_blocks(run, p, n0, n1);
  }
  return ARPO_OK;
}

ARPO_API int arpo_pack_bf16(const float* w, int64_t n, int64_t k, uint16_t* out) {
  if (!w || !out) return arpo::fail("pack_bf16: null pointer");
  if (n <= 0 || k <= 0 || !arpo::packs(n, k)) {
    return arpo::fail("pack_bf16: n must be a positive multiple of 64 and k positive and even");
  }
  const int64_t pairs = k / 2;
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < n; ++j) {
    uint16_t* block = out + j / arpo::kPackedN * arpo::kPackedN * k;
    const float* row = w + j * k;
    for (int64_t c = 0; c < pairs; ++c) {
      uint16_t* pair = block + (c * arpo::kPackedN + j % arpo::kPackedN) * 2;
      pair[0] = static_cast<uint16_t>(arpo::bf16_rounded_bits(row[2 * c]) >> 16);
      pair[1] = static_cast<uint16_t>(arpo::bf16_rounded_bits(row[2 * c + 1]) >> 16);
    }
  }
  return ARPO_OK;
}

#ifdef ARPO_DECODE_MATMUL_MAIN
// Self-check and timing on its own, in the manner of llm.c's kernel files: every path this CPU has
// against a float64 loop, then GB/s of weights streamed per path, dtype and row count.
//   g++ -O3 -fopenmp -std=c++17 -DARPO_DECODE_MATMUL_MAIN -Inative/include
//       native/src/decode_matmul.cpp native/src/errors.cpp -o decode_matmul && ./decode_matmul
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

// Twelve independent accumulators, each advanced `iterations` times by step; their sum.
template <typename Step>
ARPO_AVX512 ARPO_INLINE float run_chains(long iterations, Step step) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  for (long it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = step(acc[i]);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < 12; ++i) sum = _mm512_add_ps(sum, acc[i]);
  return arpo::hsum16(sum);
}

// The yardstick for rows where the products are bound by arithmetic, not by the weights' reads:
// fp32 FMA throughput of this CPU's AVX-512 units.
ARPO_AVX512 float fma_chains(long iterations) {
  const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-3f);
  return run_chains(iterations, [&](__m512 a) ARPO_AVX512 { return _mm512_fmadd_ps(a, b, c); });
}

// The same with vdpbf16ps (a pair of bf16 products per lane), AVX512_BF16's yardstick.
ARPO_AVX512_BF16 float dpbf16_chains(long iterations) {
  const __m512bh x = reinterpret_cast<__m512bh>(_mm512_set1_epi16(0x3f80)),
                 y = reinterpret_cast<__m512bh>(_mm512_set1_epi16(0x3a83));
  return run_chains(iterations, [&](__m512 a) ARPO_AVX512_BF16 { return _mm512_dpbf16_ps(a, x, y); });
}

// Runs chains (each iteration: twelve instructions of flops_per_instruction) on every OpenMP thread.
void print_peak(const char* what, float (*chains)(long), double flops_per_instruction) {
  const long iterations = 50000000;
  double sink = 0;
  const auto start = std::chrono::steady_clock::now();
  int threads = 1;
#pragma omp parallel reduction(+ : sink)
  {
    sink += chains(iterations);
#pragma omp single
    threads = omp_get_num_threads();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s peak, %d threads: %.0f GFLOP/s (check %g)\n", what, threads,
              threads * iterations * 12.0 * flops_per_instruction / seconds / 1e9, sink);
}

int main() {
  if (arpo_decode_matmul_isa_supported(ARPO_ISA_AVX512_BF16)) {
    print_peak("bf16 dot-product (vdpbf16ps)", dpbf16_chains, 32 * 2);
  }
  if (arpo_decode_matmul_isa_supported(ARPO_ISA_AVX512)) print_peak("fp32 FMA", fma_chains, 16 * 2);
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const char* names[] = {"auto", "scalar", "avx2", "avx512", "avx512bf16"};
  int failures = 0;
  for (int isa = ARPO_ISA_SCALAR; isa <= ARPO_ISA_AVX512_BF16; ++isa) {
    if (!arpo_decode_matmul_isa_supported(isa)) {
      std::printf("%s: not on this CPU, skipped\n", names[isa]);
      continue;
    }
    double worst = 0;
    const int last_dt = isa == ARPO_ISA_AVX512_BF16 ? ARPO_BF16_PACKED : ARPO_BF16;
    for (int dt = ARPO_F32; dt <= last_dt; ++dt)
      for (int rows : {1, 3, 16, 64})
        for (int k : dt == ARPO_BF16_PACKED ? std::vector<int>{2, 130, 1000} : std::vector<int>{7, 131, 1000})
          for (int n : dt == ARPO_BF16_PACKED ? std::vector<int>{64, 192} : std::vector<int>{5, 37, 67}) {
            const bool bf16 = dt != ARPO_F32;
            std::vector<float> x(rows * k), w(n * k), bias(n), y(rows * n);
            std::vector<uint16_t> wb(n * k);
            for (float& v : x) v = normal(rng);
            for (float& v : bias) v = normal(rng);
            for (int i = 0; i < n * k; ++i) {
              wb[i] = arpo::float_to_bf16(0.05f * normal(rng));
              w[i] = bf16 ? arpo::bf16_to_float(wb[i]) : 0.05f * normal(rng);
            }
            if (dt == ARPO_BF16_PACKED) arpo_pack_bf16(w.data(), n, k, wb.data());
            const void* weight = bf16 ? static_cast<const void*>(wb.data()) : w.data();
            if (arpo_decode_matmul(x.data(), rows, k, k, weight, static_cast<arpo_dtype>(dt), n, bias.data(),
                                   y.data(), 0, isa) != ARPO_OK) {
              std::printf("%s: %s\n", names[isa], arpo_last_error());
              return 1;
            }
            for (int b = 0; b < rows; ++b)
              for (int j = 0; j < n; ++j) {
                double ref = bias[j], scale = 0;
                for (int c = 0; c < k; ++c) {  // bf16 weights multiply x rounded to bf16
                  const float xb = x[b * k + c];
                  const double xc = bf16 ? arpo::bf16_to_float(arpo::float_to_bf16(xb)) : xb;
                  ref += xc * w[j * k + c];
                  scale += std::fabs(xc * w[j * k + c]);
                }
                const double err = std::fabs(ref - y[b * n + j]) / (scale + 1.0);
                worst = std::max(worst, err);
                if (err > 2e-6) ++failures;
              }
          }
    std::printf("%s: max error %.3g of sum|x w| + 1\n", names[isa], worst);
  }
  // A Qwen2.5-0.5B MLP's weights, 32 times over (280 MB as bf16): far more than the caches hold,
  // as a model's are. Over 35 MB, which the caches partly held, 16 rows ran at 722 GFLOP/s against
  // 505-542 over these.
  const int64_t k = 896, n = 4864 * 32;
  std::vector<float> w(n * k, 0.01f), x(64 * k, 1.0f), y(64 * n);
  std::vector<uint16_t> wb(n * k, arpo::float_to_bf16(0.01f)), packed(n * k);
  arpo_pack_bf16(w.data(), n, k, packed.data());
  const char* dtypes[] = {"fp32", "bf16", "bf16 packed"};
  for (int isa = ARPO_ISA_AVX2; isa <= ARPO_ISA_AVX512_BF16; ++isa) {
    if (!arpo_decode_matmul_isa_supported(isa)) continue;
    for (int dt = ARPO_F32; dt <= (isa == ARPO_ISA_AVX512_BF16 ? ARPO_BF16_PACKED : ARPO_BF16); ++dt)
      for (int rows : {1, 4, 16, 64}) {
        const void* weight = dt == ARPO_F32 ? static_cast<const void*>(w.data())
                             : dt == ARPO_BF16 ? static_cast<const void*>(wb.data())
                                               : static_cast<const void*>(packed.data());
        double best = 1e9;
        for (int rep = 0; rep < 5; ++rep) {
          auto start = std::chrono::steady_clock::now();
          arpo_decode_matmul(x.data(), rows, k, k, weight, static_cast<arpo_dtype>(dt), n, nullptr, y.data(), 0, isa);
          best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        }
        std::printf("%s %s rows %2d: %6.2f GB/s of weights, %6.1f GFLOP/s\n", names[isa], dtypes[dt], rows,
                    n * k * (dt ? 2.0 : 4.0) / best / 1e9, 2.0 * n * k * rows / best / 1e9);
      }
  }
  std::printf("%s\n", failures ? "FAILED" : "all paths match the float64 reference");
  return failures ? 1 : 0;
}
#endif
