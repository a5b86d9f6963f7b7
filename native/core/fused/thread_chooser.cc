#include "thread_chooser.h"

#include <algorithm>

namespace tennis::fused {
namespace {

// Weight of the newest update in best_'s running mean.
constexpr double kSmoothing = 0.05;
// A probe must be this much faster than the count in use to replace it.
constexpr double kMargin = 0.95;

}  // namespace

ThreadChooser::ThreadChooser(int max_threads) : max_(std::max(1, max_threads)) {
  best_ = max_;
  start_measuring(max_);
}

void ThreadChooser::start_measuring(int count) {
  current_ = count;
  measuring_ = max_ > 1;
  samples_ = 0;
  sum_ = 0;
}

void ThreadChooser::record(double seconds) {
  if (max_ <= 1) return;
  if (!measuring_) {
    best_time_ += kSmoothing * (seconds - best_time_);
    // Re-measure the other count when due, or at once when the count in use got slower than the
    // other one was when last measured (the machine's load changed).
    if (--until_probe_ <= 0 || kMargin * best_time_ > other_time_) start_measuring(best_ == 1 ? max_ : 1);
    return;
  }
  ++samples_;
  if (samples_ > 1) sum_ += seconds;
  // A probe far slower than the count in use ends at its first update.
  const bool hopeless = best_time_ > 0 && seconds > kHopeless * best_time_;
  if (samples_ < kSamples && !hopeless) return;
  const double mean = samples_ > 1 ? sum_ / double(samples_ - 1) : seconds;
  if (best_time_ == 0) {
    // The opening measurement of max_ threads; 1 thread is measured next, as a probe against it.
    best_time_ = mean;
    start_measuring(1);
    return;
  }
  measuring_ = false;
  if (mean < kMargin * best_time_) {
    other_time_ = best_time_;
    best_ = current_;
    best_time_ = mean;
    gap_ = kFirstGap;
  } else {
    other_time_ = mean;
    gap_ = std::min(gap_ * 2, kMaxGap);
  }
  current_ = best_;
  until_probe_ = gap_;
}

}  // namespace tennis::fused
