#include "captured_graph.h"

#include <torch/torch.h>

#include <stdexcept>

#ifdef TENNIS_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace tennis::graph {

#ifdef TENNIS_WITH_CUDA

bool available() { return torch::cuda::is_available(); }

struct CapturedGraph::State {
  at::cuda::CUDAGraph graph;
};

CapturedGraph::CapturedGraph(const std::function<void()>& body, const std::function<void()>& after_warmup, int warmup)
    : state_(std::make_unique<State>()) {
  if (!available()) throw std::runtime_error("a CUDA graph needs a CUDA device, and none is available");
  // Capture must run on a stream other than the legacy default one; synchronising around it orders
  // the side stream's work after everything queued before and before everything queued after.
  torch::cuda::synchronize();
  {
    c10::cuda::CUDAStreamGuard on_side(c10::cuda::getStreamFromPool());
    for (int i = 0; i < warmup; ++i) body();
    after_warmup();
    torch::cuda::synchronize();
    state_->graph.capture_begin();
    body();
    state_->graph.capture_end();
  }
  torch::cuda::synchronize();
}

void CapturedGraph::replay() { state_->graph.replay(); }

#else

bool available() { return false; }

struct CapturedGraph::State {};

CapturedGraph::CapturedGraph(const std::function<void()>&, const std::function<void()>&, int) {
  throw std::runtime_error("this build of tennis-train has no CUDA (its LibTorch is CPU-only), so no CUDA graphs");
}

void CapturedGraph::replay() {}

#endif

CapturedGraph::~CapturedGraph() = default;

}  // namespace tennis::graph
