// paged_attention: one query row per sequence attends its cached keys and values where they lie in
// the paged block pool (the CPU version is native/src/paged_attention.cpp; same semantics).
//
// One 256-thread block per (row, kv head, span of the row's keys). A block takes the query heads of
// its kv head together (up to kMaxGroup; a larger group is cut into chunks, a block each), so each
// key and value row is read once per group, not once per head. Keys go in tiles:
//   1. the tile's slot offsets from the block table;
//   2. its key rows staged in shared memory (fp32), its value rows into the registers of the
//      threads that weight them, all requested before any is used;
//   3. scores, one thread per (key, head);
//   4. per head (one warp each) the tile's max, exp, and the running max / sum update;
//   5. the value rows weighted into per-thread accumulators, rescaled first (online softmax).
// Threads split the value step by column (float4) and by key, so the key groups' accumulators
// are summed at the end, in a fixed order. All arithmetic is fp32.
// When there are too few (row, kv head) blocks to fill the GPU, rows are cut into spans of whole
// tiles; a second kernel merges each row's spans with their softmax statistics.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "common.cuh"

namespace arpo_cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxGroup = kWarps;  // query heads per block: the softmax step gives each a warp
constexpr int kMaxHeadDim = 256;
constexpr int kMaxTileKeys = 64;
constexpr int kMaxPieces = 4;          // key and value pieces (float4 each) a thread loads per tile
constexpr int kMaxHeadsPerThread = 2;  // heads a thread scores one key against
constexpr int kMinSpan = 256;          // fewest keys worth a block of their own
constexpr int kSpanQuantum = 64;       // spans are whole tiles
constexpr int kBlocksPerMultiprocessor = 4;  // blocks wanted in flight before rows are cut into spans
constexpr int kMergeThreads = 128;
constexpr int kMaxGrid = 65535;  // gridDim.y and gridDim.z

// Per-block shapes, from head_dim and the heads per block (the same for every block of a launch),
// and the shared-memory layout, in floats.
struct TileShape {
  int padded_dim;     // head_dim rounded up to whole float4s
  int tile_keys;      // keys per tile: 64, 32 or 16 as head_dim grows (registers, shared memory)
  int key_stride;     // floats between staged key rows: + 4 keeps a warp's float4 reads of 32
                      // rows (one row per lane) free of bank conflicts
  int column_groups;  // float4 columns of a row
  int key_groups;     // loads and value step: the threads of one column take every key_groups-th key
  int offsets_at;     // tile_keys int64 slot offsets
  int tile_at;        // staged keys; after the last tile, the key groups' accumulators
  int queries_at;     // [heads][padded_dim], scaled
  int scores_at;      // [heads][tile_keys]: scores, then their exp
  int rescale_at;     // per head: the factor the accumulators take before this tile
  int max_at;         // per head: the block's final max and sum
  int sum_at;
  int total;
};

__host__ __device__ constexpr TileShape tile_shape(int head_dim, int group) {
  TileShape s{};
  s.padded_dim = (head_dim + 3) / 4 * 4;
  s.tile_keys = s.padded_dim <= 64 ? kMaxTileKeys : s.padded_dim <= 128 ? kMaxTileKeys / 2 : kMaxTileKeys / 4;
  s.key_stride = s.padded_dim + 4;
  s.column_groups = s.padded_dim / 4;
  s.key_groups = kThreads / s.column_groups;
  const int staged = s.tile_keys * s.key_stride;
  const int accumulators = s.key_groups * group * s.padded_dim;
  s.offsets_at = 0;
  s.tile_at = s.offsets_at + 2 * s.tile_keys;
  s.queries_at = s.tile_at + (staged > accumulators ? staged : accumulators);
  s.scores_at = s.queries_at + group * s.padded_dim;
  s.rescale_at = s.scores_at + group * s.tile_keys;
  s.max_at = s.rescale_at + kMaxGroup;
  s.sum_at = s.max_at + kMaxGroup;
  s.total = s.sum_at + kMaxGroup;
  return s;
}

