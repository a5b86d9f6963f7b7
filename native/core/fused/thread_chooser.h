// The fused update's thread count, chosen at run time from the measured time per update. The fused
// path gives bit-identical results with any thread count (tests check it), so the choice changes speed
// only. It matters on a busy machine: two threads that hand work to each other many times per update
// (the shared-parameter networks split every matrix product) can be much slower than one when other
// processes hold the cores, and faster than one when the cores are free.
#pragma once
#include <cstdint>

namespace tennis::fused {

class ThreadChooser {
 public:
  // Updates measured per count (the first of them, a warm-up, not counted).
  static constexpr int kSamples = 4;
  // Updates between re-measurements of the count not in use, at first and at most.
  static constexpr int64_t kFirstGap = 200, kMaxGap = int64_t(1) << 15;
  // A probe that takes this many times the count in use's time per update stops at once.
  static constexpr double kHopeless = 4.0;

  // Starts with max_threads and compares it with 1 over the first updates, then re-measures the count
  // not in use after gaps that double while it keeps losing, or at once when the count in use becomes
  // slower than the other was; max_threads <= 1: always 1.
  explicit ThreadChooser(int max_threads);

  // The count to run the next update with.
  int threads() const { return current_; }
  // The seconds the update just run with threads() took.
  void record(double seconds);

 private:
  void start_measuring(int count);

  int max_;
  int best_ = 1;             // count in use between measurements
  int current_ = 1;          // count of the next update
  bool measuring_ = false;   // measuring current_ (the opening count, or a probe of the other one)
  int samples_ = 0;          // updates measured so far with current_
  double sum_ = 0;           // their seconds, warm-up excluded
  double best_time_ = 0;     // running mean seconds per update of best_ (0: not measured yet)
  double other_time_ = 0;    // seconds per update of the other count when last measured
  int64_t gap_ = kFirstGap;  // updates between probes; doubles while probes lose
  int64_t until_probe_ = 0;
};

}  // namespace tennis::fused
