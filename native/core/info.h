// Build and runtime facts about the native core: versions, threads, CUDA, BLAS.
#pragma once
#include <string>

namespace tennis {

struct RuntimeInfo {
  std::string version;          // tennis-train core version (from package.json at build time)
  std::string torch_version;    // LibTorch version the core was compiled against
  bool cuda_built = false;      // the core was compiled with CUDA code (TENNIS_WITH_CUDA)
  bool cuda_available = false;  // a CUDA device is usable now
  std::string cuda_device;      // name of device 0, empty without CUDA
  int num_threads = 1;          // LibTorch intra-op threads
  std::string blas;             // BLAS library loaded in this process, where knowable
};

RuntimeInfo runtime_info();

// Sets LibTorch's intra-op thread count (its default depends on the host); rejects n < 1.
void set_num_threads(int n);

}  // namespace tennis
