// Two threads for the fused update's two agent groups: the caller and one persistent worker, with a
// barrier between phases. Waits spin for a few microseconds, then block, so that an update on a busy
// machine (more runnable threads than cores) does not burn its share spinning for a preempted
// partner, as OpenMP's default spin-waiting does.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace tennis::fused {

class ThreadPair {
 public:
  ThreadPair();
  ~ThreadPair();
  ThreadPair(const ThreadPair&) = delete;
  ThreadPair& operator=(const ThreadPair&) = delete;

  // Runs job(0) on the calling thread and job(1) on the worker; returns when both have finished.
  // Inside the job, barrier() waits for the other side to reach its barrier() too.
  void run(const std::function<void(int)>& job);
  void barrier();

 private:
  // Waits until `counter` differs from `seen` (spin, then block on the condition variable).
  void wait_change(const std::atomic<uint64_t>& counter, uint64_t seen);
  // Increments `counter` and wakes any blocked waiter.
  void bump(std::atomic<uint64_t>& counter);
  void worker_loop();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::atomic<uint64_t> jobs_{0};      // jobs posted to the worker
  std::atomic<uint64_t> finished_{0};  // jobs the worker finished
  std::atomic<uint64_t> barrier_generation_{0};
  std::atomic<int> barrier_arrived_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int)>* job_ = nullptr;
  std::thread worker_;
};

}  // namespace tennis::fused
