// The update on LibTorch ops + autograd (MaddpgConfig::impl "libtorch"): for each group, the critic
// (and twin) steps towards r_i + gamma * (1 - done_i) * Q'_i, then the actor along
// -Q_i(o, a with a_i = mu_i(o_i)) through the frozen critic, each with LibTorch's Adam; then the soft
// update through one flat buffer per network. Runs on the CPU or on CUDA, with every network option.
#include <torch/torch.h>

#include "learner.h"
#include "update_path.h"

namespace tennis {
namespace {

// Gradient norm of `params` before clipping, clipped to max_norm when max_norm > 0: PyTorch's
// clip_grad_norm_ step for step. LibTorch's C++ clip_grad_norm_ divides (max_norm / (norm + 1e-6))
// where Python's multiplies by the reciprocal, one rounding apart, so the reference's form is kept.
double clip_or_measure(const std::vector<torch::Tensor>& params, double max_norm) {
  std::vector<torch::Tensor> norms;
  for (const auto& p : params) {
    if (p.grad().defined()) norms.push_back(p.grad().detach().norm(2));
  }
  if (norms.empty()) return 0;
  const auto total = torch::stack(norms).norm(2);
  if (max_norm > 0) {
    const auto coefficient = ((total + 1e-6).reciprocal() * max_norm).clamp_max(1.0);
    for (const auto& p : params) {
      if (p.grad().defined()) p.grad().detach().mul_(coefficient);
    }
  }
  return total.item<double>();
}

class LibTorchPath : public UpdatePath {
 public:
  explicit LibTorchPath(Learner& learner) : learner_(learner) {}

  UpdateStats update_batch(const BatchView& batch, const float* noise, bool actor_step) override {
    Learner& l = learner_;
    const int64_t rows = batch.size;
    auto blob = [&](const float* data, std::vector<int64_t> sizes) {
      return torch::from_blob(const_cast<float*>(data), sizes, torch::kFloat32).to(l.device);
    };
    const auto obs = blob(batch.obs, {rows, kAgents, kObsSize});
    const auto actions = blob(batch.actions, {rows, kAgents, kActionSize});
    const auto rewards = blob(batch.rewards, {rows, kAgents});
    const auto next_obs = blob(batch.next_obs, {rows, kAgents, kObsSize});
    const auto dones = blob(batch.dones, {rows, kAgents});
    const torch::Tensor weights = batch.weights ? blob(batch.weights, {rows, 1}) : torch::Tensor();
    const torch::Tensor eps = noise ? blob(noise, {rows, kAgents, kActionSize}) : torch::Tensor();
    const auto next_actions = l.next_joint_actions(next_obs, eps);  // computed once for every group

    std::vector<torch::Tensor> td_per_agent(kAgents);
    StatsAccumulator sums;  // over groups
    for (auto& g : l.groups) {
      const auto y = l.td_target(g, rewards, dones, next_obs, next_actions);
      const auto obs_v = l.group_view(g, obs);
      const auto [critic_loss, q1] = l.critic_loss_of(g, torch::cat({obs_v, l.group_view(g, actions)}, 1), y, weights);
      g.critic_opt->zero_grad();
      critic_loss.backward();
      const double critic_norm = clip_or_measure(g.critic_params, l.config.grad_clip);
      g.critic_opt->step();
      sums.add_critic(critic_loss.item<double>(), q1.detach().mean().item<double>(), critic_norm);
      l.scatter_td(g, y, q1, td_per_agent);

      if (!actor_step) continue;
      // Actor: -Q_i with agent i's action replaced by mu_i(o_i); the critic is frozen (its weights
      // get no gradient, which also skips their computation).
      set_requires_grad(g.critic_params, false);
      const auto mu = Learner::group_actions(g, g.actor, obs);  // [B, |agents|, 2]
      const auto actor_loss = -g.critics[0]->forward(l.policy_input(g, obs_v, actions, mu)).mean();
      g.actor_opt->zero_grad();
      actor_loss.backward();
      const double actor_norm = clip_or_measure(g.actor_params, l.config.grad_clip);
      g.actor_opt->step();
      set_requires_grad(g.critic_params, true);
      sums.add_actor(actor_loss.item<double>(), actor_norm,
                     (mu.detach().abs() > kSaturated).to(torch::kFloat32).mean().item<double>());
    }
    if (actor_step) l.soft_update();

    UpdateStats stats = sums.means(1, actor_step ? 1 : 0);
    const auto td_mean = torch::stack(td_per_agent, 0).mean(0).to(torch::kCPU).contiguous();
    stats.td_errors.assign(td_mean.data_ptr<float>(), td_mean.data_ptr<float>() + rows);
    return stats;
  }

  bool update_sampled(int64_t, BatchSource&, UpdateStats&) override { return false; }
  void act(const float* obs, int64_t n, float* actions) override { learner_.act(obs, n, actions); }
  void parameters_changed() override {}
  bool counts_adam_steps() const override { return false; }

 private:
  Learner& learner_;
};

}  // namespace

std::unique_ptr<UpdatePath> make_libtorch_path(Learner& learner) { return std::make_unique<LibTorchPath>(learner); }

}  // namespace tennis
