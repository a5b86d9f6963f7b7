// Index structures for the replay buffer's sampler: a sum/min segment tree for prioritized replay
// and a Fenwick count index for sampling one category (e.g. negative-reward transitions) uniformly.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tennis {

// Leaves hold non-negative weights (0 = absent). Parents are recomputed from their children on every
// update (no running deltas), so the sums never drift however many updates a long run makes.
class SumTree {
 public:
  // capacity >= 1 leaves, all 0.
  explicit SumTree(int64_t capacity);

  int64_t capacity() const { return capacity_; }
  // Sets leaf i (0 <= i < capacity) to value (>= 0, finite; the caller checks).
  void set(int64_t i, double value);
  double get(int64_t i) const { return sum_[static_cast<size_t>(leaves_ + i)]; }
  // Sum of all leaves.
  double total() const { return sum_[1]; }
  // Smallest positive leaf; +infinity when every leaf is 0.
  double min_positive() const { return min_[1]; }
  // The leaf i whose cumulative range [sum(<i), sum(<=i)) contains mass, for 0 <= mass < total().
  // Never returns a zero leaf while total() > 0 (rounding at a boundary steps to the non-empty side).
  int64_t find(double mass) const;
  // Sets leaves [0, n) to values and the rest to 0, rebuilding all parents in O(capacity).
  void assign(const double* values, int64_t n);
  // Sets every leaf to 0.
  void clear();

 private:
  void rebuild();

  int64_t capacity_;
  int64_t leaves_;           // power of two >= capacity; leaf i lives at node leaves_ + i
  std::vector<double> sum_;  // node sums, node 1 is the root
  std::vector<float> min_;   // node minima over positive leaves (+inf for none)
};

// Counts of 0/1 flags per slot with O(log n) update, total and "k-th set slot" queries.
class CountIndex {
 public:
  explicit CountIndex(int64_t capacity);

  int64_t capacity() const { return capacity_; }
  // Adds delta (+1 or -1) at slot i.
  void add(int64_t i, int32_t delta);
  int64_t total() const { return total_; }
  // The slot holding the k-th set flag (0-based), for 0 <= k < total().
  int64_t find_kth(int64_t k) const;
  void clear();

 private:
  int64_t capacity_;
  int64_t top_bit_;  // largest power of two <= capacity, for binary lifting
  int64_t total_ = 0;
  std::vector<uint32_t> tree_;  // Fenwick tree, 1-based
};

}  // namespace tennis
