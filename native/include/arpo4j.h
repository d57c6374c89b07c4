/*
 * arpo4j native kernels: one C ABI, implemented on CPU (libarpo4j_native, native/src)
 * and on CUDA (libarpo4j_cuda, cuda/). Both have identical semantics; the CUDA entry
 * points take the stream to launch on and return as soon as the work is queued.
 *
 * Conventions
 *  - Logits are a row-major [rows, V] matrix of fp32 or bf16 with a row stride in
 *    elements (>= V), so a slice of a larger tensor can be passed without a copy.
 *    The column stride is always 1.
 *  - Targets / tokens are int64 (torch.long). All other outputs are fp32.
 *  - Temperature T scales logits: s = z / T. token_stats and logprob_backward need
 *    T > 0; sample treats T == 0 as greedy.
 *  - Pointers refer to memory on the kernel's device (host memory for the CPU library,
 *    device memory for the CUDA library). Callers validate shapes and ranges: the
 *    kernels trust their arguments (the Java API checks everything before calling).
 *  - Every function returns ARPO_OK or an error code; arpo_last_error() /
 *    arpo_cuda_last_error() give a message for the calling thread.
 */
#ifndef ARPO4J_H
#define ARPO4J_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ARPO_OK 0
#define ARPO_ERR_INVALID 1
#define ARPO_ERR_CUDA 2

/* ARPO_BF16_PACKED: bf16 weights of arpo_decode_matmul / arpo_decode_layer in the layout
 * arpo_pack_bf16 writes (the AVX512_BF16 path only); no other function takes it. */
typedef enum arpo_dtype { ARPO_F32 = 0, ARPO_BF16 = 1, ARPO_BF16_PACKED = 2 } arpo_dtype;

/* How masked per-token losses L[s,t] of a [S, L] batch become one scalar.
 *  TOKEN_MEAN:            sum_{s,t} m L / sum_{s,t} m
 *  SEQ_MEAN_TOKEN_MEAN:   mean over non-empty sequences of (sum_t m L / sum_t m)
 *  SEQ_SUM_TOKEN_MEAN:    sum over non-empty sequences of (sum_t m L / sum_t m)  */
typedef enum arpo_agg_mode {
  ARPO_AGG_TOKEN_MEAN = 0,
  ARPO_AGG_SEQ_MEAN_TOKEN_MEAN = 1,
  ARPO_AGG_SEQ_SUM_TOKEN_MEAN = 2
} arpo_agg_mode;

/* Statistics written by clipped_surrogate, each a masked mean over tokens. */
#define ARPO_STAT_CLIP_FRAC 0      /* fraction where the clipped term was the active one */
#define ARPO_STAT_APPROX_KL 1      /* mean(old_logprob - logprob) */
#define ARPO_STAT_MEAN_RATIO 2     /* mean(exp(logprob - old_logprob)) */
#define ARPO_STAT_DUAL_CLIP_FRAC 3 /* fraction (of all tokens) where the dual clip bound was active */
#define ARPO_STAT_CLIP_GRAD_KEPT_FRAC 4 /* fraction where the ratio clip bound the value but the
                                           stop-gradient clip still passed a gradient (0 under PPO) */
#define ARPO_NUM_STATS 5

/* 1. Per-row log-prob of the target, entropy and log-sum-exp of softmax(z / T),
 *    in one pass over each row (online max / sum-exp / sum p*s). No [N, V] buffer.
 *    targets may be NULL (then logprob is not written and may be NULL).
 *    logprob[i] = s[i, y_i] - lse[i];  entropy[i] = lse[i] - sum_j p_ij s_ij. */
int arpo_token_stats(const void* logits, arpo_dtype dtype, int64_t n, int64_t v, int64_t row_stride,
                     const int64_t* targets, float temperature,
                     float* logprob, float* entropy, float* logsumexp);

/* 2. Sample one token per row from softmax(z / T) after top-k (k <= 0: off) and then
 *    nucleus top-p (p >= 1: off) filtering, with a counter-based Philox RNG keyed by
 *    (seed, step, row): the same arguments give the same tokens on the same device.
 *    T == 0 is greedy (argmax, lowest index on ties).
 *    logprob and entropy are of the unfiltered temperature distribution softmax(z / T)
 *    (of softmax(z) when T == 0): the quantities the trainer and ARPO's branching use. */
int arpo_sample(const void* logits, arpo_dtype dtype, int64_t b, int64_t v, int64_t row_stride,
                float temperature, float top_p, int32_t top_k, uint64_t seed, uint64_t step,
                int64_t* token, float* logprob, float* entropy);

