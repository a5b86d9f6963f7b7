// Maddpg: the learner's state (learner.h), the exploration noise and the update path picked at
// construction (update_path.h). Checks every input, draws the MATD3 smoothing noise from one stream
// for every path (so that each resumes the others' checkpoints exactly), counts updates for the
// policy delay, and keeps acting and the flat parameter view; checkpoints are in checkpoint.cc.
#include "maddpg.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "checkpoint.h"
#include "learner.h"
#include "update_path.h"

namespace tennis {
namespace {

// Seed offset of the exploration noise, so that it and the init draw independent streams.
constexpr uint64_t kNoiseSeedSalt = 0x6a09e667f3bcc909ULL;

std::unique_ptr<UpdatePath> make_path(Learner& learner) {
  const std::string& impl = learner.config.impl;
  if (impl == "fused") return make_fused_path(learner);
  if (impl == "graph") return make_graph_path(learner);
  return make_libtorch_path(learner);
}

void check_finite(const float* data, int64_t rows, int64_t per_row, const char* name) {
  if (!data) throw std::invalid_argument(std::string("batch.") + name + " must not be null");
  const int64_t n = rows * per_row;
  // A branch-free pass (it vectorises), and the search for the message only when it fails.
  bool finite = true;
  for (int64_t k = 0; k < n; ++k) finite &= std::fabs(data[k]) <= std::numeric_limits<float>::max();
  if (finite) return;
  for (int64_t k = 0; k < n; ++k) {
    if (!std::isfinite(data[k])) {
      std::ostringstream os;
      os << "batch." << name << " has a non-finite value (" << data[k] << ") at row " << k / per_row << ", column "
         << k % per_row;
      throw std::invalid_argument(os.str());
    }
  }
}

void check_batch(const BatchView& batch) {
  if (batch.size < 1) throw std::invalid_argument("batch.size must be >= 1, got " + std::to_string(batch.size));
  const int64_t rows = batch.size;
  check_finite(batch.obs, rows, kJointObs, "obs");
  check_finite(batch.actions, rows, kJointAction, "actions");
  check_finite(batch.rewards, rows, kAgents, "rewards");
  check_finite(batch.next_obs, rows, kJointObs, "next_obs");
  check_finite(batch.dones, rows, kAgents, "dones");
  if (batch.weights) {
    check_finite(batch.weights, rows, 1, "weights");
    for (int64_t k = 0; k < rows; ++k) {
      if (batch.weights[k] < 0) {
        throw std::invalid_argument("batch.weights must be >= 0, got " + std::to_string(batch.weights[k]) + " at row " +
                                    std::to_string(k));
      }
    }
  }
}

void check_agent(int agent) {
  if (agent < 0 || agent >= kAgents) {
    throw std::invalid_argument("agent must be in [0, " + std::to_string(kAgents - 1) + "], got " +
                                std::to_string(agent));
  }
}

void check_parameter_length(const void* data, int64_t length, int64_t expected) {
  if (!data || length != expected) {
    throw std::invalid_argument("parameters must hold " + std::to_string(expected) + " floats, got " +
                                std::to_string(length));
  }
}

}  // namespace

struct Maddpg::Impl {
  Learner learner;
  ExplorationNoise noise;
  std::unique_ptr<UpdatePath> path;
  // update(k, source) batch storage, allocated once.
  std::vector<float> obs, actions, rewards, next_obs, dones, weights;
  std::vector<int64_t> indices;

  explicit Impl(const MaddpgConfig& c)
      : learner(c), noise(c.noise, kJointAction, c.seed ^ kNoiseSeedSalt), path(make_path(learner)) {}

  UpdateStats update_batch(const BatchView& batch, const float* target_noise_draws) {
    check_batch(batch);
    learner.apply_threads();
    // The MATD3 smoothing draws: given, else from target_rng.
    std::vector<float> draws;
    const float* noise_draws = target_noise_draws;
    if (learner.config.target_noise > 0 && !noise_draws) {
      draws.resize(size_t(batch.size * kJointAction));
      for (auto& d : draws) d = float(learner.target_rng.normal());
      noise_draws = draws.data();
    }
    const bool actor_step = learner.updates % learner.config.policy_delay == 0;
    UpdateStats stats = path->update_batch(batch, noise_draws, actor_step);
    ++learner.updates;
    return stats;
  }

