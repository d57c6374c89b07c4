// OpenBLAS's threaded products on this library's own threads, while a caller asks for them.
//
// libtorch (bytedeco) links OpenBLAS's pthreads build. Its own thread pool spins after every call
// and, called from inside libtorch's OpenMP regions (attention), queues the callers behind each
// other while they spin too; on a busy machine a training step took 6x longer (README, CPU threads),
// so arpo4j runs it with OPENBLAS_NUM_THREADS=1. OpenBLAS >= 0.3.27 can instead hand a threaded
// call's jobs to the caller (openblas_set_threads_callback_function). The jobs of one call wait for
// each other (they share packed panels), so all must run at once: the calling thread runs job 0,
// helper threads the others, and idle helpers sleep. OpenBLAS gives job i the buffers of its
// "cpu" i, so threaded calls run one at a time. The thread count is OpenBLAS's blas_cpu_number,
// written directly: openblas_set_num_threads would also start OpenBLAS's own pool, whose threads
// watch the same per-cpu slots that the jobs mark.
#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common.h"

namespace {

using DoJob = void (*)(int job, void* job_data, int dojob_data);
using RunJobs = void (*)(int sync, DoJob dojob, int jobs, size_t job_size, void* job_data,
                         int dojob_data);

class JobPool {
 public:
  void run(DoJob dojob, int jobs, size_t job_size, void* job_data, int dojob_data) {
    std::lock_guard<std::mutex> one_call(call_);
    std::unique_lock<std::mutex> lock(state_);
    while (static_cast<int>(helpers_) < jobs - 1) {
      int index = static_cast<int>(++helpers_);
      std::thread([this, index] { serve(index); }).detach();  // lives as long as the process
    }
    dojob_ = dojob;
    jobs_ = jobs;
    job_size_ = job_size;
    job_data_ = static_cast<char*>(job_data);
    dojob_data_ = dojob_data;
    pending_ = jobs - 1;
    ++generation_;
    lock.unlock();
    wake_.notify_all();
    dojob(0, job_data, dojob_data);
    lock.lock();
    done_.wait(lock, [this] { return pending_ == 0; });
  }

  int64_t calls() {  // one generation per threaded call
    std::lock_guard<std::mutex> lock(state_);
    return static_cast<int64_t>(generation_);
  }

 private:
  void serve(int index) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(state_);
    for (;;) {
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (index >= jobs_) continue;
      DoJob dojob = dojob_;
      void* data = job_data_ + static_cast<size_t>(index) * job_size_;
      int dojob_data = dojob_data_;
      lock.unlock();
      dojob(index, data, dojob_data);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::mutex call_;   // one threaded call at a time
  std::mutex state_;  // guards everything below
  std::condition_variable wake_, done_;
  size_t helpers_ = 0;
  uint64_t generation_ = 0;
  int pending_ = 0;
  DoJob dojob_ = nullptr;
  int jobs_ = 0;
  size_t job_size_ = 0;
  char* job_data_ = nullptr;
  int dojob_data_ = 0;
};

JobPool* pool() {
  static JobPool* p = new JobPool();  // never destroyed: detached helpers use it until exit
  return p;
}

void run_jobs(int /*sync*/, DoJob dojob, int jobs, size_t job_size, void* job_data,
              int dojob_data) {
  pool()->run(dojob, jobs, job_size, job_data, dojob_data);
}

// Every OpenBLAS in the process: JavaCPP loads two builds of the same soname (libopenblas.so.0 and
// libopenblas_nolapack.so.0), and which one serves libtorch's calls depends on load order.
struct OpenBlas {
  void (*install)(RunJobs);
  int (*parallel)();
  const char* (*config)();
  int* cpu_number;  // blas_cpu_number
};

// MAX_CPU_NUMBER, the size of OpenBLAS's per-cpu arrays, from "... MAX_THREADS=64 ..."; 0 if absent.
int max_threads(const OpenBlas& b) {
  const char* at = b.config == nullptr ? nullptr : std::strstr(b.config(), "MAX_THREADS=");
  return at == nullptr ? 0 : std::atoi(at + std::strlen("MAX_THREADS="));
}

int add_name(struct dl_phdr_info* info, size_t, void* names) {
  if (info->dlpi_name != nullptr && info->dlpi_name[0] != '\0') {
    static_cast<std::vector<std::string>*>(names)->emplace_back(info->dlpi_name);
  }
  return 0;
}

std::vector<OpenBlas> loaded_openblas() {
  std::vector<std::string> names;  // dlopen is not called under dl_iterate_phdr's lock
  dl_iterate_phdr(add_name, &names);
  std::vector<OpenBlas> all;
  for (const std::string& name : names) {
    void* lib = dlopen(name.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    if (lib == nullptr) continue;
    OpenBlas found{
        reinterpret_cast<void (*)(RunJobs)>(dlsym(lib, "openblas_set_threads_callback_function")),
        reinterpret_cast<int (*)()>(dlsym(lib, "openblas_get_parallel")),
        reinterpret_cast<const char* (*)()>(dlsym(lib, "openblas_get_config")),
        static_cast<int*>(dlsym(lib, "blas_cpu_number"))};
    dlclose(lib);  // RTLD_NOLOAD took a reference; the library stays loaded
    bool seen = false;  // a library linking OpenBLAS finds its symbols too
    for (const OpenBlas& b : all) seen = seen || b.cpu_number == found.cpu_number;
    if (found.cpu_number != nullptr && !seen) all.push_back(found);
  }
  return all;
}

std::mutex setup_mutex;
std::vector<OpenBlas>* installed = nullptr;  // once our callback is installed in each
int thread_limit = 0;                         // the least MAX_THREADS among them

int refuse(const char* message) {
  arpo::fail(message);
  return -1;
}

}  // namespace

ARPO_API int arpo_blas_threads(int threads) {
  if (threads < 1 || threads > 256) return refuse("blas threads must be in [1, 256]");
  std::lock_guard<std::mutex> lock(setup_mutex);
  if (installed == nullptr) {
    auto all = std::make_unique<std::vector<OpenBlas>>(loaded_openblas());
    if (all->empty()) return refuse("no OpenBLAS is loaded in this process");
    for (const OpenBlas& b : *all) {
      if (b.install == nullptr || b.parallel == nullptr || max_threads(b) < 1) {
        return refuse("this OpenBLAS cannot run its jobs on the caller's threads (< 0.3.27)");
      }
      if (b.parallel() != 1) return refuse("this OpenBLAS is not its pthreads build");
      if (*b.cpu_number != 1) {
        return refuse(("OpenBLAS already runs its own pool of " + std::to_string(*b.cpu_number) +
                       " threads (OPENBLAS_NUM_THREADS); left as it is")
                          .c_str());
      }
    }
    thread_limit = max_threads(all->front());
    for (const OpenBlas& b : *all) {
      b.install(run_jobs);
      thread_limit = std::min(thread_limit, max_threads(b));
    }
    installed = all.release();
  }
  int previous = *installed->front().cpu_number;
  for (const OpenBlas& b : *installed) *b.cpu_number = std::min(threads, thread_limit);
  return previous;
}

ARPO_API int64_t arpo_blas_threaded_calls(void) { return pool()->calls(); }
