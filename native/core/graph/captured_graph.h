// A CUDA graph of a piece of device work: run eagerly a few times (so that LibTorch's allocator,
// cuBLAS handles and autograd threads are set up), captured once on a side stream, then replayed with
// one launch. Used by the MADDPG "graph" update (graph_path.cc). Without CUDA in the build, constructing
// one throws std::runtime_error; available() says so up front.
#pragma once
#include <functional>
#include <memory>

namespace tennis::graph {

// True when this build has CUDA and a device is present.
bool available();

class CapturedGraph {
 public:
  // Runs `body` `warmup` times eagerly, then `after_warmup` (e.g. to undo what the warm-up changed),
  // then captures one run of `body`. Tensors `body` reads and writes must outlive the graph and keep
  // their storage (replay works on the addresses seen at capture).
  CapturedGraph(const std::function<void()>& body, const std::function<void()>& after_warmup, int warmup);
  ~CapturedGraph();
  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;

  // Launches the captured work on the current CUDA stream (asynchronous).
  void replay();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tennis::graph