  // Sizes the update(k, source) storage for batches of `rows`.
  void size_storage(int64_t rows) {
    if (int64_t(obs.size()) == rows * kJointObs) return;
    obs.assign(size_t(rows * kJointObs), 0.f);
    actions.assign(size_t(rows * kJointAction), 0.f);
    rewards.assign(size_t(rows * kAgents), 0.f);
    next_obs.assign(size_t(rows * kJointObs), 0.f);
    dones.assign(size_t(rows * kAgents), 0.f);
    weights.assign(size_t(rows), 1.f);
    indices.assign(size_t(rows), 0);
  }
};

Maddpg::Maddpg(const MaddpgConfig& config) {
  validate(config);
  impl_ = std::make_unique<Impl>(config);
}

Maddpg::~Maddpg() = default;

const MaddpgConfig& Maddpg::config() const { return impl_->learner.config; }

UpdateStats Maddpg::update_batch(const BatchView& batch, const float* target_noise) {
  return impl_->update_batch(batch, target_noise);
}

UpdateStats Maddpg::update(int64_t k, BatchSource& source) {
  if (k < 1) throw std::invalid_argument("k must be >= 1, got " + std::to_string(k));
  auto& m = *impl_;
  UpdateStats sampled;
  if (m.path->update_sampled(k, source, sampled)) {
    m.learner.updates += sampled.updates;
    return sampled;
  }
  const int64_t rows = m.learner.config.batch_size;
  m.size_storage(rows);
  StatsAccumulator sums;  // over updates
  int64_t actor_updates = 0;
  std::vector<float> td_errors;
  for (int64_t u = 0; u < k; ++u) {
    BatchView view{rows,           m.obs.data(),     m.actions.data(), m.rewards.data(), m.next_obs.data(),
                   m.dones.data(), m.weights.data(), m.indices.data()};
    source.next(view);
    if (view.size != rows) {
      throw std::invalid_argument("batch source returned " + std::to_string(view.size) + " rows, expected batch_size " +
                                  std::to_string(rows));
    }
    UpdateStats s = m.update_batch(view, nullptr);
    source.feedback(view, s.td_errors.data());
    sums.add(s);
    actor_updates += s.actor_updates;
    td_errors = std::move(s.td_errors);
  }
  UpdateStats total = sums.means(k, actor_updates);
  total.td_errors = std::move(td_errors);
  return total;
}

void Maddpg::act(const float* obs, int64_t n_envs, float* actions, bool explore) {
  if (n_envs < 1) throw std::invalid_argument("n_envs must be >= 1, got " + std::to_string(n_envs));
  auto& m = *impl_;
  m.learner.apply_threads();
  m.path->act(obs, n_envs, actions);
  if (explore) m.noise.apply(actions, n_envs);
}

void Maddpg::act(const float* obs, int64_t obs_length, float* actions, int64_t actions_length, bool explore) {
  if (!obs || obs_length < kJointObs || obs_length % kJointObs != 0) {
    throw std::invalid_argument("obs must hold n_envs * agents * 24 = n_envs * " + std::to_string(kJointObs) +
                                " floats (n_envs >= 1), got " + std::to_string(obs_length));
  }
  const int64_t n_envs = obs_length / kJointObs;
  if (!actions || actions_length != n_envs * kJointAction) {
    throw std::invalid_argument("actions must hold n_envs * agents * 2 = " + std::to_string(n_envs * kJointAction) +
                                " floats for " + std::to_string(n_envs) + " envs, got " +
                                std::to_string(actions_length));
  }
  for (int64_t k = 0; k < obs_length; ++k) {
    if (!std::isfinite(obs[k])) {
      std::ostringstream os;
      os << "obs has a non-finite value (" << obs[k] << ") at env " << k / kJointObs << ", agent "
         << (k % kJointObs) / kObsSize << ", index " << k % kObsSize;
      throw std::invalid_argument(os.str());
    }
  }
  act(obs, n_envs, actions, explore);
}

void Maddpg::reset_noise(const uint8_t* env_mask, int64_t n_envs) { impl_->noise.reset(env_mask, n_envs); }

double Maddpg::noise_scale() const { return impl_->noise.scale(); }

const ExplorationNoise& Maddpg::noise() const { return impl_->noise; }

int64_t Maddpg::update_count() const { return impl_->learner.updates; }

std::vector<ParameterInfo> Maddpg::parameter_layout() const {
  std::vector<ParameterInfo> out;
  int64_t offset = 0;
  for (auto& [name, tensor] : impl_->learner.named_parameters()) {
    out.push_back({name, tensor.sizes().vec(), offset, tensor.numel()});
    offset += tensor.numel();
  }
  return out;
}

int64_t Maddpg::parameter_count() const {
  int64_t total = 0;
  for (auto& item : impl_->learner.named_parameters()) total += item.second.numel();
  return total;
}

std::vector<float> Maddpg::get_parameters() const {
  std::vector<float> out(static_cast<size_t>(parameter_count()));
  get_parameters(out.data(), int64_t(out.size()));
  return out;
}

void Maddpg::get_parameters(float* out, int64_t length) const {
  check_parameter_length(out, length, parameter_count());
  int64_t offset = 0;
  for (auto& item : impl_->learner.named_parameters()) {
    const auto& t = item.second;
    torch::from_blob(out + offset, t.sizes(), torch::kFloat32).copy_(t.detach().to(torch::kCPU));
    offset += t.numel();
  }
}

void Maddpg::set_parameters(const float* data, int64_t length) {
  check_parameter_length(data, length, parameter_count());
  for (int64_t k = 0; k < length; ++k) {
    if (!std::isfinite(data[k])) {
      throw std::invalid_argument("parameters has a non-finite value at index " + std::to_string(k));
    }
  }
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (auto& item : impl_->learner.named_parameters()) {
    auto t = item.second;
    t.copy_(torch::from_blob(const_cast<float*>(data) + offset, t.sizes(), torch::kFloat32));
    offset += t.numel();
  }
  impl_->path->parameters_changed();
}

void Maddpg::reset_actors(uint64_t seed) {
  Rng init_rng(seed);
  torch::NoGradGuard no_grad;
  for (auto& g : impl_->learner.groups) {
    g.actor->reset_parameters(init_rng);
    g.target_actor_flat.copy_(g.actor_flat);
    g.actor_exp_avg.zero_();
    g.actor_exp_avg_sq.zero_();
    g.actor_adam_step = 0;
    for (auto& item : g.actor_opt->state()) static_cast<torch::optim::AdamParamState&>(*item.second).step(0);
  }
  impl_->path->parameters_changed();
}

std::vector<float> Maddpg::get_actor_parameters(int agent) const {
  check_agent(agent);
  const auto& flat = impl_->learner.group_of(agent).actor_flat;
  const auto cpu = flat.to(torch::kCPU).contiguous();
  return std::vector<float>(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
}

std::string Maddpg::architecture() const { return architecture_of(impl_->learner.config); }

void Maddpg::save(const std::string& path) const {
  save_checkpoint(impl_->learner, impl_->noise, impl_->path->counts_adam_steps(), path);
}

void Maddpg::load(const std::string& path) {
  try {
    load_checkpoint(impl_->learner, impl_->noise, path);
  } catch (...) {
    impl_->path->parameters_changed();  // a checkpoint that failed part way may have changed some
    throw;
  }
  impl_->path->parameters_changed();
}

void Maddpg::export_actor_torchscript(const std::string& path, int agent) const {
  export_actor(impl_->learner, agent, path);
}

}  // namespace tennis