// Every head_dim the kernel takes fits the default 48 KiB of shared memory, the per-thread
// register arrays and the thread roles (a warp's keys consecutive in the score step).
constexpr bool every_shape_fits() {
  for (int d = 1; d <= kMaxHeadDim; ++d) {
    const TileShape s = tile_shape(d, kMaxGroup);
    const int slots = kThreads / s.tile_keys;
    if (s.total * static_cast<int>(sizeof(float)) > 48 * 1024) return false;
    if ((s.tile_keys + s.key_groups - 1) / s.key_groups > kMaxPieces) return false;
    if ((kMaxGroup + slots - 1) / slots > kMaxHeadsPerThread) return false;
    if (32 % s.tile_keys != 0 && s.tile_keys % 32 != 0) return false;
    if (s.tile_keys > kMaxTileKeys || kSpanQuantum % s.tile_keys != 0) return false;
  }
  return true;
}
static_assert(every_shape_fits(), "a head_dim <= kMaxHeadDim does not fit the block's resources");

// Keys per span when a row of `length` keys is cut into at most `splits` spans: whole tiles and at
// least kMinSpan, so short rows take fewer spans. The merge kernel recomputes it.
__device__ __forceinline__ int64_t span_keys(int64_t length, int splits) {
  const int64_t even = (length + splits - 1) / splits;
  const int64_t span = even > kMinSpan ? even : kMinSpan;
  return (span + kSpanQuantum - 1) / kSpanQuantum * kSpanQuantum;
}
// Spans of the row that have keys (one, empty, for a row of no keys: its output is 0 / 0, as on the CPU).
__device__ __forceinline__ int used_spans(int64_t length, int64_t span) {
  return length > span ? static_cast<int>((length + span - 1) / span) : 1;
}

struct Params {
  const void* q;
  const void* key_pool;
  const void* value_pool;
  void* out;
  const int32_t* block_table;
  const int32_t* seq_rows;
  const int32_t* lengths;
  int64_t table_stride;
  int64_t block_size;
  int heads, kv_heads, head_dim;
  int group;        // query heads per kv head
  int block_group;  // query heads per block (the last chunk of a group may have fewer)
  int head_chunks;  // blocks per (row, kv head, span)
  int splits;       // gridDim.z; 1: the attention kernel writes out itself
  float scale;
  float2* span_stats;  // splits > 1: [n, heads, splits] (max, sum) of each span
  float* span_acc;     // splits > 1: [n, heads, splits, head_dim] unnormalised span outputs
};

// Columns c .. c + 3 of a pool row as floats, 0 past head_dim. kAligned: head_dim % 4 == 0 and the
// pools aligned to 4 elements, so the four are one 16-byte (fp32) or 8-byte (bf16) load.
template <typename T, bool kAligned>
__device__ __forceinline__ float4 load4(const T* __restrict__ row, int c, int head_dim) {
  if constexpr (kAligned && std::is_same<T, float>::value) {
    return __ldg(reinterpret_cast<const float4*>(row + c));
  } else if constexpr (kAligned) {
    const uint2 raw = __ldg(reinterpret_cast<const uint2*>(row + c));
    float4 x;
    Vec<__nv_bfloat16>::unpack_word(raw.x, x.x, x.y);
    Vec<__nv_bfloat16>::unpack_word(raw.y, x.z, x.w);
    return x;
  } else {
    float x[4];
#pragma unroll
    for (int e = 0; e < 4; ++e) x[e] = c + e < head_dim ? to_float(row[c + e]) : 0.0f;
    return make_float4(x[0], x[1], x[2], x[3]);
  }
}

