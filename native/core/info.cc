// Runtime facts: versions from compile-time macros, BLAS from the libraries mapped into the process.
#include "info.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <fstream>
#include <stdexcept>

#ifdef TENNIS_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace tennis {
namespace {

// Which BLAS the dynamic linker actually mapped: Debian's alternatives make libblas.so.3 point at
// OpenBLAS or the reference BLAS (~7x slower for our updates), so the path is the only honest answer.
std::string loaded_blas() {
  std::ifstream maps("/proc/self/maps");
  std::string line, found;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (path.find("openblas") != std::string::npos || path.find("libblas") != std::string::npos ||
        path.find("libmkl") != std::string::npos || path.find("blis") != std::string::npos) {
      found = path;
      if (path.find("openblas") != std::string::npos || path.find("mkl") != std::string::npos) break;
    }
  }
  return found.empty() ? "unknown" : found;
}

}  // namespace

RuntimeInfo runtime_info() {
  RuntimeInfo info;
  info.version = TENNIS_VERSION;
  info.torch_version = TORCH_VERSION;
#ifdef TENNIS_WITH_CUDA
  info.cuda_built = true;
#endif
  info.cuda_available = torch::cuda::is_available();
#ifdef TENNIS_WITH_CUDA
  if (info.cuda_available) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) info.cuda_device = prop.name;
  }
#endif
  info.num_threads = torch::get_num_threads();
  info.blas = loaded_blas();
  return info;
}

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("threads must be >= 1, got " + std::to_string(n));
  torch::set_num_threads(n);
}

}  // namespace tennis