/* 3. PPO/GRPO clipped surrogate over a padded [S, L] batch (row-major, contiguous).
 *    ratio = exp(clamp(logprob - old_logprob, -20, 20))
 *    L = max(-A ratio, -A clip(ratio, 1 - eps_low, 1 + eps_high)); for A < 0 and
 *    dual_clip_c > 1 also L = min(L, -A c). mask is 0/1 (fp32).
 *    Stop-gradient clipping (GPPO / CE-GPPO / AEPO) changes the gradient only: where the ratio
 *    clip is the active term (and the dual clip is not), the clipped bound is taken as
 *    b * ratio / sg(ratio), so dL/dlogprob = -A * b * coef with
 *      A > 0, ratio > 1 + eps_high:  b = 1 + eps_high, coef = clip_grad_high
 *      A < 0, ratio < 1 - eps_low:   b = 1 - eps_low,  coef = clip_grad_low
 *    clip_grad_low = clip_grad_high = 0 is PPO (no gradient through clipped tokens); AEPO is
 *    (0, 1), GPPO (1, 1). Both must be finite and >= 0. A token whose log-ratio is outside the
 *    clamp's [-20, 20] has no gradient in any mode.
 *    Writes loss[0], grad_logprob[S*L] = d loss / d logprob, stats[ARPO_NUM_STATS]. */
int arpo_clipped_surrogate(const float* logprob, const float* old_logprob, const float* advantage,
                           const float* mask, int64_t num_seqs, int64_t seq_len,
                           float eps_low, float eps_high, float dual_clip_c,
                           float clip_grad_low, float clip_grad_high, arpo_agg_mode mode,
                           float* loss, float* grad_logprob, float* stats);

/* 4. Gradient of sum_i (g_lp[i] * logprob[i] + g_h[i] * entropy[i]) with respect to the
 *    logits, written in place over the logits buffer (same dtype and stride), so training
 *    never holds logits and their gradient at once. logsumexp (and entropy, when
 *    grad_entropy is not NULL) are the token_stats outputs for these logits.
 *    d/dz_j = (1/T) [ g_lp (1[j = y] - p_j) - g_h p_j (log p_j + H) ]. */
int arpo_logprob_backward(void* logits, arpo_dtype dtype, int64_t n, int64_t v, int64_t row_stride,
                          const int64_t* targets, const float* logsumexp, const float* entropy,
                          const float* grad_logprob, const float* grad_entropy, float temperature);

const char* arpo_last_error(void);

/* ---- Threads of OpenBLAS's products (CPU library only) ---------------------------------------
 * libtorch's large CPU products run in OpenBLAS. arpo_blas_threads(t) makes OpenBLAS's threaded
 * calls run on t threads from now on: the calling thread and t - 1 helper threads of this library,
 * which sleep while idle (never OpenBLAS's own spinning pool); threaded calls from several threads
 * at once take turns; at most the MAX_THREADS OpenBLAS was built with. 1 = in the calling thread
 * only (OPENBLAS_NUM_THREADS=1, arpo4j's default).
 * Returns the previous count, or -1 (message in arpo_last_error) where t is outside [1, 256]
 * or the process's OpenBLAS cannot hand its jobs to the caller: not loaded, older than 0.3.27, its
 * OpenMP build, or already running its own pool (OPENBLAS_NUM_THREADS > 1), which is left alone. */
int arpo_blas_threads(int threads);
/* The threaded OpenBLAS calls run by arpo_blas_threads' helpers since the library was loaded. */
int64_t arpo_blas_threaded_calls(void);

/* ---- Decode-step projections (CPU library only) ----------------------------------------------
 * 5. y[b, n] = sum_k x[b, k] W[n, k] (+ bias[n]) for the few rows of a decode step (1-64): every
 *    weight is read from memory once per call, for all rows; more rows (a prefill) go in blocks of
 *    64, the weights read once per block. x is fp32 [rows, k] with
 *    row stride x_stride (>= k); W is [n, k] row-major, contiguous, fp32 or bf16 (or bf16 packed,
 *    arpo_pack_bf16); bias fp32 [n] or
 *    NULL; y fp32 [rows, n], contiguous. With bf16 weights x is rounded to bf16 (to nearest even)
 *    first, as a bf16 model's activations are: every product is then exact in fp32, and all sums
 *    are fp32 on every path.
 *    num_threads <= 0: OpenMP's default; small matrices use fewer threads. isa: one of ARPO_ISA_*
 *    (AUTO = the best the CPU has; forcing another is for tests and benchmarks), an error when the
 *    CPU lacks it. On CUDA, libtorch's matmul serves the same purpose (no CUDA entry point). */
