// The learner's networks and flat buffers, and the update's pieces that the LibTorch and graph paths
// share. Parameters, targets and Adam moments are flat buffers per network, so a soft update is one
// multiply-add per network and the fused path (fused/engine.h) runs its update on them directly.
#include "learner.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <type_traits>

namespace tennis {
namespace {

// Seed offset of the target smoothing noise, so that it and the init draw independent streams.
constexpr uint64_t kTargetNoiseSeedSalt = 0xbb67ae8584caa73bULL;

// Makes every tensor of `params` a view into one new contiguous buffer holding the same values, so
// that a soft update is one multiply-add over the buffer. Call before building optimizers.
torch::Tensor flatten_into_one(const std::vector<torch::Tensor>& params) {
  int64_t total = 0;
  for (const auto& p : params) total += p.numel();
  auto flat = torch::empty({total}, params.front().options().requires_grad(false));
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (auto p : params) {
    auto slice = flat.narrow(0, offset, p.numel());
    slice.copy_(p.detach().reshape({-1}));
    p.set_data(slice.view(p.sizes()));
    offset += p.numel();
  }
  return flat;
}

std::vector<torch::Tensor> params_of(const std::vector<CentralCritic>& critics) {
  std::vector<torch::Tensor> out;
  for (const auto& c : critics) {
    for (const auto& p : c->parameters()) out.push_back(p);
  }
  return out;
}

// The optimizer's state key of parameter p: LibTorch 1.13 keys by the TensorImpl address printed as a
// string, 2.x by the address itself.
template <typename Key>
Key state_key(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream os;
    os << p.unsafeGetTensorImpl();
    return os.str();
  } else {
    return Key(p.unsafeGetTensorImpl());
  }
}

}  // namespace

void set_requires_grad(const std::vector<torch::Tensor>& params, bool on) {
  for (auto p : params) p.requires_grad_(on);
}

int64_t flatten_adam_state(torch::optim::Adam& optimizer, const std::vector<torch::Tensor>& params,
                           torch::Tensor& exp_avg, torch::Tensor& exp_avg_sq) {
  int64_t total = 0;
  for (const auto& p : params) total += p.numel();
  if (!exp_avg.defined() || exp_avg.numel() != total) {
    exp_avg = torch::zeros({total}, params.front().options().requires_grad(false));
    exp_avg_sq = torch::zeros({total}, params.front().options().requires_grad(false));
  }
  torch::NoGradGuard no_grad;
  auto& states = optimizer.state();
  int64_t step = 0, offset = 0;
  std::vector<torch::optim::AdamParamState*> installed;
  for (const auto& p : params) {
    using Key = typename std::decay_t<decltype(states)>::key_type;
    const auto key = state_key<Key>(p);
    auto m = exp_avg.narrow(0, offset, p.numel()).view(p.sizes());
    auto v = exp_avg_sq.narrow(0, offset, p.numel()).view(p.sizes());
    const auto found = states.find(key);
    if (found != states.end()) {
      const auto& old = static_cast<const torch::optim::AdamParamState&>(*found->second);
      old.exp_avg().defined() ? m.copy_(old.exp_avg()) : m.zero_();
      old.exp_avg_sq().defined() ? v.copy_(old.exp_avg_sq()) : v.zero_();
      step = std::max(step, old.step());
    } else {
      m.zero_();
      v.zero_();
    }
    auto state = std::make_unique<torch::optim::AdamParamState>();
    state->exp_avg(m);
    state->exp_avg_sq(v);
    installed.push_back(state.get());
    states[key] = std::move(state);
    offset += p.numel();
  }
  for (auto* state : installed) state->step(step);
  return step;
}

