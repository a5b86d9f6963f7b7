// The learner's state that Maddpg, the update paths (update_path.h) and the checkpoint code share:
// the networks of each agent (or of both, with shared parameters) with their flat parameter, target
// and Adam buffers, the agents' views of joint tensors, and the pieces of the update that the LibTorch
// and graph paths both run. Internal to the core (LibTorch in the header).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "batch.h"
#include "maddpg_config.h"
#include "networks.h"
#include "noise.h"

namespace tennis {

// Joint observation and action widths (all agents).
constexpr int64_t kJointObs = kAgents * kObsSize;
constexpr int64_t kJointAction = kAgents * kActionSize;
// |action| above this counts as saturated in UpdateStats::saturation.
constexpr double kSaturated = 0.99;

// The networks of one agent, or of both agents with shared_parameters.
struct Group {
  std::vector<int> agents;  // agents these networks act for
  Actor actor{nullptr}, target_actor{nullptr};
  std::vector<CentralCritic> critics, target_critics;  // one, or two with twin_critics
  std::vector<torch::Tensor> actor_params, critic_params;
  torch::Tensor actor_flat, target_actor_flat, critic_flat, target_critic_flat;
  std::unique_ptr<torch::optim::Adam> actor_opt, critic_opt;
  // Adam moments, flat per network; the optimizers' per-tensor states are views of them.
  torch::Tensor actor_exp_avg, actor_exp_avg_sq, critic_exp_avg, critic_exp_avg_sq;
  // Adam steps counted by the paths that step Adam themselves (LibTorch's optimizers count in their states).
  int64_t actor_adam_step = 0, critic_adam_step = 0;
};

struct Learner {
  MaddpgConfig config;
  torch::Device device{torch::kCPU};
  std::vector<Group> groups;
  // Index tensors (on the device) of view_order(i) where it is not the identity.
  std::vector<torch::Tensor> view_index;
  Rng target_rng;       // MATD3 target smoothing noise
  int64_t updates = 0;  // updates run (checkpointed)

  // Builds the networks from a validated config: device, LibTorch's thread count, initial weights
  // drawn from Rng(config.seed), targets copied from them, flat buffers and optimizers.
  explicit Learner(const MaddpgConfig& config);

  const Group& group_of(int agent) const { return groups[config.shared_parameters ? 0 : agent]; }
  Group& group_of(int agent) { return groups[config.shared_parameters ? 0 : agent]; }
  // "shared", or "agent<n>".
  std::string group_name(size_t n) const;
  // Named modules of group g in layout order.
  std::vector<std::pair<std::string, torch::nn::Module*>> named_nets(Group& g) const;
  // Every parameter tensor in layout order with its name.
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters();

  // LibTorch's OpenMP thread count is per calling thread: an update on a libuv worker thread would
  // otherwise run with that thread's default, whatever the constructor set on the main thread.
  void apply_threads() const;

  // The agent order of agent i's view of the joint input: own first with shared parameters (so one
  // network serves both), the fixed order 0, 1 otherwise (the notebook's layout).
  std::vector<int64_t> view_order(int i) const;
  // t [B, agents, D] seen by agent i: [B, agents * D] in view order.
  torch::Tensor view_of(const torch::Tensor& t, int i) const;
  // Rows of every agent of group g stacked: cat over agents of view_of(t, i).
  torch::Tensor group_view(const Group& g, const torch::Tensor& t) const;
  // Per-agent columns [B, agents] -> group rows [R, 1].
  torch::Tensor group_column(const Group& g, const torch::Tensor& t) const;
  // Actions of every agent of group g under `actor` for obs [B, agents, 24] -> [B, |agents|, 2].
  static torch::Tensor group_actions(const Group& g, Actor& actor, const torch::Tensor& obs);
  // Joint actions [B, agents, 2] of every agent's `actor` (target or online) on obs.
  torch::Tensor joint_actions(const torch::Tensor& obs, bool target);
  // Greedy actions [n][agents][2] of the online actors for obs [n][agents][24] (host arrays).
  void act(const float* obs, int64_t n, float* actions);

  // ---- the update's pieces, shared by the LibTorch and graph paths ------------------------------

  // Target joint actions mu'(o') of every target actor; with MATD3 smoothing draws eps (defined only
  // when target_noise > 0): clip(mu'(o') + clip(sigma * eps, -c, c), -1, 1).
  torch::Tensor next_joint_actions(const torch::Tensor& next_obs, const torch::Tensor& eps);
  // TD target of group g's rows: r + gamma * (1 - d) * Q'(o', a'), the minimum of twin target critics.
  torch::Tensor td_target(Group& g, const torch::Tensor& rewards, const torch::Tensor& dones,
                          const torch::Tensor& next_obs, const torch::Tensor& next_actions);
  // Critic loss of group g towards y: MSE, importance-weighted by weights [B, 1] when defined, summed
  // over twin critics. Returns the loss and the first critic's Q.
  std::pair<torch::Tensor, torch::Tensor> critic_loss_of(Group& g, const torch::Tensor& input, const torch::Tensor& y,
                                                         const torch::Tensor& weights);
  // The actor objective's critic input for group g: (o, a) with each agent's own action replaced by
  // its policy's mu [B, |agents|, 2].
  torch::Tensor policy_input(const Group& g, const torch::Tensor& obs_v, const torch::Tensor& actions,
                             const torch::Tensor& mu) const;
  // |y - Q| of group g's rows [|agents| * B, 1] into td_per_agent, by agent.
  void scatter_td(const Group& g, const torch::Tensor& y, const torch::Tensor& q,
                  std::vector<torch::Tensor>& td_per_agent) const;
  // Polyak soft update (as SB3): target <- (1 - tau) * target + tau * online, one flat buffer each.
  void soft_update();
};

void set_requires_grad(const std::vector<torch::Tensor>& params, bool on);

// Makes the optimizer's per-parameter Adam states views of two flat buffers (exp_avg, exp_avg_sq;
// allocated on first use, reused after), in the order of `params`, keeping the values and step
// already there (for instance just loaded from a checkpoint). Returns the step count.
int64_t flatten_adam_state(torch::optim::Adam& optimizer, const std::vector<torch::Tensor>& params,
                           torch::Tensor& exp_avg, torch::Tensor& exp_avg_sq);

}  // namespace tennis
