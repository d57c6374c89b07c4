// A barrier for the threads of one OpenMP team that spins briefly before it sleeps.
//
// arpo4j runs libgomp with OMP_WAIT_POLICY=PASSIVE (libtorch's threads must not spin while tool
// processes share the cores), under which a thread waiting at `omp barrier` goes to sleep at once;
// waking it costs about 10 us on the development VM (an empty 2-thread parallel region: 20 us).
// decode_layer meets at eight barriers a layer, most of whose waits are shorter than that, so it
// waits here instead: spinning up to kSpinMicros, then sleeping on a futex (decode at batch 1 and 4
// 4% faster, batch 16 unchanged, same process, alternating; 3-4% slower beside a busy process). Spinning only here, not process-wide (GOMP_SPINCOUNT),
// keeps libtorch's own regions passive: with a busy process beside it, a 128-token training step
// took 10-17% longer with libgomp's threads spinning.
#ifndef ARPO4J_TEAM_BARRIER_H
#define ARPO4J_TEAM_BARRIER_H

#include <linux/futex.h>
#include <omp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>

namespace arpo {

class TeamBarrier {
 public:
  // Returns when every thread of the calling team has called wait() as often as this thread;
  // what each wrote before is visible to all after.
  void wait() {
    const int team = omp_get_num_threads();
    if (team == 1) return;
    const uint32_t generation = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == team) {
      arrived_.store(0, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_seq_cst);
      if (sleepers_.load(std::memory_order_seq_cst) > 0) futex(FUTEX_WAKE_PRIVATE, INT_MAX);
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    if (unspun_waits.load(std::memory_order_relaxed) > 0) {
      unspun_waits.fetch_sub(1, std::memory_order_relaxed);
    } else {
      const auto deadline = start + std::chrono::microseconds(kSpinMicros);
      for (int spin = 1;; ++spin) {
        if (generation_.load(std::memory_order_acquire) != generation) return;
        __builtin_ia32_pause();
        if (spin % 64 == 0 && std::chrono::steady_clock::now() > deadline) break;
      }
    }
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    // the futex rechecks the generation, so a bump between the load and the sleep is not missed
    while (generation_.load(std::memory_order_seq_cst) == generation) futex(FUTEX_WAIT_PRIVATE, generation);
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    if (std::chrono::steady_clock::now() - start > std::chrono::microseconds(kDescheduledMicros)) {
      unspun_waits.store(kUnspunAfterDescheduled, std::memory_order_relaxed);
    }
  }

 private:
  static constexpr int kSpinMicros = 50;
  // A wait this long means a thread waited for was off its core (another process had it, a
  // scheduler slice is milliseconds): then the next waits, by any team, sleep at once, since
  // spinning would only take a core from the threads being waited for.
  static constexpr int kDescheduledMicros = 500;
  static constexpr int kUnspunAfterDescheduled = 256;
  static inline std::atomic<int> unspun_waits{0};

  void futex(int op, uint32_t value) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&generation_), op, value, nullptr, nullptr, 0);
  }

  std::atomic<uint32_t> generation_{0};
  std::atomic<int> arrived_{0};
  std::atomic<int> sleepers_{0};
};

}  // namespace arpo

#endif
