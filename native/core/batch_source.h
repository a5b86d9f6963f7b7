// Where Maddpg::update(k, source) gets its batches: the replay buffer's adapter (replay_source.h), a
// test's generator, ...
#pragma once
#include <functional>
#include <utility>

#include "batch.h"

namespace tennis {

class ReplayBuffer;

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Fills the arrays of `out` (allocated by the caller for out.size rows, weights and indices
  // included) with the next batch. May set out.weights / out.indices to null when it has none.
  virtual void next(BatchView& out) = 0;
  // The |TD errors| of the batch last filled (size rows), e.g. for prioritised replay. Default: ignored.
  virtual void feedback(const BatchView& batch, const float* td_errors) {}
  // The buffer next() samples uniformly from, when that is all it does (no filter, no priorities):
  // impl "graph" then mirrors its records on the device and samples there. Default: none.
  virtual const ReplayBuffer* uniform_buffer() const { return nullptr; }
};

// A BatchSource from callables (the feedback one optional).
class CallbackBatchSource : public BatchSource {
 public:
  using Next = std::function<void(BatchView&)>;
  using Feedback = std::function<void(const BatchView&, const float*)>;
  explicit CallbackBatchSource(Next next, Feedback feedback = {})
      : next_(std::move(next)), feedback_(std::move(feedback)) {}
  void next(BatchView& out) override { next_(out); }
  void feedback(const BatchView& batch, const float* td) override {
    if (feedback_) feedback_(batch, td);
  }

 private:
  Next next_;
  Feedback feedback_;
};

}  // namespace tennis
