// decode_layer: one whole decoder layer of a decode step, its products, norms, rotary, cache write,
// attention and SwiGLU, in one OpenMP team.
//
// A decode step at batch 1-64 is bound by reading the weights; between the products it does little
// arithmetic, but run op by op (libtorch, or one native call per product) it pays a thread start
// and a pass over the activations for each of some twenty small operations per layer. Here the
// team starts once per layer and meets at a barrier (team_barrier.h: a short spin, then sleep)
// where a phase needs all of the previous one:
//   norm -> q, k, v -> per-head norm + rotary + cache write -> attention -> o (+ residual)
//   -> norm -> gate, up, SwiGLU -> down (+ residual)
// The products are decode_matmul's weight-streaming kernels over ranges of output features; q, k
// and v share one split of their tiles between the threads, and gate and up the same features per
// thread, so SwiGLU needs no barrier. Attention is paged_attention's, run by the same team.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "decode_matmul.h"
#include "paged_attention.h"
#include "team_barrier.h"

namespace arpo {
namespace {

// out[c] = y[c] / sqrt(mean(y^2) + eps) * w[c] over one row of len values (HF's RMSNorm: the
// normalised value times the weight).
void rms_norm_row(const float* y, const float* w, float* out, int64_t len, float eps) {
  double squares = 0;
  for (int64_t c = 0; c < len; ++c) squares += static_cast<double>(y[c]) * y[c];
  const float inv = static_cast<float>(1.0 / std::sqrt(squares / static_cast<double>(len) + eps));
  for (int64_t c = 0; c < len; ++c) out[c] = y[c] * inv * w[c];
}

// x[i] = x[i] cos[i] + rotate_half(x)[i] sin[i], rotate_half(x) = (-x[d/2 ..], x[.. d/2]).
void rotate_row(float* x, const float* cos, const float* sin, int64_t d) {
  const int64_t half = d / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float a = x[i], b = x[i + half];
    x[i] = a * cos[i] - b * sin[i];
    x[i + half] = b * cos[i + half] + a * sin[i + half];
  }
}

// g[i] = silu(g[i]) * u[i] = g / (1 + e^-g) * u, e^-g as exp2 (capped where it would overflow:
// there silu(g) is 0 to fp32's resolution of g's scale).
ARPO_SIMD void swiglu(float* g, const float* u, int64_t count) {
  const int64_t vec_end = count - count % kLanes;
  const vf cap = splat(126.0f), one = splat(1.0f);
  for (int64_t i = 0; i < vec_end; i += kLanes) {
    const vf x = load(g + i);
    vf arg = -x * kLog2e;
    arg = arg > cap ? cap : arg;
    store(g + i, x / (one + vexp2(arg)) * load(u + i));
  }
  for (int64_t i = vec_end; i < count; ++i) {
    const float arg = std::min(-g[i] * kLog2e, 126.0f);
    g[i] = g[i] / (1.0f + exp2_scalar(arg)) * u[i];
  }
}

// Thread t's share (of nt) of the output features of several products that read the same x, in
// whole tiles (blocks where packed), the products' units taken as one sequence.
void run_split(DecodeRows run, const Problem* problems, int count, int t, int nt) {
  int64_t units = 0;
  for (int i = 0; i < count; ++i) units += units_of(problems[i]);
  const int64_t lo = units * t / nt, hi = units * (t + 1) / nt;
  int64_t offset = 0;
  for (int i = 0; i < count; ++i) {
    const Problem& p = problems[i];
    const int64_t unit = split_unit(p), own = units_of(p);
    const int64_t first = std::max(lo, offset) - offset, last = std::min(hi, offset + own) - offset;
    if (first < last) run_row_blocks(run, p, first * unit, std::min(p.n, last * unit));
    offset += own;
  }
}

struct Scratch {  // the layer's activations, per calling thread, grown as needed
  std::vector<float> buffer;
  float* take(size_t floats) {
    if (buffer.size() < floats) buffer.resize(floats);
    return buffer.data();
  }
};

// A layer's work per thread below which one thread more costs more than the share it takes over
// (its wake-up and eight barriers). Work counts each weight once for reading it and once per row it
// multiplies: the 0.8M-parameter demo model (197K weights a layer, in cache) decoded 1.4-1.55x
// faster on one thread than on two at 1 and 16 rows and alike at 64; a Qwen2.5-0.5B layer (14.9M
// weights, streamed from memory) is worth two threads at one row.
constexpr int64_t kReadWork = 8;
constexpr int64_t kMinWorkPerThread = 8 << 20;

// Rows of one pass through a layer: the scratch holds this many rows' activations (about 50 KB a
// row at 0.5B, 200 KB at 7B), so a long prefill does not keep gigabytes for the process's life.
// Chunks run in row order, each writing its keys before the next attends them: causal as one pass.
constexpr int64_t kChunkRows = 256;

void layer_rows(float* hidden, int64_t n, int64_t hidden_size, int64_t heads, int64_t kv_heads, int64_t head_dim,
                int64_t intermediate, float rms_eps, const arpo_decode_layer_weights* w, const float* cos,
                const float* sin, float* key_pool, float* value_pool, const int64_t* write_slots,
                const int32_t* block_table, int64_t table_stride, int64_t block_size, const int32_t* seq_rows,
                const int32_t* lengths, float scale, int32_t num_threads) {
  const int64_t q_width = heads * head_dim, kv_width = kv_heads * head_dim;
  static thread_local Scratch scratch;
  float* x = scratch.take(static_cast<size_t>(n * (hidden_size + 2 * q_width + 2 * kv_width + 2 * intermediate)));
  float* q = x + n * hidden_size;
  float* k = q + n * q_width;
  float* v = k + n * kv_width;
  float* attended = v + n * kv_width;
  float* gate = attended + n * q_width;
  float* up = gate + n * intermediate;

  const arpo_dtype dt = w->weight_dtype;
  const Problem qkv[3] = {
      {x, n, hidden_size, hidden_size, w->q, dt, q_width, w->q_bias, q, false},
      {x, n, hidden_size, hidden_size, w->k, dt, kv_width, w->k_bias, k, false},
      {x, n, hidden_size, hidden_size, w->v, dt, kv_width, w->v_bias, v, false}};
  const Problem o{attended, n, q_width, q_width, w->o, dt, hidden_size, w->o_bias, hidden, true};
  const Problem gate_p{x, n, hidden_size, hidden_size, w->gate, dt, intermediate, w->gate_bias, gate, false};
  const Problem up_p{x, n, hidden_size, hidden_size, w->up, dt, intermediate, w->up_bias, up, false};
  const Problem down{gate, n, intermediate, intermediate, w->down, dt, hidden_size, w->down_bias, hidden, true};
  const DecodeRows run = decode_rows(ARPO_ISA_AUTO);

  const int64_t layer_weights = hidden_size * (2 * q_width + 2 * kv_width) + 3 * hidden_size * intermediate;
  const int64_t by_size = std::max<int64_t>(1, layer_weights * (kReadWork + n) / kMinWorkPerThread);
  const int threads = static_cast<int>(std::min<int64_t>(num_threads > 0 ? num_threads : omp_get_max_threads(), by_size));
  const PagedArgs attention{q,          key_pool,     value_pool, heads,    kv_heads, head_dim, heads / kv_heads,
                            block_table, table_stride, block_size, seq_rows, lengths,  scale,    attended};
  PagedWork work;
  paged_plan(attention, n, threads, work);
  TeamBarrier barrier;

#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
#pragma omp for schedule(static) nowait
    for (int64_t r = 0; r < n; ++r) {
      rms_norm_row(hidden + r * hidden_size, w->input_norm, x + r * hidden_size, hidden_size, rms_eps);
    }
    barrier.wait();
    run_split(run, qkv, 3, t, nt);
    barrier.wait();
    // per (row, head): the optional per-head norm, rotary, and the new key and value into the pools
#pragma omp for schedule(static) nowait
    for (int64_t item = 0; item < n * (heads + kv_heads); ++item) {
      const int64_t r = item / (heads + kv_heads), h = item % (heads + kv_heads);
      const float* row_cos = cos + r * head_dim;
      const float* row_sin = sin + r * head_dim;
      if (h < heads) {
        float* head = q + r * q_width + h * head_dim;
        if (w->q_norm) rms_norm_row(head, w->q_norm, head, head_dim, rms_eps);
        rotate_row(head, row_cos, row_sin, head_dim);
      } else {
        const int64_t g = h - heads;
        float* head = k + r * kv_width + g * head_dim;
        if (w->k_norm) rms_norm_row(head, w->k_norm, head, head_dim, rms_eps);
        rotate_row(head, row_cos, row_sin, head_dim);
        const int64_t slot = write_slots[r] * kv_width + g * head_dim;
        std::copy(head, head + head_dim, key_pool + slot);
        const float* value = v + r * kv_width + g * head_dim;
        std::copy(value, value + head_dim, value_pool + slot);
      }
    }
    barrier.wait();
    paged_attend_team_f32(attention, work, barrier);
    run_split(run, &o, 1, t, nt);
    barrier.wait();
#pragma omp for schedule(static) nowait
    for (int64_t r = 0; r < n; ++r) {
      rms_norm_row(hidden + r * hidden_size, w->post_norm, x + r * hidden_size, hidden_size, rms_eps);
    }
    barrier.wait();
    int64_t f0, f1;  // this thread's features of gate and up, so SwiGLU needs nothing of the others
    tile_split(intermediate, split_unit(gate_p), t, nt, f0, f1);
    if (f0 < f1) {
      run_row_blocks(run, gate_p, f0, f1);
      run_row_blocks(run, up_p, f0, f1);
      for (int64_t r = 0; r < n; ++r) swiglu(gate + r * intermediate + f0, up + r * intermediate + f0, f1 - f0);
    }
    barrier.wait();
    run_split(run, &down, 1, t, nt);
  }
}

}  // namespace
}  // namespace arpo