__device__ __forceinline__ float dot4(const float4& a, const float4& b, float acc) {
  return fmaf(a.x, b.x, fmaf(a.y, b.y, fmaf(a.z, b.z, fmaf(a.w, b.w, acc))));
}
__device__ __forceinline__ float4 scale4(const float4& a, float f) {
  return make_float4(a.x * f, a.y * f, a.z * f, a.w * f);
}
__device__ __forceinline__ float4 axpy4(float w, const float4& x, const float4& acc) {
  return make_float4(fmaf(w, x.x, acc.x), fmaf(w, x.y, acc.y), fmaf(w, x.z, acc.z), fmaf(w, x.w, acc.w));
}

// Two blocks per multiprocessor: 128 registers, no spill on sm_90, 4 bytes on sm_80 (three blocks'
// 80 registers spill more).
template <typename T, bool kAligned>
__global__ void __launch_bounds__(kThreads, 2) paged_attention_kernel(const Params p) {
  const TileShape shape = tile_shape(p.head_dim, p.block_group);
  extern __shared__ float4 shared_memory[];  // float4: 16-byte aligned
  float* shared = reinterpret_cast<float*>(shared_memory);
  int64_t* key_offsets = reinterpret_cast<int64_t*>(shared + shape.offsets_at);
  float* tile = shared + shape.tile_at;
  float* queries = shared + shape.queries_at;
  float* scores = shared + shape.scores_at;
  float* rescale = shared + shape.rescale_at;
  float* final_max = shared + shape.max_at;
  float* final_sum = shared + shape.sum_at;

  const int64_t r = blockIdx.x;
  const int kv_head = blockIdx.y / p.head_chunks;
  const int first_head = kv_head * p.group + static_cast<int>(blockIdx.y % p.head_chunks) * p.block_group;
  const int heads_here = min(p.block_group, (kv_head + 1) * p.group - first_head);
  const int64_t length = p.lengths[r];
  const int64_t span = span_keys(length, p.splits);
  if (static_cast<int>(blockIdx.z) >= used_spans(length, span)) return;  // the whole block: a shorter row
  const int64_t k0 = blockIdx.z * span;
  const int64_t k1 = min(length, k0 + span);

  const int d = p.head_dim, dp = shape.padded_dim, tile_keys = shape.tile_keys;
  const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
  const T* keys = static_cast<const T*>(p.key_pool);
  const T* values = static_cast<const T*>(p.value_pool);
  const int32_t* blocks = p.block_table + static_cast<int64_t>(p.seq_rows[r]) * p.table_stride;
  const int64_t slot_stride = static_cast<int64_t>(p.kv_heads) * d;  // elements between slots
  const int64_t out_row = r * p.heads + first_head;                   // (row, head) of the block's first head

  // The queries, scaled; zero in the padding (it meets zeros in the staged keys).
  const T* q = static_cast<const T*>(p.q) + out_row * d;
  for (int i = t; i < heads_here * dp; i += kThreads) {
    const int h = i / dp, c = i % dp;
    queries[i] = c < d ? to_float(q[h * d + c]) * p.scale : 0.0f;
  }

  // Score step: thread = (key, slot of heads). Loads and value step: thread = (float4 column, key group).
  const int score_key = t % tile_keys, head_slot = t / tile_keys, head_slots = kThreads / tile_keys;
  const int column = t % shape.column_groups * 4, key_group = t / shape.column_groups;
  const bool in_value_step = key_group < shape.key_groups;
  float run_max = -INFINITY, run_sum = 0.0f;  // softmax state of head `warp`, kept by that warp
  float4 acc[kMaxGroup];
#pragma unroll
  for (int h = 0; h < kMaxGroup; ++h) acc[h] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);

  for (int64_t t0 = k0; t0 < k1; t0 += tile_keys) {
    const int tile_n = static_cast<int>(min(static_cast<int64_t>(tile_keys), k1 - t0));
    if (t < tile_n) {
      const int64_t pos = t0 + t;
      const int64_t slot = static_cast<int64_t>(blocks[pos / p.block_size]) * p.block_size + pos % p.block_size;
      key_offsets[t] = slot * slot_stride + static_cast<int64_t>(kv_head) * d;
    }
    __syncthreads();

    // Rows past tile_n (the last tile's) are zeros: their scores are masked, their weights 0.
    float4 value_piece[kMaxPieces];
#pragma unroll
    for (int u = 0; u < kMaxPieces; ++u) {
      const int j = key_group + u * shape.key_groups;
      const bool live = in_value_step && j < tile_n;
      const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      value_piece[u] = live ? load4<T, kAligned>(values + key_offsets[j], column, d) : zero;
      if (in_value_step && j < tile_keys) {
        *reinterpret_cast<float4*>(tile + j * shape.key_stride + column) =
            live ? load4<T, kAligned>(keys + key_offsets[j], column, d) : zero;
      }
    }
    __syncthreads();

    {  // scores of key score_key against heads head_slot, head_slot + head_slots, ...
      const float* key = tile + score_key * shape.key_stride;
      float dots[kMaxHeadsPerThread] = {};
      for (int c = 0; c < dp; c += 4) {
        const float4 k = *reinterpret_cast<const float4*>(key + c);
#pragma unroll
        for (int i = 0; i < kMaxHeadsPerThread; ++i) {
          const int h = head_slot + i * head_slots;
          if (h < heads_here) dots[i] = dot4(*reinterpret_cast<const float4*>(queries + h * dp + c), k, dots[i]);
        }
      }
#pragma unroll
      for (int i = 0; i < kMaxHeadsPerThread; ++i) {
        const int h = head_slot + i * head_slots;
        if (h < heads_here) scores[h * tile_keys + score_key] = score_key < tile_n ? dots[i] : -INFINITY;
      }
    }
    __syncthreads();

    if (warp < heads_here) {  // head `warp`: the tile's max, exp(score - new max), the running sum
      float* s = scores + warp * tile_keys;
      float x[kMaxTileKeys / 32];
      float tile_max = -INFINITY;
#pragma unroll
      for (int i = 0; i < kMaxTileKeys / 32; ++i) {
        x[i] = lane + i * 32 < tile_keys ? s[lane + i * 32] : -INFINITY;
        tile_max = fmaxf(tile_max, x[i]);
      }
      tile_max = warp_reduce(tile_max, [](float a, float b) { return fmaxf(a, b); });
      const float new_max = fmaxf(run_max, tile_max);
      // exp(-inf - -inf) would be NaN: on the first tile there is nothing to rescale.
      const float factor = run_max == -INFINITY ? 0.0f : __expf(run_max - new_max);
      float sum = 0.0f;
#pragma unroll
      for (int i = 0; i < kMaxTileKeys / 32; ++i) {
        if (lane + i * 32 < tile_keys) {
          const float e = __expf(x[i] - new_max);
          s[lane + i * 32] = e;
          sum += e;
        }
      }
      run_sum = fmaf(run_sum, factor, warp_reduce(sum, [](float a, float b) { return a + b; }));
      run_max = new_max;
      if (lane == 0) rescale[warp] = factor;
    }
    __syncthreads();

    if (in_value_step) {
#pragma unroll
      for (int h = 0; h < kMaxGroup; ++h) {
        if (h < heads_here) acc[h] = scale4(acc[h], rescale[h]);
      }
#pragma unroll
      for (int u = 0; u < kMaxPieces; ++u) {
        const int j = key_group + u * shape.key_groups;
        if (j < tile_n) {
#pragma unroll
          for (int h = 0; h < kMaxGroup; ++h) {
            if (h < heads_here) acc[h] = axpy4(scores[h * tile_keys + j], value_piece[u], acc[h]);
          }
        }
      }
    }
    // No barrier: the next tile writes shared memory only after its first one.
  }

  // The key groups' accumulators into the staged-key area (read last before the softmax step's barrier).
  if (warp < heads_here && lane == 0) {
    final_max[warp] = run_max;
    final_sum[warp] = run_sum;
  }
  if (in_value_step) {
#pragma unroll
    for (int h = 0; h < kMaxGroup; ++h) {
      if (h < heads_here) {
        *reinterpret_cast<float4*>(tile + (key_group * p.block_group + h) * dp + column) = acc[h];
      }
    }
  }
  __syncthreads();
  for (int i = t; i < heads_here * d; i += kThreads) {
    const int h = i / d, c = i % d;
    float total = 0.0f;
    for (int g = 0; g < shape.key_groups; ++g) total += tile[(g * p.block_group + h) * dp + c];
    if (p.splits == 1) {
      static_cast<T*>(p.out)[(out_row + h) * d + c] = from_float(total / final_sum[h], T{});
    } else {
      const int64_t span_index = (out_row + h) * p.splits + blockIdx.z;
      p.span_acc[span_index * d + c] = total;
      if (c == 0) p.span_stats[span_index] = make_float2(final_max[h], final_sum[h]);
    }
  }
}

