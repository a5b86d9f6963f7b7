// Batches for Maddpg::update(k, source) sampled from the native replay buffer, with priorities fed back
// when it is prioritized; uniform sampling (no filter in force, no priorities) is also offered to the
// "graph" update, which then mirrors the buffer on the device and samples there.
#pragma once
#include <memory>

#include "batch_source.h"
#include "replay_buffer.h"

namespace tennis {

class ReplayBatchSource : public BatchSource {
 public:
  ReplayBatchSource(std::shared_ptr<ReplayBuffer> buffer, SampleOptions options)
      : buffer_(std::move(buffer)), options_(options) {}

  void next(BatchView& out) override {
    if (!buffer_->prioritized()) {
      // Uniform sampling: no importance weights (plain MSE) and no slots to report back.
      out.weights = nullptr;
      out.indices = nullptr;
    }
    buffer_->sample(out.size, options_, out);
  }

  void feedback(const BatchView& batch, const float* td_errors) override {
    if (buffer_->prioritized() && batch.indices) buffer_->update_priorities(batch.size, batch.indices, td_errors);
  }

  const ReplayBuffer* uniform_buffer() const override {
    const bool filtered = options_.neg_sampling_ratio >= 0 || buffer_->total_added() < options_.early_training_steps;
    return buffer_->prioritized() || filtered ? nullptr : buffer_.get();
  }

 private:
  std::shared_ptr<ReplayBuffer> buffer_;
  SampleOptions options_;
};

}  // namespace tennis
