// ThreadPair: one persistent worker thread handed one job per update, with spin-then-block waits.
#include "pair.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tennis::fused {
namespace {

// Spin iterations before blocking: a few microseconds, short next to an update's ~1 ms per agent.
constexpr int kSpins = 4000;

inline void pause() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

}  // namespace

ThreadPair::ThreadPair() : worker_([this] { worker_loop(); }) {}

ThreadPair::~ThreadPair() {
  stop_.store(true);
  bump(jobs_);
  worker_.join();
}

void ThreadPair::wait_change(const std::atomic<uint64_t>& counter, uint64_t seen) {
  for (int i = 0; i < kSpins; ++i) {
    if (counter.load(std::memory_order_acquire) != seen) return;
    pause();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return counter.load(std::memory_order_acquire) != seen; });
}

void ThreadPair::bump(std::atomic<uint64_t>& counter) {
  {
    // Under the mutex, so a waiter between its check and its sleep cannot miss the wake-up.
    std::lock_guard<std::mutex> lock(mutex_);
    counter.fetch_add(1, std::memory_order_acq_rel);
  }
  changed_.notify_all();
}

void ThreadPair::worker_loop() {
  uint64_t done = 0;
  for (;;) {
    wait_change(jobs_, done);
    if (stop_.load()) return;
    (*job_)(1);
    ++done;
    bump(finished_);
  }
}

void ThreadPair::run(const std::function<void(int)>& job) {
  const uint64_t finished = finished_.load(std::memory_order_acquire);
  job_ = &job;
  bump(jobs_);
  job(0);
  wait_change(finished_, finished);
  job_ = nullptr;
}

void ThreadPair::barrier() {
  const uint64_t generation = barrier_generation_.load(std::memory_order_acquire);
  if (barrier_arrived_.fetch_add(1, std::memory_order_acq_rel) == 1) {
    barrier_arrived_.store(0, std::memory_order_relaxed);
    bump(barrier_generation_);
    return;
  }
  wait_change(barrier_generation_, generation);
}

}  // namespace tennis::fused
