// Agreement of two implementations of the update (fused, LibTorch, CUDA graph, the PyTorch reference)
// after the same updates from the same parameters, for the C++ tests.
#pragma once
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "maddpg.h"

namespace tennis::testing {

// Agreement of two implementations after some updates from the same parameters p0, per tensor:
// |a - b| <= kParityTolerance * |b - p0| (2-norms over the tensor): the difference, measured against what
// the updates changed. They round differently (the fused kernels' summation orders are not BLAS's),
// so their gradients differ by float rounding: ~1e-7 to 1e-6 of a sum of 37-256 terms, more for an
// element whose terms nearly cancel. Adam's step m / sqrt(v) passes a gradient's difference relative
// to its typical size on to the step, so the changes differ by about that fraction. Measured across
// the OpenBLAS kernel sets of scripts/test-portable.sh: at most 2.0e-5 in these tests and 7.0e-6 against the
// PyTorch reference (test/maddpg/parity.test.ts). Bugs that change a gradient's direction (a dropped
// ReLU mask, a missing 1 - done) fail the tests' checks of the update's stats first; leaving out tanh's derivative in
// the actor gradient, a factor of ~0.9-1 for the small actions of a new actor that Adam's scale
// invariance mostly hides, changes the parameters by 1.3e-4 of the change and fails.
constexpr double kParityTolerance = 1e-4;

// The worst over tensors of |a - b| / |b - start| (2-norms; kParityTolerance), and where.
inline std::pair<double, std::string> update_difference(const Maddpg& m, const std::vector<float>& a,
                                                        const std::vector<float>& b, const std::vector<float>& start) {
  double worst = 0;
  std::string name;
  for (const auto& p : m.parameter_layout()) {
    double diff = 0, moved = 0;
    for (int64_t k = p.offset; k < p.offset + p.numel; ++k) {
      const double d = double(a[size_t(k)]) - b[size_t(k)], change = double(b[size_t(k)]) - start[size_t(k)];
      diff += d * d;
      moved += change * change;
    }
    const double ratio = diff == 0 ? 0 : moved == 0 ? INFINITY : std::sqrt(diff / moved);
    if (ratio >= worst) worst = ratio, name = p.name;
  }
  return {worst, name};
}

}  // namespace tennis::testing
