// paged_attention: one query row per sequence attends its cached keys and values where they lie in
// the block pool, so a decode step reads the history once and copies none of it.
//
// Work items are (query row, kv head, span of keys). All query heads of one kv head are done
// together (grouped-query attention reads each key and value row once per group, not per head).
// A row's keys are cut into spans when there are too few (row, kv head) pairs to keep every
// thread busy (batch 1 at long context); spans are merged with their softmax statistics at the
// end. Within a span, keys go in tiles: the tile's scores for every head of the group, the tile
// max, exp, then the value rows weighted; the running max / sum / accumulator are rescaled
// between tiles (online softmax), all in fp32.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "paged_attention.h"

namespace arpo {
namespace {

constexpr int64_t kTile = 64;        // keys scored before their values are read
constexpr int64_t kMinSpan = 512;    // fewest keys worth a work item of their own
constexpr int64_t kItemsPerThread = 4;


// Eight floats: the per-key scores of score_keys' eight-key groups.
typedef float v8 __attribute__((vector_size(8 * sizeof(float))));
static_assert(kLanes == 16, "fold8 folds one 16-lane vector");

// The two 8-lane halves of a vector, added.
ARPO_INLINE v8 fold8(vf a) {
  return __builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7) +
         __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15);
}

// The lane sums of eight vectors, as one vector: result[i] = sum of a[i]'s lanes.
ARPO_INLINE v8 sum8(const vf* full) {
  v8 a[8], t[4], u[2];
  for (int i = 0; i < 8; ++i) a[i] = fold8(full[i]);
  for (int i = 0; i < 4; ++i) {  // lanes: pair sums of a[2i] and a[2i + 1], interleaved
    t[i] = __builtin_shufflevector(a[2 * i], a[2 * i + 1], 0, 8, 2, 10, 4, 12, 6, 14) +
           __builtin_shufflevector(a[2 * i], a[2 * i + 1], 1, 9, 3, 11, 5, 13, 7, 15);
  }
  for (int i = 0; i < 2; ++i) {  // quad sums of four vectors, per 128-bit half
    u[i] = __builtin_shufflevector(t[2 * i], t[2 * i + 1], 0, 1, 8, 9, 4, 5, 12, 13) +
           __builtin_shufflevector(t[2 * i], t[2 * i + 1], 2, 3, 10, 11, 6, 7, 14, 15);
  }
  return __builtin_shufflevector(u[0], u[1], 0, 1, 2, 3, 8, 9, 10, 11) +
         __builtin_shufflevector(u[0], u[1], 4, 5, 6, 7, 12, 13, 14, 15);
}

// scores[j] = q . keys[offsets[j]] for j < n, q of length d (fp32, already scaled).
template <typename T>
ARPO_INLINE void score_keys(const float* q, const T* keys, const int64_t* offsets, int64_t n, int64_t d,
                            float* scores) {
  const int64_t vec_end = d - d % kLanes;
  const int64_t n8 = n - n % 8;
  for (int64_t j0 = 0; j0 < n8; j0 += 8) {  // eight keys at a time: one reduction for all eight
    vf acc[8];
    for (int jj = 0; jj < 8; ++jj) acc[jj] = splat(0.0f);
    for (int64_t c = 0; c < vec_end; c += kLanes) {
      const vf qc = load(q + c);
      for (int jj = 0; jj < 8; ++jj) acc[jj] += qc * load(keys + offsets[j0 + jj] + c);
    }
    v8 sums = sum8(acc);
    for (int64_t c = vec_end; c < d; ++c) {
      for (int jj = 0; jj < 8; ++jj) sums[jj] += q[c] * load1(keys + offsets[j0 + jj] + c);
    }
    std::memcpy(scores + j0, &sums, sizeof sums);
  }
  for (int64_t j = n8; j < n; ++j) {
    const T* k = keys + offsets[j];
    vf acc = splat(0.0f);
    for (int64_t c = 0; c < vec_end; c += kLanes) acc += load(q + c) * load(k + c);
    float sum = hsum(acc);
    for (int64_t c = vec_end; c < d; ++c) sum += q[c] * load1(k + c);
    scores[j] = sum;
  }
}