Learner::Learner(const MaddpgConfig& c) : config(c), target_rng(c.seed ^ kTargetNoiseSeedSalt) {
  if (config.device == "cuda") {
    if (!torch::cuda::is_available()) {
      throw std::invalid_argument("device is \"cuda\" but CUDA is not available to this build of tennis-train");
    }
    device = torch::Device(torch::kCUDA);
  }
  if (config.threads > 0) torch::set_num_threads(config.threads);
  for (int i = 0; i < kAgents; ++i) {
    const auto order = view_order(i);
    bool identity = true;
    for (size_t k = 0; k < order.size(); ++k) identity = identity && order[k] == int64_t(k);
    view_index.push_back(identity ? torch::Tensor() : torch::tensor(order, torch::kInt64).to(device));
  }
  Rng init_rng(config.seed);
  const int n_groups = config.shared_parameters ? 1 : kAgents;
  const int n_critics = config.twin_critics ? 2 : 1;
  groups.resize(size_t(n_groups));
  for (int n = 0; n < n_groups; ++n) {
    Group& g = groups[size_t(n)];
    if (config.shared_parameters) {
      for (int i = 0; i < kAgents; ++i) g.agents.push_back(i);
    } else {
      g.agents.push_back(n);
    }
    g.actor = Actor(kObsSize, kActionSize, config.actor_hidden, config.layer_norm);
    g.actor->reset_parameters(init_rng);
    g.target_actor = Actor(kObsSize, kActionSize, config.actor_hidden, config.layer_norm);
    for (int c = 0; c < n_critics; ++c) {
      g.critics.emplace_back(kJointObs + kJointAction, config.critic_hidden, config.batch_norm);
      g.critics.back()->reset_parameters(init_rng);
      g.target_critics.emplace_back(kJointObs + kJointAction, config.critic_hidden, config.batch_norm);
    }
    // Targets start as copies of the online networks.
    {
      torch::NoGradGuard no_grad;
      auto copy = [](torch::nn::Module& to, const torch::nn::Module& from) {
        auto dst = to.parameters();
        auto src = from.parameters();
        for (size_t k = 0; k < dst.size(); ++k) dst[k].copy_(src[k]);
      };
      copy(*g.target_actor, *g.actor);
      for (int c = 0; c < n_critics; ++c) copy(*g.target_critics[size_t(c)], *g.critics[size_t(c)]);
    }
    g.actor->to(device);
    g.target_actor->to(device);
    for (int c = 0; c < n_critics; ++c) {
      g.critics[size_t(c)]->to(device);
      g.target_critics[size_t(c)]->to(device);
    }
    g.actor_params = g.actor->parameters();
    g.critic_params = params_of(g.critics);
    g.actor_flat = flatten_into_one(g.actor_params);
    g.critic_flat = flatten_into_one(g.critic_params);
    auto target_actor_params = g.target_actor->parameters();
    auto target_critic_params = params_of(g.target_critics);
    set_requires_grad(target_actor_params, false);
    set_requires_grad(target_critic_params, false);
    g.target_actor_flat = flatten_into_one(target_actor_params);
    g.target_critic_flat = flatten_into_one(target_critic_params);
    g.actor_opt = std::make_unique<torch::optim::Adam>(
        g.actor_params, torch::optim::AdamOptions(config.lr_actor).weight_decay(config.weight_decay));
    g.critic_opt = std::make_unique<torch::optim::Adam>(
        g.critic_params, torch::optim::AdamOptions(config.lr_critic).weight_decay(config.weight_decay));
    g.actor_adam_step = flatten_adam_state(*g.actor_opt, g.actor_params, g.actor_exp_avg, g.actor_exp_avg_sq);
    g.critic_adam_step = flatten_adam_state(*g.critic_opt, g.critic_params, g.critic_exp_avg, g.critic_exp_avg_sq);
  }
}

std::string Learner::group_name(size_t n) const {
  return config.shared_parameters ? "shared" : "agent" + std::to_string(n);
}

std::vector<std::pair<std::string, torch::nn::Module*>> Learner::named_nets(Group& g) const {
  std::vector<std::pair<std::string, torch::nn::Module*>> out;
  out.emplace_back("actor", g.actor.get());
  out.emplace_back("critic", g.critics[0].get());
  if (g.critics.size() > 1) out.emplace_back("critic_twin", g.critics[1].get());
  out.emplace_back("target_actor", g.target_actor.get());
  out.emplace_back("target_critic", g.target_critics[0].get());
  if (g.target_critics.size() > 1) out.emplace_back("target_critic_twin", g.target_critics[1].get());
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> Learner::named_parameters() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (size_t n = 0; n < groups.size(); ++n) {
    for (auto& [net, module] : named_nets(groups[n])) {
      for (auto& item : module->named_parameters()) {
        out.emplace_back(group_name(n) + "/" + net + "/" + item.key(), item.value());
      }
    }
  }
  return out;
}

void Learner::apply_threads() const {
  if (config.threads > 0 && torch::get_num_threads() != config.threads) torch::set_num_threads(config.threads);
}

std::vector<int64_t> Learner::view_order(int i) const {
  std::vector<int64_t> order;
  if (config.shared_parameters) order.push_back(i);
  for (int j = 0; j < kAgents; ++j) {
    if (!config.shared_parameters || j != i) order.push_back(j);
  }
  return order;
}

torch::Tensor Learner::view_of(const torch::Tensor& t, int i) const {
  const int64_t rows = t.size(0);
  const auto& index = view_index[size_t(i)];
  return index.defined() ? t.index_select(1, index).reshape({rows, -1}) : t.reshape({rows, -1});
}

torch::Tensor Learner::group_view(const Group& g, const torch::Tensor& t) const {
  if (g.agents.size() == 1) return view_of(t, g.agents[0]);
  std::vector<torch::Tensor> parts;
  for (int i : g.agents) parts.push_back(view_of(t, i));
  return torch::cat(parts, 0);
}

