// The fused kernel levels (native/core/fused/kernels.h) this CPU can run, for tests that run a
// kernel or a whole update at each.
#pragma once
#include <vector>

#include "fused/kernels.h"

namespace tennis::fused {

// Portable first, widest last; the limit is left at the widest.
inline std::vector<KernelLevel> kernel_levels() {
  std::vector<KernelLevel> out;
  for (KernelLevel level : {KernelLevel::kPortable, KernelLevel::kAvx2, KernelLevel::kAvx512}) {
    limit_kernels(level);
    if (kernel_level() == level) out.push_back(level);
  }
  limit_kernels(KernelLevel::kAvx512);
  return out;
}

}  // namespace tennis::fused
