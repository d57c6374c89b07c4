// Internals of decode_matmul shared with decode_layer: the weight-streaming product over a range
// of output features, callable from inside an OpenMP team.
#ifndef ARPO4J_DECODE_MATMUL_H
#define ARPO4J_DECODE_MATMUL_H

#include <algorithm>

#include "common.h"

namespace arpo {

constexpr int kTileN = 4;  // weight rows per tile: threads split the outputs in whole tiles
constexpr int64_t kPackedN = 64;  // outputs per block of ARPO_BF16_PACKED weights
// Rows multiplied per pass over the weights (a decode step's largest batch).
constexpr int64_t kRowBlock = 64;

// y[b, j] = (accumulate ? y[b, j] : 0) + sum_c x[b, c] W[j, c] (+ bias[j]) for all rows b.
struct Problem {
  const float* x;
  int64_t rows, k, x_stride;
  const void* weight;
  arpo_dtype dtype;
  int64_t n;
  const float* bias;
  float* y;  // [rows, n], contiguous
  bool accumulate;
};

// Computes outputs [n0, n1) of p for every row on the calling thread.
using DecodeRows = void (*)(const Problem& p, int64_t n0, int64_t n1);

bool decode_isa_supported(int isa);
int decode_best_isa();
// The kernel of an ARPO_ISA_* path (AUTO resolved); the CPU must have it.
DecodeRows decode_rows(int isa);

// run over outputs [n0, n1) of p in blocks of kRowBlock rows (more rows than a decode step: a
// prefill), each streaming the weights once while its rows stay in L2; all rows at once would
// re-read every row of x from memory for each tile of weights.
ARPO_INLINE void run_row_blocks(DecodeRows run, const Problem& p, int64_t n0, int64_t n1) {
  for (int64_t r0 = 0; r0 < p.rows; r0 += kRowBlock) {
    Problem block = p;
    block.x = p.x + r0 * p.x_stride;
    block.rows = std::min(kRowBlock, p.rows - r0);
    block.y = p.y + r0 * p.n;
    run(block, n0, n1);
  }
}

// Whether the decode products take weights of this dtype.
ARPO_INLINE bool decode_dtype(int dtype) {
  return dtype == ARPO_F32 || dtype == ARPO_BF16 || dtype == ARPO_BF16_PACKED;
}

// Whether an [n, k] weight can be packed: whole blocks of outputs, whole column pairs.
ARPO_INLINE bool packs(int64_t n, int64_t k) { return n % kPackedN == 0 && k % 2 == 0; }

// Outputs per unit that threads split p's outputs in: a tile, or a block of packed weights.
ARPO_INLINE int64_t split_unit(const Problem& p) { return p.dtype == ARPO_BF16_PACKED ? kPackedN : kTileN; }

// Units of p's outputs, the last one partial.
ARPO_INLINE int64_t units_of(const Problem& p) { return (p.n + split_unit(p) - 1) / split_unit(p); }

// Outputs [n0, n1) of split t of nt of an n-wide output, in whole units of `unit` outputs.
ARPO_INLINE void tile_split(int64_t n, int64_t unit, int64_t t, int64_t nt, int64_t& n0, int64_t& n1) {
  const int64_t units = (n + unit - 1) / unit;
  n0 = std::min(n, units * t / nt * unit);
  n1 = std::min(n, units * (t + 1) / nt * unit);
}

}  // namespace arpo

#endif