torch::Tensor Learner::group_column(const Group& g, const torch::Tensor& t) const {
  std::vector<torch::Tensor> parts;
  for (int i : g.agents) parts.push_back(t.narrow(1, i, 1));
  return parts.size() == 1 ? parts[0] : torch::cat(parts, 0);
}

torch::Tensor Learner::group_actions(const Group& g, Actor& actor, const torch::Tensor& obs) {
  const int64_t rows = obs.size(0);
  if (g.agents.size() == 1) return actor(obs.select(1, g.agents[0])).unsqueeze(1);
  // Shared networks: all agents' rows in one pass (agents are adjacent in the layout).
  return actor(obs.reshape({rows * kAgents, kObsSize})).reshape({rows, kAgents, kActionSize});
}

torch::Tensor Learner::joint_actions(const torch::Tensor& obs, bool target) {
  if (config.shared_parameters) return group_actions(groups[0], target ? groups[0].target_actor : groups[0].actor, obs);
  std::vector<torch::Tensor> parts;
  for (auto& g : groups) parts.push_back(group_actions(g, target ? g.target_actor : g.actor, obs));
  return torch::cat(parts, 1);
}

void Learner::act(const float* obs, int64_t n, float* actions) {
  torch::NoGradGuard no_grad;
  const auto obs_t = torch::from_blob(const_cast<float*>(obs), {n, kAgents, kObsSize}, torch::kFloat32).to(device);
  const auto out = joint_actions(obs_t, /*target=*/false).to(torch::kCPU);
  torch::from_blob(actions, {n, kAgents, kActionSize}, torch::kFloat32).copy_(out);
}

torch::Tensor Learner::next_joint_actions(const torch::Tensor& next_obs, const torch::Tensor& eps) {
  torch::NoGradGuard no_grad;
  const auto next_actions = joint_actions(next_obs, /*target=*/true);
  if (!eps.defined()) return next_actions;
  const auto smoothing = (eps * config.target_noise).clamp(-config.target_noise_clip, config.target_noise_clip);
  return (next_actions + smoothing).clamp(-1.0, 1.0);
}

torch::Tensor Learner::td_target(Group& g, const torch::Tensor& rewards, const torch::Tensor& dones,
                                 const torch::Tensor& next_obs, const torch::Tensor& next_actions) {
  torch::NoGradGuard no_grad;
  const auto input = torch::cat({group_view(g, next_obs), group_view(g, next_actions)}, 1);
  auto q_next = g.target_critics[0]->forward(input);
  if (g.target_critics.size() > 1) q_next = torch::min(q_next, g.target_critics[1]->forward(input));
  return group_column(g, rewards) + config.gamma * (1 - group_column(g, dones)) * q_next;
}

std::pair<torch::Tensor, torch::Tensor> Learner::critic_loss_of(Group& g, const torch::Tensor& input,
                                                                const torch::Tensor& y, const torch::Tensor& weights) {
  const int64_t copies = int64_t(g.agents.size());
  const torch::Tensor w = !weights.defined() || copies == 1 ? weights : weights.repeat({copies, 1});
  auto mse = [&](const torch::Tensor& q) { return w.defined() ? (w * (q - y).pow(2)).mean() : torch::mse_loss(q, y); };
  const auto q1 = g.critics[0]->forward(input);
  auto loss = mse(q1);
  if (g.critics.size() > 1) loss = loss + mse(g.critics[1]->forward(input));
  return {loss, q1};
}

torch::Tensor Learner::policy_input(const Group& g, const torch::Tensor& obs_v, const torch::Tensor& actions,
                                    const torch::Tensor& mu) const {
  std::vector<torch::Tensor> views;
  for (size_t k = 0; k < g.agents.size(); ++k) {
    const int i = g.agents[k];
    std::vector<torch::Tensor> parts;
    for (int64_t j : view_order(i)) parts.push_back(j == i ? mu.select(1, int64_t(k)) : actions.select(1, j));
    views.push_back(torch::cat(parts, 1));
  }
  return torch::cat({obs_v, views.size() == 1 ? views[0] : torch::cat(views, 0)}, 1);
}

void Learner::scatter_td(const Group& g, const torch::Tensor& y, const torch::Tensor& q,
                         std::vector<torch::Tensor>& td_per_agent) const {
  const auto td = (y - q.detach()).abs().reshape({int64_t(g.agents.size()), -1});
  for (size_t k = 0; k < g.agents.size(); ++k) td_per_agent[size_t(g.agents[k])] = td[int64_t(k)];
}

void Learner::soft_update() {
  torch::NoGradGuard no_grad;
  for (auto& g : groups) {
    g.target_actor_flat.mul_(1.0 - config.tau).add_(g.actor_flat, config.tau);
    g.target_critic_flat.mul_(1.0 - config.tau).add_(g.critic_flat, config.tau);
  }
}

}  // namespace tennis