#define ARPO_ISA_AUTO 0
#define ARPO_ISA_SCALAR 1
#define ARPO_ISA_AVX2 2   /* AVX2 + FMA */
#define ARPO_ISA_AVX512 3 /* AVX-512 F + BW + VL */
#define ARPO_ISA_AVX512_BF16 4 /* AVX-512 F + BW + VL + BF16 (vdpbf16ps for bf16 weights) */
int arpo_decode_matmul(const float* x, int64_t rows, int64_t k, int64_t x_stride, const void* weight,
                       arpo_dtype weight_dtype, int64_t n, const float* bias, float* y,
                       int32_t num_threads, int32_t isa);
/* 1 when the CPU can run the given ARPO_ISA_* path of arpo_decode_matmul, else 0. */
int arpo_decode_matmul_isa_supported(int32_t isa);
/* The path ARPO_ISA_AUTO picks on this CPU. */
int arpo_decode_matmul_best_isa(void);
/* W (fp32 [n, k], row-major) rounded to bf16 (to nearest even, NaN kept) into out in the
 *    ARPO_BF16_PACKED layout: blocks of 64 outputs, each [k/2][64][2], so that out[((j / 64 * k/2 +
 *    c / 2) * 64 + j % 64) * 2 + c % 2] = W[j, c]; n a multiple of 64, k even, out n * k values.
 *    Packed weights serve arpo_decode_matmul and arpo_decode_layer on the ARPO_ISA_AVX512_BF16 path
 *    (an error on the others): per column pair, one vdpbf16ps multiplies 16 outputs' two weights
 *    by a broadcast pair of x, with no sum across lanes at the end, where the row-major layout's
 *    lanes each sum a pair of columns of one output. */
int arpo_pack_bf16(const float* w, int64_t n, int64_t k, uint16_t* out);

/* ---- Paged attention (CPU; arpo_cuda_paged_attention below is the CUDA version, which the model does
 *      not use yet: on CUDA it keeps libtorch's attention) ----
 *
 * 6. Attention of one query per row over a paged key/value cache, reading the keys and values
 *    where they lie in the block pool (nothing is gathered). The pools are row-major
 *    [num_slots, kv_heads, head_dim]; slot = block * block_size + offset. Row r's sequence has
 *    its block ids in block_table[seq_rows[r] * table_stride + i] (i = 0, 1, ...), and its query
 *    attends the keys at positions 0 .. lengths[r] - 1 of that sequence, position p being in
 *    slot block_table[seq_rows[r] * table_stride + p / block_size] * block_size + p % block_size.
 *    q and out are row-major [n, heads, head_dim]; query head h reads kv head
 *    h / (heads / kv_heads) (grouped-query attention; heads a multiple of kv_heads).
 *    out[r, h] = softmax_p(scale * q[r, h] . k_p) weighted sum of v_p, accumulated in fp32.
 *    q, the pools and out share dtype (fp32 or bf16); lengths[r] >= 1. */
int arpo_paged_attention(const void* q, const void* key_pool, const void* value_pool, arpo_dtype dtype,
                         int64_t n, int64_t heads, int64_t kv_heads, int64_t head_dim,
                         const int32_t* block_table, int64_t table_stride, int64_t block_size,
                         const int32_t* seq_rows, const int32_t* lengths, float scale, void* out);

/* ---- Fused decode layer (CPU library only) ---------------------------------------------------
 *
 * 7. One decoder layer (Llama / Qwen2 / Qwen3 layout, SiLU-gated MLP) over n new tokens (meant for
 *    a decode step's 1-64; more run in blocks of 64 rows, each block reading the weights once, and
 *    in passes of 256 rows, so the layer's scratch stays bounded), fp32 activations, in place.
 *    Rows may belong to one sequence at consecutive positions (a prefill packed beside decode
 *    rows): every row's key and value is written before any row attends, so with
 *    lengths[r] = its position + 1 each row sees its sequence causally.
 *      x = rmsnorm(h) * input_norm
 *      q, k, v = x W_q^T + b_q, x W_k^T + b_k, x W_v^T + b_v        (one weight stream each)
 *      q, k = rmsnorm per head * q_norm, k_norm                      (when given: Qwen3)
 *      q, k = q cos + rotate_half(q) sin, the same for k               (HF's rotate-half layout)
 *      key_pool[write_slots[r]], value_pool[write_slots[r]] = k, v of row r
 *      a = arpo_paged_attention(q, pools, block tables, lengths, scale)   (the new key included)
 *      h += a W_o^T + b_o
 *      x = rmsnorm(h) * post_norm
 *      h += (silu(x W_gate^T + b_gate) * (x W_up^T + b_up)) W_down^T + b_down
 *    rmsnorm(y) = y / sqrt(mean(y^2) + eps). Every weight is read once per 64 rows, the whole
 *    layer runs in one OpenMP team (no thread start per product). hidden fp32 [n, hidden_size],
 *    contiguous; cos, sin fp32 [n, head_dim] (the rows' positions, rotary scaling applied); pools
 *    fp32 [num_slots, kv_heads, head_dim]; block_table, table_stride, block_size, seq_rows and
 *    lengths as for arpo_paged_attention. Weights row-major [out, in], contiguous (or packed by
 *    arpo_pack_bf16), all of weight_dtype (bf16: the products' inputs rounded to bf16, as arpo_decode_matmul's); norms,
 *    residuals and biases fp32, a NULL bias or q/k norm is absent. num_threads <= 0: OpenMP's
 *    default; small layers use fewer threads (about 8M of weights x (8 + rows) per thread). */