// acc[c0, c0 + NV * kLanes) += sum_j p[j] * values[offsets[j] + c0 ..], the accumulator held in
// registers across the tile's keys.
template <int NV, typename T>
ARPO_INLINE void accumulate_columns(float* acc, const float* p, const T* values, const int64_t* offsets,
                                    int64_t n, int64_t c0) {
  vf a[NV];
  for (int i = 0; i < NV; ++i) a[i] = load(acc + c0 + i * kLanes);
  for (int64_t j = 0; j < n; ++j) {
    const vf w = splat(p[j]);
    const T* v = values + offsets[j] + c0;
    for (int i = 0; i < NV; ++i) a[i] += w * load(v + i * kLanes);
  }
  for (int i = 0; i < NV; ++i) store(acc + c0 + i * kLanes, a[i]);
}

// acc[0, d) += sum_j p[j] * values[offsets[j] ..] for j < n.
template <typename T>
ARPO_INLINE void accumulate_values(float* acc, const float* p, const T* values, const int64_t* offsets,
                                   int64_t n, int64_t d) {
  const int64_t vec_end = d - d % kLanes;
  int64_t c0 = 0;
  for (; c0 + 4 * kLanes <= vec_end; c0 += 4 * kLanes) accumulate_columns<4>(acc, p, values, offsets, n, c0);
  for (; c0 < vec_end; c0 += kLanes) accumulate_columns<1>(acc, p, values, offsets, n, c0);
  for (int64_t c = vec_end; c < d; ++c) {
    float x = acc[c];
    for (int64_t j = 0; j < n; ++j) x += p[j] * load1(values + offsets[j] + c);
    acc[c] = x;
  }
}

ARPO_INLINE void scale_row(float* acc, float c, int64_t n) {
  const int64_t vec_end = n - n % kLanes;
  const vf vc = splat(c);
  for (int64_t i = 0; i < vec_end; i += kLanes) store(acc + i, load(acc + i) * vc);
  for (int64_t i = vec_end; i < n; ++i) acc[i] *= c;
}

// Keys [k0, k1) of query row r against kv head g. For each of the group's heads h writes the
// span's max score m[h], sum of exp(score - m) l[h] and unnormalised output acc[h * D ..].
// scratch: group * D (scaled fp32 queries) + group * kTile (scores) floats.
template <typename T>
ARPO_INLINE void attend_span(const PagedArgs& a, int64_t r, int64_t g, int64_t k0, int64_t k1,
                             float* m, float* l, float* acc, float* scratch) {
  const int64_t d = a.head_dim, group = a.group;
  const T* q = static_cast<const T*>(a.q) + (r * a.heads + g * group) * d;
  const T* keys = static_cast<const T*>(a.key_pool);
  const T* values = static_cast<const T*>(a.value_pool);
  const int32_t* blocks = a.block_table + static_cast<int64_t>(a.seq_rows[r]) * a.table_stride;
  const int64_t row_stride = a.kv_heads * d;  // elements between consecutive slots
  float* qf = scratch;
  float* scores = scratch + group * d;
  for (int64_t i = 0; i < group * d; ++i) qf[i] = load1(q + i) * a.scale;
  for (int64_t h = 0; h < group; ++h) {
    m[h] = kNegInf;
    l[h] = 0.0f;
  }
  std::fill(acc, acc + group * d, 0.0f);
  // Element offset of each key's row of head g in the pools, for this tile and the next.
  int64_t offset_buffers[2][kTile];
  auto tile_offsets = [&](int64_t t0, int64_t* offsets) {
    const int64_t n = std::min(kTile, k1 - t0);
    for (int64_t j = 0; j < n; ++j) {
      const int64_t pos = t0 + j;
      const int64_t slot = static_cast<int64_t>(blocks[pos / a.block_size]) * a.block_size + pos % a.block_size;
      offsets[j] = slot * row_stride + g * d;
    }
    return n;
  };
  // The rows are scattered over the pool: their lines are requested a phase ahead (the values
  // while the keys are scored, the next tile's keys while the values are summed), so their loads
  // overlap the arithmetic instead of waiting on it.
  const int64_t row_bytes = d * static_cast<int64_t>(sizeof(T));
  auto prefetch_rows = [&](const T* pool, const int64_t* offsets, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
      const char* row = reinterpret_cast<const char*>(pool + offsets[j]);
      for (int64_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(row + b, 0, 2);
    }
  };
  int64_t n = tile_offsets(k0, offset_buffers[0]);
  prefetch_rows(keys, offset_buffers[0], n);
  for (int64_t t0 = k0, tile = 0; t0 < k1; t0 += kTile, ++tile) {
    const int64_t* offsets = offset_buffers[tile % 2];
    int64_t* next_offsets = offset_buffers[(tile + 1) % 2];
    prefetch_rows(values, offsets, n);
    for (int64_t h = 0; h < group; ++h) score_keys(qf + h * d, keys, offsets, n, d, scores + h * kTile);
    for (int64_t h = 0; h < group; ++h) {
      float* s = scores + h * kTile;
      float tile_max = kNegInf;
      for (int64_t j = 0; j < n; ++j) tile_max = s[j] > tile_max ? s[j] : tile_max;
      const float new_max = tile_max > m[h] ? tile_max : m[h];
      if (new_max != m[h]) {
        const float c = std::exp(m[h] - new_max);  // 0 on the first tile (m = -inf)
        l[h] *= c;
        scale_row(acc + h * d, c, d);
        m[h] = new_max;
      }
      const vf vmax = splat(new_max);
      const int64_t vec_end = n - n % kLanes;
      vf vsum = splat(0.0f);
      for (int64_t j = 0; j < vec_end; j += kLanes) {
        vf p = vexp2((load(s + j) - vmax) * kLog2e);
        store(s + j, p);
        vsum += p;
      }
      float sum = hsum(vsum);
      for (int64_t j = vec_end; j < n; ++j) {
        s[j] = std::exp(s[j] - new_max);
        sum += s[j];
      }
      l[h] += sum;
    }
    const int64_t next_n = t0 + kTile < k1 ? tile_offsets(t0 + kTile, next_offsets) : 0;
    prefetch_rows(keys, next_offsets, next_n);
    for (int64_t h = 0; h < group; ++h) accumulate_values(acc + h * d, scores + h * kTile, values, offsets, n, d);
    n = next_n;
  }
}