// out[r, h] = sum over spans of exp(m_s - M) acc_s / sum over spans of exp(m_s - M) l_s.
template <typename T>
__global__ void __launch_bounds__(kMergeThreads) merge_spans_kernel(const Params p) {
  const int64_t r = blockIdx.x;
  const int64_t length = p.lengths[r];
  const int spans = used_spans(length, span_keys(length, p.splits));
  const int64_t first = (r * p.heads + blockIdx.y) * p.splits;
  const float2* stats = p.span_stats + first;
  float big = -INFINITY;
  for (int s = 0; s < spans; ++s) big = fmaxf(big, stats[s].x);
  float total = 0.0f;
  for (int s = 0; s < spans; ++s) total = fmaf(__expf(stats[s].x - big), stats[s].y, total);
  T* out = static_cast<T*>(p.out) + (r * p.heads + blockIdx.y) * p.head_dim;
  for (int c = threadIdx.x; c < p.head_dim; c += blockDim.x) {
    float x = 0.0f;
    for (int s = 0; s < spans; ++s) x = fmaf(__expf(stats[s].x - big), p.span_acc[(first + s) * p.head_dim + c], x);
    out[c] = from_float(x / total, T{});
  }
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <typename T>
int launch(Params p, int64_t n, cudaStream_t stream) {
  const bool aligned = p.head_dim % 4 == 0 && reinterpret_cast<uintptr_t>(p.key_pool) % (4 * sizeof(T)) == 0 &&
                       reinterpret_cast<uintptr_t>(p.value_pool) % (4 * sizeof(T)) == 0;
  const TileShape shape = tile_shape(p.head_dim, p.block_group);
  const size_t shared_bytes = static_cast<size_t>(shape.total) * sizeof(float);
  const dim3 grid(static_cast<unsigned>(n), static_cast<unsigned>(p.kv_heads * p.head_chunks),
                  static_cast<unsigned>(p.splits));
  void* workspace = nullptr;
  if (p.splits > 1) {  // stream-ordered, so no host sync
    const size_t spans = static_cast<size_t>(n) * p.heads * p.splits;
    const size_t bytes = spans * (sizeof(float2) + p.head_dim * sizeof(float));
    const cudaError_t error = cudaMallocAsync(&workspace, bytes, stream);
    if (error != cudaSuccess) return fail_cuda("paged_attention: workspace allocation failed", error);
    p.span_stats = static_cast<float2*>(workspace);
    p.span_acc = reinterpret_cast<float*>(p.span_stats + spans);
  }
  if (aligned) {
    paged_attention_kernel<T, true><<<grid, kThreads, shared_bytes, stream>>>(p);
  } else {
    paged_attention_kernel<T, false><<<grid, kThreads, shared_bytes, stream>>>(p);
  }
  if (p.splits > 1) {
    const dim3 merge_grid(static_cast<unsigned>(n), static_cast<unsigned>(p.heads));
    merge_spans_kernel<T><<<merge_grid, kMergeThreads, 0, stream>>>(p);
  }
  const int rc = check_launch("paged_attention");
  const cudaError_t error = workspace ? cudaFreeAsync(workspace, stream) : cudaSuccess;
  if (rc != ARPO_OK) return rc;
  if (error != cudaSuccess) return fail_cuda("paged_attention: workspace release failed", error);
  return ARPO_OK;
}

}  // namespace
}  // namespace arpo_cuda