typedef struct arpo_decode_layer_weights {
  const float* input_norm;  /* [hidden_size] */
  const void* q;            /* [heads * head_dim, hidden_size] */
  const float* q_bias;
  const void* k;            /* [kv_heads * head_dim, hidden_size] */
  const float* k_bias;
  const void* v;            /* [kv_heads * head_dim, hidden_size] */
  const float* v_bias;
  const float* q_norm;      /* [head_dim] or NULL */
  const float* k_norm;      /* [head_dim] or NULL */
  const void* o;            /* [hidden_size, heads * head_dim] */
  const float* o_bias;
  const float* post_norm;   /* [hidden_size] */
  const void* gate;         /* [intermediate, hidden_size] */
  const float* gate_bias;
  const void* up;           /* [intermediate, hidden_size] */
  const float* up_bias;
  const void* down;         /* [hidden_size, intermediate] */
  const float* down_bias;
  arpo_dtype weight_dtype;
} arpo_decode_layer_weights;

int arpo_decode_layer(float* hidden, int64_t n, int64_t hidden_size, int64_t heads, int64_t kv_heads,
                      int64_t head_dim, int64_t intermediate, float rms_eps,
                      const arpo_decode_layer_weights* weights, const float* cos, const float* sin,
                      float* key_pool, float* value_pool, const int64_t* write_slots,
                      const int32_t* block_table, int64_t table_stride, int64_t block_size,
                      const int32_t* seq_rows, const int32_t* lengths, float scale, int32_t num_threads);

/* CUDA library: the same four kernels and paged attention, queued on `stream` (a cudaStream_t;
 * NULL = legacy default stream). Pointers are device pointers. */
int arpo_cuda_token_stats(const void* logits, arpo_dtype dtype, int64_t n, int64_t v, int64_t row_stride,
                          const int64_t* targets, float temperature,
                          float* logprob, float* entropy, float* logsumexp, void* stream);
int arpo_cuda_sample(const void* logits, arpo_dtype dtype, int64_t b, int64_t v, int64_t row_stride,
                     float temperature, float top_p, int32_t top_k, uint64_t seed, uint64_t step,
                     int64_t* token, float* logprob, float* entropy, void* stream);
int arpo_cuda_clipped_surrogate(const float* logprob, const float* old_logprob, const float* advantage,
                                const float* mask, int64_t num_seqs, int64_t seq_len,
                                float eps_low, float eps_high, float dual_clip_c,
                                float clip_grad_low, float clip_grad_high, arpo_agg_mode mode,
                                float* loss, float* grad_logprob, float* stats, void* stream);
int arpo_cuda_logprob_backward(void* logits, arpo_dtype dtype, int64_t n, int64_t v, int64_t row_stride,
                               const int64_t* targets, const float* logsumexp, const float* entropy,
                               const float* grad_logprob, const float* grad_entropy, float temperature,
                               void* stream);
/* 6 on the GPU: the same arguments and semantics (fp32 accumulation in another order, so equal
 * up to rounding); q, the pools, block_table, seq_rows, lengths and out are device pointers.
 * head_dim at most 256. Long rows are cut into spans merged afterwards when there are too few
 * (row, kv head) pairs to fill the GPU (a stream-ordered workspace then). */
int arpo_cuda_paged_attention(const void* q, const void* key_pool, const void* value_pool, arpo_dtype dtype,
                              int64_t n, int64_t heads, int64_t kv_heads, int64_t head_dim,
                              const int32_t* block_table, int64_t table_stride, int64_t block_size,
                              const int32_t* seq_rows, const int32_t* lengths, float scale, void* out,
                              void* stream);
const char* arpo_cuda_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* ARPO4J_H */
