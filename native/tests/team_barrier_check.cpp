// TeamBarrier (src/team_barrier.h) against its contract: after every wait, each thread sees what
// every other thread wrote before it. Teams of 2 threads and of more threads than cores (waits that
// spin, sleep, and, after a phase longer than kDescheduledMicros, skip the spin); phases of random
// length so that the last thread to arrive changes. Exits 1 with the count of stale reads.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "../src/team_barrier.h"

namespace {

// Busy work of about `micros` microseconds (a phase of the team's work).
void work_for(int micros) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
  while (std::chrono::steady_clock::now() < end) {
  }
}

long stale_reads(int threads, long rounds) {
  arpo::TeamBarrier barrier;
  std::vector<long> written(static_cast<size_t>(threads) * 16, -1);  // a cache line per thread
  long stale = 0;
#pragma omp parallel num_threads(threads) reduction(+ : stale)
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    std::mt19937 rng(static_cast<unsigned>(t) + 1);
    for (long r = 0; r < rounds; ++r) {
      const unsigned draw = rng() % 1000;
      if (draw == 0) work_for(1000);       // past the spin and kDescheduledMicros
      else if (draw < 20) work_for(80);    // past the spin: the others sleep
      else if (draw < 200) work_for(5);
      written[static_cast<size_t>(t) * 16] = r;
      barrier.wait();
      for (int u = 0; u < team; ++u) stale += written[static_cast<size_t>(u) * 16] != r;
      barrier.wait();  // nobody writes round r + 1 before all have read round r
    }
  }
  return stale;
}

}  // namespace

int main() {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  long failed = 0;
  for (int threads : {2, cores + 1}) {
    const long rounds = threads > cores ? 2000 : 20000;
    const auto start = std::chrono::steady_clock::now();
    const long stale = stale_reads(threads, rounds);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("team barrier: %d threads on %d cores, %ld rounds, %ld stale reads, %.2f s\n", threads, cores,
                rounds, stale, seconds);
    failed += stale;
  }
  return failed == 0 ? 0 : 1;
}
