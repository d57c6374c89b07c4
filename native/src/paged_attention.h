// Internals of paged_attention shared with decode_layer: the work plan of one call and the loops
// an OpenMP team runs over it.
#ifndef ARPO4J_PAGED_ATTENTION_H
#define ARPO4J_PAGED_ATTENTION_H

#include <vector>

#include "common.h"
#include "team_barrier.h"

namespace arpo {

struct PagedArgs {
  const void* q;
  const void* key_pool;
  const void* value_pool;
  int64_t heads, kv_heads, head_dim, group;
  const int32_t* block_table;
  int64_t table_stride, block_size;
  const int32_t* seq_rows;
  const int32_t* lengths;
  float scale;
  void* out;
};

// One call's work: each row's keys cut into spans, items (span, kv head), their partial results.
struct PagedWork {
  int64_t n = 0, span = 0, items = 0, span_floats = 0;
  std::vector<int64_t> first;  // first span of each row; first[n] = all spans
  std::vector<float> partial;
};

// Plans the attention of n rows for a team of `threads` threads (on one thread, outside the team).
void paged_plan(const PagedArgs& a, int64_t n, int threads, PagedWork& w);

// Attention over fp32 pools, run by every thread of the calling OpenMP team (worksharing loops,
// each ending in barrier.wait()): out is written when all threads return.
void paged_attend_team_f32(const PagedArgs& a, PagedWork& w, TeamBarrier& barrier);

}  // namespace arpo

#endif
