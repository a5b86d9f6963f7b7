// Sum/min segment tree (prioritized replay) and Fenwick count index (category sampling).
#include "sum_tree.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace tennis {

namespace {

// Float +infinity, the min-tree value of an empty subtree.
constexpr float kInf = std::numeric_limits<float>::infinity();

}  // namespace

SumTree::SumTree(int64_t capacity) : capacity_(capacity), leaves_(1) {
  if (capacity < 1) throw std::invalid_argument("SumTree capacity must be >= 1, got " + std::to_string(capacity));
  while (leaves_ < capacity) leaves_ <<= 1;
  sum_.assign(static_cast<size_t>(2 * leaves_), 0.0);
  min_.assign(static_cast<size_t>(2 * leaves_), kInf);
}

void SumTree::set(int64_t i, double value) {
  size_t node = static_cast<size_t>(leaves_ + i);
  sum_[node] = value;
  min_[node] = value > 0 ? static_cast<float>(value) : kInf;
  for (node >>= 1; node >= 1; node >>= 1) {
    sum_[node] = sum_[2 * node] + sum_[2 * node + 1];
    min_[node] = std::min(min_[2 * node], min_[2 * node + 1]);
  }
}

int64_t SumTree::find(double mass) const {
  size_t node = 1;
  const size_t leaves = static_cast<size_t>(leaves_);
  while (node < leaves) {
    const size_t left = 2 * node;
    // Going right needs mass beyond the left sum AND something on the right: with float rounding the
    // mass can land exactly on the total, which would otherwise walk into empty leaves.
    if (mass < sum_[left] || sum_[left + 1] <= 0.0) {
      node = left;
    } else {
      mass -= sum_[left];
      node = left + 1;
    }
  }
  return static_cast<int64_t>(node - leaves);
}

void SumTree::assign(const double* values, int64_t n) {
  std::fill(sum_.begin(), sum_.end(), 0.0);
  std::fill(min_.begin(), min_.end(), kInf);
  for (int64_t i = 0; i < n; ++i) {
    const size_t node = static_cast<size_t>(leaves_ + i);
    sum_[node] = values[i];
    min_[node] = values[i] > 0 ? static_cast<float>(values[i]) : kInf;
  }
  rebuild();
}

void SumTree::rebuild() {
  for (size_t node = static_cast<size_t>(leaves_) - 1; node >= 1; --node) {
    sum_[node] = sum_[2 * node] + sum_[2 * node + 1];
    min_[node] = std::min(min_[2 * node], min_[2 * node + 1]);
  }
}

void SumTree::clear() {
  std::fill(sum_.begin(), sum_.end(), 0.0);
  std::fill(min_.begin(), min_.end(), kInf);
}

CountIndex::CountIndex(int64_t capacity) : capacity_(capacity), top_bit_(1) {
  if (capacity < 1) throw std::invalid_argument("CountIndex capacity must be >= 1, got " + std::to_string(capacity));
  while (top_bit_ * 2 <= capacity) top_bit_ <<= 1;
  tree_.assign(static_cast<size_t>(capacity + 1), 0u);
}

void CountIndex::add(int64_t i, int32_t delta) {
  total_ += delta;
  for (int64_t x = i + 1; x <= capacity_; x += x & -x) {
    tree_[static_cast<size_t>(x)] += static_cast<uint32_t>(delta);  // wraps correctly for -1
  }
}

int64_t CountIndex::find_kth(int64_t k) const {
  // Binary lifting: the largest position whose prefix count is <= k, plus one.
  int64_t pos = 0;
  int64_t remaining = k;
  for (int64_t step = top_bit_; step > 0; step >>= 1) {
    const int64_t next = pos + step;
    if (next <= capacity_ && static_cast<int64_t>(tree_[static_cast<size_t>(next)]) <= remaining) {
      pos = next;
      remaining -= tree_[static_cast<size_t>(next)];
    }
  }
  return pos;  // 0-based slot = (1-based pos + 1) - 1
}

void CountIndex::clear() {
  std::fill(tree_.begin(), tree_.end(), 0u);
  total_ = 0;
}

}  // namespace tennis
