// A small persistent thread team that runs the blocks of one job. Each thread (the caller is thread
// 0) owns a contiguous segment of the blocks, so its envs stay in its core's cache from step to step,
// and steals from the other segments once its own is done. The caller waits only for blocks a
// helper has actually started: on a busy machine a helper that is not scheduled in time simply gets
// no blocks, so a step never waits on a descheduled thread, as a fork-join barrier would. Results do
// not depend on which thread runs a block, as long as blocks touch disjoint data.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace tennis {

class BlockTeam {
 public:
  // Most blocks one run() accepts (block indices travel in 16 bits of a ticket).
  static constexpr int kMaxBlocks = 0xFFFF;

  // `helpers` threads besides the caller (>= 1).
  explicit BlockTeam(int helpers) : cursors_(new Cursor[helpers + 1]), threads_(helpers + 1) {
    for (int i = 1; i <= helpers; ++i) workers_.emplace_back([this, i] { work(i); });
  }

  ~BlockTeam() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  BlockTeam(const BlockTeam&) = delete;
  BlockTeam& operator=(const BlockTeam&) = delete;

  int helpers() const { return threads_ - 1; }

  // Runs job(b) for b in [0, blocks) on the caller and the helpers; returns when all are done.
  // Not reentrant: one run() at a time per team. Allocates nothing.
  template <typename Job>
  void run(int blocks, Job& job) {
    if (blocks > kMaxBlocks) throw std::invalid_argument("BlockTeam: too many blocks");
    const Task task{[](void* context, int block) { (*static_cast<Job*>(context))(block); }, &job};
    uint32_t generation;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation = ++generation_;
      for (int s = 0; s < threads_; ++s) {
        const uint64_t begin = uint64_t(blocks) * s / threads_, end = uint64_t(blocks) * (s + 1) / threads_;
        cursors_[s].ticket.store(pack(generation, begin, end), std::memory_order_release);
      }
      task_ = task;
      finished_.store(0, std::memory_order_relaxed);
      published_.store(generation, std::memory_order_release);
    }
    wake_.notify_all();
    claim_and_run(generation, 0, task);
    // Only blocks that a helper claimed remain; those helpers are running them now.
    while (finished_.load(std::memory_order_acquire) < blocks) std::this_thread::yield();
  }

 private:
  struct Task {
    void (*call)(void* context, int block);
    void* context;
  };
  // One segment's claim state: (generation << 32) | (next << 16) | end, in one atomic so that a helper
  // still holding an old generation can never claim a block of a newer job.
  struct alignas(64) Cursor {
    std::atomic<uint64_t> ticket{0};
  };
  // How long a helper polls for the next job before it sleeps on the condition variable.
  static constexpr std::chrono::microseconds kPoll{200};

  static uint64_t pack(uint32_t generation, uint64_t next, uint64_t end) {
    return (uint64_t(generation) << 32) | (next << 16) | end;
  }

  // Drains this thread's segment, then steals from the others'.
  void claim_and_run(uint32_t generation, int self, const Task& task) {
    for (int k = 0; k < threads_; ++k) {
      std::atomic<uint64_t>& ticket = cursors_[(self + k) % threads_].ticket;
      for (;;) {
        uint64_t value = ticket.load(std::memory_order_acquire);
        int block;
        do {
          if (static_cast<uint32_t>(value >> 32) != generation) return;  // a newer job started
          block = static_cast<int>((value >> 16) & 0xFFFF);
          if (block >= static_cast<int>(value & 0xFFFF)) break;
        } while (!ticket.compare_exchange_weak(value, value + (uint64_t(1) << 16), std::memory_order_acq_rel));
        if (block >= static_cast<int>(value & 0xFFFF)) break;  // segment empty
        task.call(task.context, block);
        finished_.fetch_add(1, std::memory_order_acq_rel);
      }
    }
  }

  void work(int self) {
    uint32_t seen = 0;
    for (;;) {
      // Steps usually follow each other closely: poll for a while before sleeping, since a
      // condition-variable wake-up can take longer than a whole step. The poll is bounded in time so
      // that an idle env (e.g. while the learner updates) does not keep a core busy.
      const auto poll_until = std::chrono::steady_clock::now() + kPoll;
      while (published_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < poll_until)
        std::this_thread::yield();
      Task task;
      uint32_t generation;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation = generation_;
        task = task_;
      }
      claim_and_run(generation, self, task);
    }
  }

  std::unique_ptr<Cursor[]> cursors_;
  int threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  uint32_t generation_ = 0;
  std::atomic<uint32_t> published_{0};  // generation_, readable without the mutex
  Task task_{nullptr, nullptr};
  std::atomic<int> finished_{0};
};

}  // namespace tennis