ARPO_API int arpo_decode_layer(float* hidden, int64_t n, int64_t hidden_size, int64_t heads, int64_t kv_heads,
                               int64_t head_dim, int64_t intermediate, float rms_eps,
                               const arpo_decode_layer_weights* w, const float* cos, const float* sin,
                               float* key_pool, float* value_pool, const int64_t* write_slots,
                               const int32_t* block_table, int64_t table_stride, int64_t block_size,
                               const int32_t* seq_rows, const int32_t* lengths, float scale, int32_t num_threads) {
  using namespace arpo;
  if (!hidden || !w || !cos || !sin || !key_pool || !value_pool || !write_slots || !block_table || !seq_rows ||
      !lengths) {
    return fail("decode_layer: null pointer");
  }
  if (!w->input_norm || !w->q || !w->k || !w->v || !w->o || !w->post_norm || !w->gate || !w->up || !w->down) {
    return fail("decode_layer: a weight is missing");
  }
  if (n <= 0 || hidden_size <= 0 || heads <= 0 || kv_heads <= 0 || heads % kv_heads != 0 || head_dim <= 0 ||
      head_dim % 2 != 0 || intermediate <= 0) {
    return fail("decode_layer: bad shape (heads a positive multiple of kv_heads, head_dim even)");
  }
  if (block_size <= 0 || table_stride <= 0) return fail("decode_layer: bad block table shape");
  if (!decode_dtype(w->weight_dtype)) return fail("decode_layer: unknown dtype");
  if (w->weight_dtype == ARPO_BF16_PACKED) {
    if (decode_best_isa() != ARPO_ISA_AVX512_BF16) return fail("decode_layer: packed bf16 weights need AVX512_BF16");
    const int64_t q_width = heads * head_dim, kv_width = kv_heads * head_dim;
    const int64_t shapes[][2] = {{q_width, hidden_size},  // [outputs, inputs] of q, k and v, o, gate and up, down
                                 {kv_width, hidden_size},
                                 {hidden_size, q_width},
                                 {intermediate, hidden_size},
                                 {hidden_size, intermediate}};
    for (const auto& shape : shapes) {
      if (!packs(shape[0], shape[1])) {
        return fail("decode_layer: packed bf16 weights need outputs in multiples of 64 and an even number of inputs");
      }
    }
  }

  for (int64_t r0 = 0; r0 < n; r0 += kChunkRows) {
    const int64_t rows = std::min(kChunkRows, n - r0);
    layer_rows(hidden + r0 * hidden_size, rows, hidden_size, heads, kv_heads, head_dim, intermediate, rms_eps, w,
               cos + r0 * head_dim, sin + r0 * head_dim, key_pool, value_pool, write_slots + r0, block_table,
               table_stride, block_size, seq_rows + r0, lengths + r0, scale, num_threads);
  }
  return ARPO_OK;
}