ARPO_CUDA_API int arpo_cuda_paged_attention(const void* q, const void* key_pool, const void* value_pool,
                                            arpo_dtype dtype, int64_t n, int64_t heads, int64_t kv_heads,
                                            int64_t head_dim, const int32_t* block_table, int64_t table_stride,
                                            int64_t block_size, const int32_t* seq_rows, const int32_t* lengths,
                                            float scale, void* out, void* stream) {
  using namespace arpo_cuda;
  if (!q || !key_pool || !value_pool || !block_table || !seq_rows || !lengths || !out) {
    return fail("paged_attention: null pointer");
  }
  if (n <= 0 || heads <= 0 || kv_heads <= 0 || head_dim <= 0 || heads % kv_heads != 0) {
    return fail("paged_attention: bad shape (heads must be a positive multiple of kv_heads)");
  }
  if (block_size <= 0 || table_stride <= 0) return fail("paged_attention: bad block table shape");
  if (dtype != ARPO_F32 && dtype != ARPO_BF16) return fail("paged_attention: unknown dtype");
  if (head_dim > kMaxHeadDim) return fail("paged_attention: head_dim above 256 (the CUDA kernel's limit)");
  if (n > INT_MAX || heads > kMaxGrid) return fail("paged_attention: too many rows or heads for one launch");
  const uintptr_t element = dtype == ARPO_F32 ? sizeof(float) : sizeof(__nv_bfloat16);
  for (const void* pointer : {q, key_pool, value_pool, static_cast<const void*>(out)}) {
    if (reinterpret_cast<uintptr_t>(pointer) % element != 0) {
      return fail("paged_attention: q, pools or out not aligned to their dtype");
    }
  }

  Params p{};
  p.q = q;
  p.key_pool = key_pool;
  p.value_pool = value_pool;
  p.out = out;
  p.block_table = block_table;
  p.seq_rows = seq_rows;
  p.lengths = lengths;
  p.table_stride = table_stride;
  p.block_size = block_size;
  p.heads = static_cast<int>(heads);
  p.kv_heads = static_cast<int>(kv_heads);
  p.head_dim = static_cast<int>(head_dim);
  p.group = static_cast<int>(heads / kv_heads);
  p.head_chunks = static_cast<int>(ceil_div(p.group, kMaxGroup));
  p.block_group = static_cast<int>(ceil_div(p.group, p.head_chunks));
  p.scale = scale;
  // Spans per row: enough blocks to fill the GPU, but no more than the longest row the block table
  // can describe needs (the lengths are on the device; rows shorter than that use fewer spans).
  const int64_t longest = table_stride > INT32_MAX / block_size ? INT32_MAX : table_stride * block_size;
  const int64_t row_blocks = n * kv_heads * p.head_chunks;
  const int64_t wanted = ceil_div(int64_t{kBlocksPerMultiprocessor} * multiprocessor_count(), row_blocks);
  p.splits = static_cast<int>(std::max<int64_t>(1, std::min({wanted, ceil_div(longest, kMinSpan), int64_t{kMaxGrid}})));

  cudaStream_t s = static_cast<cudaStream_t>(stream);
  return dtype == ARPO_F32 ? launch<float>(p, n, s) : launch<__nv_bfloat16>(p, n, s);
}