// The per-span entry points, compiled per SIMD level (see common.h).
ARPO_SIMD void attend_span_f32(const PagedArgs& a, int64_t r, int64_t g, int64_t k0, int64_t k1, float* m,
                               float* l, float* acc, float* scratch) {
  attend_span<float>(a, r, g, k0, k1, m, l, acc, scratch);
}
ARPO_SIMD void attend_span_bf16(const PagedArgs& a, int64_t r, int64_t g, int64_t k0, int64_t k1, float* m,
                                float* l, float* acc, float* scratch) {
  attend_span<uint16_t>(a, r, g, k0, k1, m, l, acc, scratch);
}

// out[r, h] = sum over spans of exp(m_s - M) acc_s / sum over spans of exp(m_s - M) l_s.
template <typename T>
void write_out(const PagedArgs& a, int64_t r, int64_t g, int64_t spans, const float* m, const float* l,
               const float* acc) {
  const int64_t d = a.head_dim, group = a.group;
  T* out = static_cast<T*>(a.out) + (r * a.heads + g * group) * d;
  const int64_t span_floats = group * (d + 2);  // one span's m, l and acc (see run)
  for (int64_t h = 0; h < group; ++h) {
    float big = kNegInf;
    for (int64_t s = 0; s < spans; ++s) big = std::max(big, m[s * span_floats + h]);
    float total = 0.0f;
    for (int64_t s = 0; s < spans; ++s) total += std::exp(m[s * span_floats + h] - big) * l[s * span_floats + h];
    const float inv = 1.0f / total;
    for (int64_t i = 0; i < d; ++i) {
      float x = 0.0f;
      for (int64_t s = 0; s < spans; ++s) {
        x += std::exp(m[s * span_floats + h] - big) * acc[s * span_floats + h * d + i];
      }
      store1(out + h * d + i, x * inv);
    }
  }
}

