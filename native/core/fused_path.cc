// The update of MaddpgConfig::impl "fused": fused::Updater (fused/engine.h) on the learner's flat
// parameter, target and Adam buffers, with its thread count per update picked by fused::ThreadChooser.
#include <torch/torch.h>

#include <chrono>

#include "fused/engine.h"
#include "fused/thread_chooser.h"
#include "learner.h"
#include "update_path.h"

namespace tennis {
namespace {

fused::NetBuffers net_buffers(torch::Tensor& params, torch::Tensor& target, torch::Tensor& exp_avg,
                              torch::Tensor& exp_avg_sq, int64_t* step) {
  return {params.data_ptr<float>(),     target.data_ptr<float>(), exp_avg.data_ptr<float>(),
          exp_avg_sq.data_ptr<float>(), params.numel(),           step};
}

std::vector<fused::GroupBuffers> group_buffers(Learner& learner) {
  std::vector<fused::GroupBuffers> out;
  for (auto& g : learner.groups) {
    fused::GroupBuffers b;
    b.agents = g.agents;
    b.actor = net_buffers(g.actor_flat, g.target_actor_flat, g.actor_exp_avg, g.actor_exp_avg_sq, &g.actor_adam_step);
    b.critic =
        net_buffers(g.critic_flat, g.target_critic_flat, g.critic_exp_avg, g.critic_exp_avg_sq, &g.critic_adam_step);
    out.push_back(std::move(b));
  }
  return out;
}

class FusedPath : public UpdatePath {
 public:
  explicit FusedPath(Learner& learner)
      : updater_(learner.config, group_buffers(learner)),
        // Up to the configured thread count, else LibTorch's, whichever is faster.
        threads_(learner.config.threads > 0 ? learner.config.threads : torch::get_num_threads()) {}

  UpdateStats update_batch(const BatchView& batch, const float* noise, bool actor_step) override {
    const auto start = std::chrono::steady_clock::now();
    UpdateStats stats = updater_.update(batch, noise, actor_step, threads_.threads());
    threads_.record(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return stats;
  }

  bool update_sampled(int64_t, BatchSource&, UpdateStats&) override { return false; }
  void act(const float* obs, int64_t n, float* actions) override { updater_.act(obs, n, actions); }
  void parameters_changed() override { updater_.parameters_changed(); }
  bool counts_adam_steps() const override { return true; }

 private:
  fused::Updater updater_;
  fused::ThreadChooser threads_;
};

}  // namespace

std::unique_ptr<UpdatePath> make_fused_path(Learner& learner) { return std::make_unique<FusedPath>(learner); }

}  // namespace tennis