// The items of every thread in the calling team; the worksharing loops end with barrier.wait().
template <typename T>
void attend_team(const PagedArgs& a, PagedWork& w, TeamBarrier& barrier) {
  auto at = [&](int64_t r, int64_t g, int64_t s) {  // span s of row r, kv head g
    return w.partial.data() + ((w.first[r] * a.kv_heads + g * (w.first[r + 1] - w.first[r])) + s) * w.span_floats;
  };
  std::vector<float> scratch(static_cast<size_t>(a.group * (a.head_dim + kTile)));
#pragma omp for schedule(dynamic) nowait
  for (int64_t item = 0; item < w.items; ++item) {
    const int64_t span_index = item / a.kv_heads;
    const int64_t g = item % a.kv_heads;
    const int64_t r = std::upper_bound(w.first.begin(), w.first.end(), span_index) - w.first.begin() - 1;
    const int64_t s = span_index - w.first[r];
    const int64_t k0 = s * w.span, k1 = std::min<int64_t>(a.lengths[r], k0 + w.span);
    float* p = at(r, g, s);
    float* m = p;
    float* l = p + a.group;
    float* acc = p + 2 * a.group;
    if constexpr (sizeof(T) == 4) {
      attend_span_f32(a, r, g, k0, k1, m, l, acc, scratch.data());
    } else {
      attend_span_bf16(a, r, g, k0, k1, m, l, acc, scratch.data());
    }
  }
  barrier.wait();
#pragma omp for schedule(static) collapse(2) nowait
  for (int64_t r = 0; r < w.n; ++r) {
    for (int64_t g = 0; g < a.kv_heads; ++g) {
      float* p = at(r, g, 0);
      write_out<T>(a, r, g, w.first[r + 1] - w.first[r], p, p + a.group, p + 2 * a.group);
    }
  }
  barrier.wait();
}

}  // namespace

void paged_plan(const PagedArgs& a, int64_t n, int threads, PagedWork& w) {
  // Spans: long enough to be worth an item, short enough for about kItemsPerThread items per thread.
  int64_t total_keys = 0;
  for (int64_t r = 0; r < n; ++r) total_keys += a.lengths[r];
  const int64_t target = kItemsPerThread * threads;
  w.n = n;
  w.span = std::max(kMinSpan, (total_keys * a.kv_heads + target - 1) / target);
  w.first.assign(n + 1, 0);  // first span of each row, in row order
  for (int64_t r = 0; r < n; ++r) w.first[r + 1] = w.first[r] + (a.lengths[r] + w.span - 1) / w.span;
  w.items = w.first[n] * a.kv_heads;
  // Per item: group maxima, group sums, group * D accumulator. Laid out so that one (row, kv
  // head)'s spans are evenly strided for write_out.
  w.span_floats = a.group * (a.head_dim + 2);
  w.partial.resize(static_cast<size_t>(w.items * w.span_floats));
}

void paged_attend_team_f32(const PagedArgs& a, PagedWork& w, TeamBarrier& barrier) {
  attend_team<float>(a, w, barrier);
}

namespace {

template <typename T>
void run(const PagedArgs& a, int64_t n) {
  PagedWork w;
  paged_plan(a, n, omp_get_max_threads(), w);
  TeamBarrier barrier;
#pragma omp parallel
  attend_team<T>(a, w, barrier);
}

}  // namespace
}  // namespace arpo

ARPO_API int arpo_paged_attention(const void* q, const void* key_pool, const void* value_pool, arpo_dtype dtype,
                                  int64_t n, int64_t heads, int64_t kv_heads, int64_t head_dim,
                                  const int32_t* block_table, int64_t table_stride, int64_t block_size,
                                  const int32_t* seq_rows, const int32_t* lengths, float scale, void* out) {
  if (!q || !key_pool || !value_pool || !block_table || !seq_rows || !lengths || !out) {
    return arpo::fail("paged_attention: null pointer");
  }
  if (n <= 0 || heads <= 0 || kv_heads <= 0 || head_dim <= 0 || heads % kv_heads != 0) {
    return arpo::fail("paged_attention: bad shape (heads must be a positive multiple of kv_heads)");
  }
  if (block_size <= 0 || table_stride <= 0) return arpo::fail("paged_attention: bad block table shape");
  const arpo::PagedArgs args{q,           key_pool,     value_pool, heads,   kv_heads, head_dim, heads / kv_heads,
                             block_table, table_stride, block_size, seq_rows, lengths, scale,    out};
  if (dtype == ARPO_F32) {
    arpo::run<float>(args, n);
  } else if (dtype == ARPO_BF16) {
    arpo::run<uint16_t>(args, n);
  } else {
    return arpo::fail("paged_attention: unknown dtype");
  }
  return ARPO_OK;
}
