// The MADDPG/MATD3 learner on LibTorch ops + autograd: each agent's (or the shared) networks live in
// one "group"; an update builds every agent's view of the joint batch, steps the critics towards
// r_i + gamma * (1 - done_i) * Q'_i and the actors along -Q_i(o, a with a_i = mu_i(o_i)), then
// soft-updates the targets through one flat buffer per network. Parameters, targets and Adam moments
// are flat buffers per network, so impl "fused" (fused/engine.h) runs the same update on them directly,
// and impl "graph" runs it as device-only tensor ops replayed from CUDA graphs (GraphState below).
#include "maddpg.h"

#include <torch/torch.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include "fused/engine.h"
#include "fused/thread_chooser.h"
#include "graph/captured_graph.h"
#include "networks.h"
#include "replay_buffer.h"

namespace tennis {
namespace {

// Joint observation and action widths (all agents).
constexpr int64_t kJointObs = kAgents * kObsSize;
constexpr int64_t kJointAction = kAgents * kActionSize;
// |action| above this counts as saturated in UpdateStats::saturation.
constexpr double kSaturated = 0.99;
// Checkpoint format tag; bump when the layout of the archive changes.
constexpr const char* kCheckpointFormat = "tennis-train/maddpg/1";
// Adam's defaults (LibTorch's and the reference's), for the "graph" update's own Adam.
constexpr double kAdamBeta1 = 0.9, kAdamBeta2 = 0.999, kAdamEps = 1e-8;
// Eager runs of an update before its CUDA graph is captured (their effect is undone).
constexpr int kGraphWarmup = 2;
// Seed offsets so that init, exploration noise and target smoothing draw independent streams.
constexpr uint64_t kNoiseSeedSalt = 0x6a09e667f3bcc909ULL;
constexpr uint64_t kTargetNoiseSeedSalt = 0xbb67ae8584caa73bULL;

std::string join(const std::vector<int64_t>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + std::to_string(values[i]);
  return out;
}

std::string shape_string(at::IntArrayRef sizes) { return "[" + join(sizes.vec()) + "]"; }

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

void set_requires_grad(const std::vector<torch::Tensor>& params, bool on) {
  for (auto p : params) p.requires_grad_(on);
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

// Makes the optimizer's per-parameter Adam states views of two flat buffers (exp_avg, exp_avg_sq;
// allocated on first use, reused after), in the order of `params`, keeping the values and step
// already there (for instance just loaded from a checkpoint). Returns the step count.
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

// Before an optimizer save: each state gets its own copy of its moments (a view would write the
// whole flat buffer behind it into the archive) and, when given, the step count.
void detach_adam_state(torch::optim::Adam& optimizer, const int64_t* step) {
  for (auto& item : optimizer.state()) {
    auto& state = static_cast<torch::optim::AdamParamState&>(*item.second);
    state.exp_avg(state.exp_avg().clone());
    state.exp_avg_sq(state.exp_avg_sq().clone());
    if (step) state.step(*step);
  }
}

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

// Recursively writes a module's own parameters and buffers (copies, not views of flat buffers).
// Writes `bytes` to `path`; a failed open, write or close (a full disk included) throws a
// runtime_error naming the file and the system's reason (what was written stays: callers write into
// a temporary folder and remove it on failure). LibTorch's own file writer cannot report
// a failed write: it fails in a destructor, which ends the process.
void write_file(const std::string& path, const std::string& bytes) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) throw std::runtime_error("cannot write checkpoint " + path + ": " + std::strerror(errno));
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  const int write_error = errno;
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) {
    throw std::runtime_error("cannot write checkpoint " + path + ": " + std::strerror(written ? errno : write_error));
  }
}

void write_module(torch::serialize::OutputArchive& archive, const torch::nn::Module& module) {
  for (const auto& item : module.named_parameters(/*recurse=*/false)) {
    archive.write(item.key(), item.value().detach().clone());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/false)) {
    archive.write(item.key(), item.value().clone(), /*is_buffer=*/true);
  }
  for (const auto& child : module.named_children()) {
    torch::serialize::OutputArchive sub;
    write_module(sub, *child.value());
    archive.write(child.key(), sub);
  }
}

// Reads what write_module wrote into the existing tensors (copy_, so flat-buffer views stay intact).
void read_module(torch::serialize::InputArchive& archive, torch::nn::Module& module, const std::string& path) {
  auto read_into = [&](const std::string& key, torch::Tensor target, bool is_buffer) {
    torch::Tensor loaded;
    if (!archive.try_read(key, loaded, is_buffer)) {
      throw std::invalid_argument("checkpoint lacks " + path + key);
    }
    if (loaded.sizes() != target.sizes()) {
      throw std::invalid_argument("checkpoint " + path + key + " has shape " + shape_string(loaded.sizes()) +
                                  ", this model has " + shape_string(target.sizes()));
    }
    torch::NoGradGuard no_grad;
    target.copy_(loaded);
  };
  for (auto& item : module.named_parameters(/*recurse=*/false)) read_into(item.key(), item.value(), false);
  for (auto& item : module.named_buffers(/*recurse=*/false)) read_into(item.key(), item.value(), true);
  for (auto& child : module.named_children()) {
    torch::serialize::InputArchive sub;
    if (!archive.try_read(child.key(), sub)) throw std::invalid_argument("checkpoint lacks " + path + child.key());
    read_module(sub, *child.value(), path + child.key() + ".");
  }
}

std::map<std::string, std::string> parse_fields(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

}  // namespace

void validate(const MaddpgConfig& c) {
  auto fail = [](const std::string& field, const std::string& expected, const std::string& got) {
    throw std::invalid_argument(field + " must be " + expected + ", got " + got);
  };
  auto check_hidden = [&](const std::vector<int64_t>& hidden, const char* field) {
    if (hidden.empty()) fail(field, "a non-empty list of layer widths", "[]");
    for (int64_t h : hidden) {
      if (h < 1 || h > 65536) fail(field, "widths in [1, 65536]", "[" + join(hidden) + "]");
    }
  };
  auto in_range = [&](double v, double lo, double hi, const char* field) {
    if (!(v >= lo && v <= hi)) fail(field, "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]",
                                     std::to_string(v));
  };
  check_hidden(c.actor_hidden, "actor_hidden");
  check_hidden(c.critic_hidden, "critic_hidden");
  if (!(c.lr_actor > 0 && std::isfinite(c.lr_actor))) fail("lr_actor", "> 0", std::to_string(c.lr_actor));
  if (!(c.lr_critic > 0 && std::isfinite(c.lr_critic))) fail("lr_critic", "> 0", std::to_string(c.lr_critic));
  in_range(c.gamma, 0, 1, "gamma");
  in_range(c.tau, 0, 1, "tau");
  if (c.batch_size < 1) fail("batch_size", ">= 1", std::to_string(c.batch_size));
  if (!std::isfinite(c.grad_clip)) fail("grad_clip", "finite", std::to_string(c.grad_clip));
  if (!(c.weight_decay >= 0 && std::isfinite(c.weight_decay))) {
    fail("weight_decay", ">= 0", std::to_string(c.weight_decay));
  }
  if (!(c.target_noise >= 0 && std::isfinite(c.target_noise))) {
    fail("target_noise", ">= 0", std::to_string(c.target_noise));
  }
  if (!(c.target_noise_clip >= 0 && std::isfinite(c.target_noise_clip))) {
    fail("target_noise_clip", ">= 0", std::to_string(c.target_noise_clip));
  }
  if (c.policy_delay < 1) fail("policy_delay", ">= 1", std::to_string(c.policy_delay));
  validate_noise_config(c.noise, "noise.");
  if (c.device != "cpu" && c.device != "cuda") fail("device", "\"cpu\" or \"cuda\"", "\"" + c.device + "\"");
  if (c.impl != "libtorch" && c.impl != "fused" && c.impl != "graph") {
    fail("impl", "\"libtorch\", \"fused\" or \"graph\"", "\"" + c.impl + "\"");
  }
  if (c.impl == "fused") {
    auto unsupported = [](const std::string& what) {
      throw std::invalid_argument("impl \"fused\" does not support " + what + "; use impl \"libtorch\" for it");
    };
    if (c.layer_norm) unsupported("layer_norm (LayerNorm in the actors)");
    if (c.batch_norm) unsupported("batch_norm (BatchNorm1d in the critics)");
    if (c.device != "cpu") unsupported("device \"" + c.device + "\" (it runs on the CPU)");
  }
  if (c.impl == "graph") {
    if (c.device != "cuda") {
      throw std::invalid_argument("impl \"graph\" runs on device \"cuda\", got device \"" + c.device +
                                  "\"; use impl \"fused\" or \"libtorch\" on the CPU");
    }
    if (c.batch_norm) {
      throw std::invalid_argument("impl \"graph\" does not support batch_norm (BatchNorm1d in the critics); use impl "
                                  "\"libtorch\" for it");
    }
  }
  if (c.threads < 0 || c.threads > 256) fail("threads", "in [0, 256]", std::to_string(c.threads));
}

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
  // Adam steps counted by the fused path (the LibTorch path counts in the optimizers' states).
  int64_t actor_adam_step = 0, critic_adam_step = 0;
};

// impl "graph": what the captured updates read and write besides the groups' flat buffers.
struct GraphState {
  // The fields of GraphState::sums, summed over the updates of one replay.
  enum Stat { kCriticLoss, kQMean, kCriticNorm, kActorLoss, kActorNorm, kSaturation, kStats };
  torch::TensorOptions floats;                           // float32 on the device
  // Adam step counts per group, float64 scalars: 1 - 0.999^step in float32 would lose ~1e-4 of the
  // bias correction to cancellation in the first steps.
  std::vector<torch::Tensor> actor_steps, critic_steps;
  torch::Tensor sums;                                    // [kStats]
  torch::Tensor td_last;                                 // |TD error| per row of the last update (agents' mean)
  // Static inputs of the single-batch graphs (update_batch), sized for td_last's rows.
  torch::Tensor obs, actions, rewards, next_obs, dones, weights, eps;
  // Device mirror of the replay buffer update(k, source) samples from: records [capacity][kRecordFloats],
  // rows stored (float32 scalar) and buffer tickets copied so far.
  const ReplayBuffer* mirrored = nullptr;
  torch::Tensor records, rows;
  int64_t synced = 0;
  // Captured graphs: single-batch ones by (weighted, actor step), sampled ones by (k, policy-delay phase).
  std::map<std::pair<bool, bool>, std::unique_ptr<graph::CapturedGraph>> single;
  std::map<std::pair<int64_t, int64_t>, std::unique_ptr<graph::CapturedGraph>> sampled;
};

struct Maddpg::Impl {
  MaddpgConfig config;
  torch::Device device{torch::kCPU};
  std::vector<Group> groups;
  ExplorationNoise noise;
  Rng target_rng;  // MATD3 target smoothing noise
  int64_t updates = 0;
  std::unique_ptr<fused::Updater> fused;  // impl "fused": the update on the groups' flat buffers
  std::unique_ptr<fused::ThreadChooser> fused_threads;  // its thread count per update
  std::unique_ptr<GraphState> graphed;     // impl "graph"
  // Index tensors (on the device) of view_order(i) where it is not the identity.
  std::vector<torch::Tensor> view_index;
  // update(k, source) batch storage, allocated once.
  std::vector<float> obs, actions, rewards, next_obs, dones, weights;
  std::vector<int64_t> indices;

  explicit Impl(const MaddpgConfig& c)
      : config(c),
        noise(c.noise, kJointAction, c.seed ^ kNoiseSeedSalt),
        target_rng(c.seed ^ kTargetNoiseSeedSalt) {}

  const Group& group_of(int agent) const { return groups[config.shared_parameters ? 0 : agent]; }
  Group& group_of(int agent) { return groups[config.shared_parameters ? 0 : agent]; }

  // The agent order of agent i's view of the joint input: own first with shared parameters (so one
  // network serves both), the fixed order 0, 1 otherwise (the notebook's layout).
  std::vector<int64_t> view_order(int i) const {
    std::vector<int64_t> order;
    if (config.shared_parameters) order.push_back(i);
    for (int j = 0; j < kAgents; ++j) {
      if (!config.shared_parameters || j != i) order.push_back(j);
    }
    return order;
  }

  // t [B, agents, D] seen by agent i: [B, agents * D] in view order.
  torch::Tensor view_of(const torch::Tensor& t, int i) const {
    const int64_t rows = t.size(0);
    const auto& index = view_index[size_t(i)];
    return index.defined() ? t.index_select(1, index).reshape({rows, -1}) : t.reshape({rows, -1});
  }

  // Rows of every agent of group g stacked: cat over agents of view_of(t, i).
  torch::Tensor group_view(const Group& g, const torch::Tensor& t) const {
    if (g.agents.size() == 1) return view_of(t, g.agents[0]);
    std::vector<torch::Tensor> parts;
    for (int i : g.agents) parts.push_back(view_of(t, i));
    return torch::cat(parts, 0);
  }

  // Per-agent columns [B, agents] -> group rows [R, 1].
  torch::Tensor group_column(const Group& g, const torch::Tensor& t) const {
    std::vector<torch::Tensor> parts;
    for (int i : g.agents) parts.push_back(t.narrow(1, i, 1));
    return parts.size() == 1 ? parts[0] : torch::cat(parts, 0);
  }

  // Actions of every agent of group g under `actor` for obs [B, agents, 24] -> [B, |agents|, 2].
  static torch::Tensor group_actions(const Group& g, Actor& actor, const torch::Tensor& obs) {
    const int64_t rows = obs.size(0);
    if (g.agents.size() == 1) return actor(obs.select(1, g.agents[0])).unsqueeze(1);
    // Shared networks: all agents' rows in one pass (agents are adjacent in the layout).
    return actor(obs.reshape({rows * kAgents, kObsSize})).reshape({rows, kAgents, kActionSize});
  }

  // Joint actions [B, agents, 2] of every agent's `actor` (target or online) on obs.
  torch::Tensor joint_actions(const torch::Tensor& obs, bool target) {
    if (config.shared_parameters) return group_actions(groups[0], target ? groups[0].target_actor : groups[0].actor, obs);
    std::vector<torch::Tensor> parts;
    for (auto& g : groups) parts.push_back(group_actions(g, target ? g.target_actor : g.actor, obs));
    return torch::cat(parts, 1);
  }

  void build() {
    validate(config);
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
    if (config.impl == "fused") {
      std::vector<fused::GroupBuffers> buffers;
      for (auto& g : groups) {
        fused::GroupBuffers b;
        b.agents = g.agents;
        b.actor = {g.actor_flat.data_ptr<float>(), g.target_actor_flat.data_ptr<float>(),
                   g.actor_exp_avg.data_ptr<float>(), g.actor_exp_avg_sq.data_ptr<float>(), g.actor_flat.numel(),
                   &g.actor_adam_step};
        b.critic = {g.critic_flat.data_ptr<float>(), g.target_critic_flat.data_ptr<float>(),
                    g.critic_exp_avg.data_ptr<float>(), g.critic_exp_avg_sq.data_ptr<float>(),
                    g.critic_flat.numel(), &g.critic_adam_step};
        buffers.push_back(std::move(b));
      }
      auto settings = fused::Settings::from(config);
      fused = std::make_unique<fused::Updater>(std::move(settings), std::move(buffers));
      // Threads of the fused path: up to the configured count, else LibTorch's, whichever is faster.
      fused_threads = std::make_unique<fused::ThreadChooser>(config.threads > 0 ? config.threads
                                                                                : torch::get_num_threads());
    }
    if (config.impl == "graph") {
      if (!graph::available()) throw std::invalid_argument("impl \"graph\" needs CUDA graphs, which this build lacks");
      torch::cuda::manual_seed_all(config.seed);  // device-side sampling and smoothing noise
      graphed = std::make_unique<GraphState>();
      graphed->floats = torch::TensorOptions().dtype(torch::kFloat32).device(device);
      for (size_t n = 0; n < groups.size(); ++n) {
        graphed->actor_steps.push_back(torch::zeros({}, graphed->floats.dtype(torch::kFloat64)));
        graphed->critic_steps.push_back(torch::zeros({}, graphed->floats.dtype(torch::kFloat64)));
      }
      graphed->sums = torch::zeros({GraphState::kStats}, graphed->floats);
      graphed->rows = torch::zeros({}, graphed->floats);
    }
  }

  // The fused and graph paths count Adam steps in the groups (the LibTorch path in its optimizers).
  bool counts_adam_steps() const { return fused || graphed; }

  // Named modules of group g in layout order.
  std::vector<std::pair<std::string, torch::nn::Module*>> named_nets(Group& g) const {
    std::vector<std::pair<std::string, torch::nn::Module*>> out;
    out.emplace_back("actor", g.actor.get());
    out.emplace_back("critic", g.critics[0].get());
    if (g.critics.size() > 1) out.emplace_back("critic_twin", g.critics[1].get());
    out.emplace_back("target_actor", g.target_actor.get());
    out.emplace_back("target_critic", g.target_critics[0].get());
    if (g.target_critics.size() > 1) out.emplace_back("target_critic_twin", g.target_critics[1].get());
    return out;
  }

  std::string group_name(size_t n) const {
    return config.shared_parameters ? "shared" : "agent" + std::to_string(n);
  }

  // Every parameter tensor in layout order with its name.
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() {
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

  // LibTorch's OpenMP thread count is per calling thread: an update on a libuv worker thread would
  // otherwise run with that thread's default, whatever the constructor set on the main thread.
  void apply_threads() const {
    if (config.threads > 0 && torch::get_num_threads() != config.threads) torch::set_num_threads(config.threads);
  }

  static void check_finite(const float* data, int64_t rows, int64_t per_row, const char* name) {
    if (!data) throw std::invalid_argument(std::string("batch.") + name + " must not be null");
    const int64_t n = rows * per_row;
    // A branch-free pass (it vectorises), and the search for the message only when it fails.
    bool finite = true;
    for (int64_t k = 0; k < n; ++k) finite &= std::fabs(data[k]) <= std::numeric_limits<float>::max();
    if (finite) return;
    for (int64_t k = 0; k < n; ++k) {
      if (!std::isfinite(data[k])) {
        std::ostringstream os;
        os << "batch." << name << " has a non-finite value (" << data[k] << ") at row " << k / per_row
           << ", column " << k % per_row;
        throw std::invalid_argument(os.str());
      }
    }
  }

  UpdateStats update_batch(const BatchView& batch, const float* target_noise_draws) {
    if (batch.size < 1) throw std::invalid_argument("batch.size must be >= 1, got " + std::to_string(batch.size));
    const int64_t rows = batch.size;
    apply_threads();
    check_finite(batch.obs, rows, kJointObs, "obs");
    check_finite(batch.actions, rows, kJointAction, "actions");
    check_finite(batch.rewards, rows, kAgents, "rewards");
    check_finite(batch.next_obs, rows, kJointObs, "next_obs");
    check_finite(batch.dones, rows, kAgents, "dones");
    if (batch.weights) {
      check_finite(batch.weights, rows, 1, "weights");
      for (int64_t k = 0; k < rows; ++k) {
        if (batch.weights[k] < 0) {
          throw std::invalid_argument("batch.weights must be >= 0, got " + std::to_string(batch.weights[k]) +
                                      " at row " + std::to_string(k));
        }
      }
    }

    // The MATD3 smoothing draws: given, else from target_rng (one stream for every implementation, so
    // each resumes the others' checkpoints exactly).
    std::vector<float> draws;
    const float* noise = target_noise_draws;
    if (config.target_noise > 0 && !noise) {
      draws.resize(size_t(rows * kJointAction));
      for (auto& d : draws) d = float(target_rng.normal());
      noise = draws.data();
    }
    if (fused) {
      const auto start = std::chrono::steady_clock::now();
      UpdateStats stats = fused->update(batch, noise, updates % config.policy_delay == 0, fused_threads->threads());
      fused_threads->record(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      ++updates;
      return stats;
    }
    if (graphed) return graph_update_batch(batch, noise);

    auto blob = [&](const float* data, std::vector<int64_t> sizes) {
      return torch::from_blob(const_cast<float*>(data), sizes, torch::kFloat32).to(device);
    };
    const auto obs = blob(batch.obs, {rows, kAgents, kObsSize});
    const auto actions = blob(batch.actions, {rows, kAgents, kActionSize});
    const auto rewards = blob(batch.rewards, {rows, kAgents});
    const auto next_obs = blob(batch.next_obs, {rows, kAgents, kObsSize});
    const auto dones = blob(batch.dones, {rows, kAgents});
    const torch::Tensor weights = batch.weights ? blob(batch.weights, {rows, 1}) : torch::Tensor();
    const torch::Tensor eps = noise ? blob(noise, {rows, kAgents, kActionSize}) : torch::Tensor();
    const auto next_actions = next_joint_actions(next_obs, eps);  // computed once for every group

    const bool actor_step = updates % config.policy_delay == 0;
    UpdateStats stats;
    stats.updates = 1;
    stats.actor_updates = actor_step ? 1 : 0;
    std::vector<torch::Tensor> td_per_agent(kAgents);
    double critic_loss_sum = 0, q_sum = 0, critic_norm_sum = 0;
    double actor_loss_sum = 0, actor_norm_sum = 0, saturation_sum = 0;

    for (auto& g : groups) {
      const auto y = td_target(g, rewards, dones, next_obs, next_actions);
      const auto obs_v = group_view(g, obs);
      const auto [critic_loss, q1] = critic_loss_of(g, torch::cat({obs_v, group_view(g, actions)}, 1), y, weights);
      g.critic_opt->zero_grad();
      critic_loss.backward();
      critic_norm_sum += clip_or_measure(g.critic_params, config.grad_clip);
      g.critic_opt->step();
      critic_loss_sum += critic_loss.item<double>();
      q_sum += q1.detach().mean().item<double>();
      scatter_td(g, y, q1, td_per_agent);

      if (!actor_step) continue;
      // Actor: -Q_i with agent i's action replaced by mu_i(o_i); the critic is frozen (its weights
      // get no gradient, which also skips their computation).
      set_requires_grad(g.critic_params, false);
      const auto mu = group_actions(g, g.actor, obs);  // [B, |agents|, 2]
      const auto actor_loss = -g.critics[0]->forward(policy_input(g, obs_v, actions, mu)).mean();
      g.actor_opt->zero_grad();
      actor_loss.backward();
      actor_norm_sum += clip_or_measure(g.actor_params, config.grad_clip);
      g.actor_opt->step();
      set_requires_grad(g.critic_params, true);
      actor_loss_sum += actor_loss.item<double>();
      saturation_sum += (mu.detach().abs() > kSaturated).to(torch::kFloat32).mean().item<double>();
    }
    if (actor_step) soft_update();
    ++updates;

    const double n = double(groups.size());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    stats.critic_loss = critic_loss_sum / n;
    stats.q_mean = q_sum / n;
    stats.critic_grad_norm = critic_norm_sum / n;
    stats.actor_loss = actor_step ? actor_loss_sum / n : nan;
    stats.actor_grad_norm = actor_step ? actor_norm_sum / n : nan;
    stats.saturation = actor_step ? saturation_sum / n : nan;
    const auto td_mean = torch::stack(td_per_agent, 0).mean(0).to(torch::kCPU).contiguous();
    stats.td_errors.assign(td_mean.data_ptr<float>(), td_mean.data_ptr<float>() + rows);
    return stats;
  }

  // ---- the update's pieces, shared by the LibTorch and graph paths ------------------------------

  // Target joint actions mu'(o') of every target actor; with MATD3 smoothing draws eps (defined only
  // when target_noise > 0): clip(mu'(o') + clip(sigma * eps, -c, c), -1, 1).
  torch::Tensor next_joint_actions(const torch::Tensor& next_obs, const torch::Tensor& eps) {
    torch::NoGradGuard no_grad;
    const auto next_actions = joint_actions(next_obs, /*target=*/true);
    if (!eps.defined()) return next_actions;
    const auto smoothing = (eps * config.target_noise).clamp(-config.target_noise_clip, config.target_noise_clip);
    return (next_actions + smoothing).clamp(-1.0, 1.0);
  }

  // TD target of group g's rows: r + gamma * (1 - d) * Q'(o', a'), the minimum of twin target critics.
  torch::Tensor td_target(Group& g, const torch::Tensor& rewards, const torch::Tensor& dones,
                          const torch::Tensor& next_obs, const torch::Tensor& next_actions) {
    torch::NoGradGuard no_grad;
    const auto input = torch::cat({group_view(g, next_obs), group_view(g, next_actions)}, 1);
    auto q_next = g.target_critics[0]->forward(input);
    if (g.target_critics.size() > 1) q_next = torch::min(q_next, g.target_critics[1]->forward(input));
    return group_column(g, rewards) + config.gamma * (1 - group_column(g, dones)) * q_next;
  }

  // Critic loss of group g towards y: MSE, importance-weighted by weights [B, 1] when defined, summed
  // over twin critics. Returns the loss and the first critic's Q.
  std::pair<torch::Tensor, torch::Tensor> critic_loss_of(Group& g, const torch::Tensor& input, const torch::Tensor& y,
                                                         const torch::Tensor& weights) {
    const int64_t copies = int64_t(g.agents.size());
    const torch::Tensor w = !weights.defined() || copies == 1 ? weights : weights.repeat({copies, 1});
    auto mse = [&](const torch::Tensor& q) {
      return w.defined() ? (w * (q - y).pow(2)).mean() : torch::mse_loss(q, y);
    };
    const auto q1 = g.critics[0]->forward(input);
    auto loss = mse(q1);
    if (g.critics.size() > 1) loss = loss + mse(g.critics[1]->forward(input));
    return {loss, q1};
  }

  // The actor objective's critic input for group g: (o, a) with each agent's own action replaced by
  // its policy's mu [B, |agents|, 2].
  torch::Tensor policy_input(const Group& g, const torch::Tensor& obs_v, const torch::Tensor& actions,
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

  // |y - Q| of group g's rows [|agents| * B, 1] into td_per_agent, by agent.
  void scatter_td(const Group& g, const torch::Tensor& y, const torch::Tensor& q,
                  std::vector<torch::Tensor>& td_per_agent) const {
    const auto td = (y - q.detach()).abs().reshape({int64_t(g.agents.size()), -1});
    for (size_t k = 0; k < g.agents.size(); ++k) td_per_agent[size_t(g.agents[k])] = td[int64_t(k)];
  }

  // Polyak soft update (as SB3): target <- (1 - tau) * target + tau * online, one flat buffer each.
  void soft_update() {
    torch::NoGradGuard no_grad;
    for (auto& g : groups) {
      g.target_actor_flat.mul_(1.0 - config.tau).add_(g.actor_flat, config.tau);
      g.target_critic_flat.mul_(1.0 - config.tau).add_(g.critic_flat, config.tau);
    }
  }

  // ---- impl "graph" ---------------------------------------------------------------------------

  // PyTorch's Adam step (L2 weight decay) on a flat network with device step counts, after clipping
  // the gradients to config.grad_clip by total norm: nothing reads back to the host, so a CUDA graph
  // can capture it. Returns the norm before clipping.
  torch::Tensor adam_step(torch::Tensor& flat, const std::vector<torch::Tensor>& grads, torch::Tensor& exp_avg,
                          torch::Tensor& exp_avg_sq, torch::Tensor& step, double lr) {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> parts;
    for (const auto& g : grads) parts.push_back(g.reshape({-1}));
    auto grad = torch::cat(parts);
    const auto norm = grad.norm(2);
    if (config.grad_clip > 0) grad.mul_(((norm + 1e-6).reciprocal() * config.grad_clip).clamp_max(1.0));
    if (config.weight_decay > 0) grad.add_(flat, config.weight_decay);
    step.add_(1);
    exp_avg.mul_(kAdamBeta1).add_(grad, 1 - kAdamBeta1);
    exp_avg_sq.mul_(kAdamBeta2).addcmul_(grad, grad, 1 - kAdamBeta2);
    // Bias corrections in float64 as PyTorch's (host) Adam computes them, applied as float32.
    const auto bias1 = 1 - torch::pow(kAdamBeta1, step);
    const auto bias2 = 1 - torch::pow(kAdamBeta2, step);
    const auto denom = (exp_avg_sq.sqrt() / bias2.sqrt().to(torch::kFloat32)).add_(kAdamEps);
    flat.addcdiv_(exp_avg, denom * (bias1 / lr).to(torch::kFloat32), -1);
    return norm;
  }

  // One update of every group on device tensors, the LibTorch path's maths with autograd::grad and
  // adam_step in place of the optimizers, adding its statistics (means over groups) to sums and its
  // |TD errors| to td_last. weights and eps may be undefined.
  void device_update(const torch::Tensor& obs, const torch::Tensor& actions, const torch::Tensor& rewards,
                     const torch::Tensor& next_obs, const torch::Tensor& dones, const torch::Tensor& weights,
                     const torch::Tensor& eps, bool actor_step) {
    GraphState& gs = *graphed;
    const auto next_actions = next_joint_actions(next_obs, eps);
    std::vector<torch::Tensor> td_per_agent(kAgents);
    auto stats = torch::zeros({GraphState::kStats}, gs.floats);
    for (size_t n = 0; n < groups.size(); ++n) {
      Group& g = groups[n];
      const auto y = td_target(g, rewards, dones, next_obs, next_actions);
      const auto obs_v = group_view(g, obs);
      const auto [critic_loss, q1] = critic_loss_of(g, torch::cat({obs_v, group_view(g, actions)}, 1), y, weights);
      const auto critic_norm = adam_step(g.critic_flat, torch::autograd::grad({critic_loss}, g.critic_params),
                                         g.critic_exp_avg, g.critic_exp_avg_sq, gs.critic_steps[n], config.lr_critic);
      scatter_td(g, y, q1, td_per_agent);
      std::vector<torch::Tensor> row{critic_loss.detach(), q1.detach().mean(), critic_norm};
      if (actor_step) {
        const auto mu = group_actions(g, g.actor, obs);
        const auto actor_loss = -g.critics[0]->forward(policy_input(g, obs_v, actions, mu)).mean();
        const auto actor_norm = adam_step(g.actor_flat, torch::autograd::grad({actor_loss}, g.actor_params),
                                          g.actor_exp_avg, g.actor_exp_avg_sq, gs.actor_steps[n], config.lr_actor);
        row.insert(row.end(), {actor_loss.detach(), actor_norm,
                               (mu.detach().abs() > kSaturated).to(torch::kFloat32).mean()});
      } else {
        row.resize(GraphState::kStats, torch::zeros({}, gs.floats));
      }
      stats.add_(torch::stack(row));
    }
    if (actor_step) soft_update();
    torch::NoGradGuard no_grad;
    gs.sums.add_(stats / double(groups.size()));
    gs.td_last.copy_(torch::stack(td_per_agent, 0).mean(0));
  }

  // (Re)sizes the per-row device tensors for batches of `rows`; graphs captured for another size go.
  void size_graph_inputs(int64_t rows) {
    GraphState& gs = *graphed;
    if (gs.td_last.defined() && gs.td_last.size(0) == rows) return;
    gs.single.clear();
    gs.sampled.clear();
    gs.td_last = torch::zeros({rows}, gs.floats);
    gs.obs = torch::zeros({rows, kAgents, kObsSize}, gs.floats);
    gs.actions = torch::zeros({rows, kAgents, kActionSize}, gs.floats);
    gs.rewards = torch::zeros({rows, kAgents}, gs.floats);
    gs.next_obs = torch::zeros({rows, kAgents, kObsSize}, gs.floats);
    gs.dones = torch::zeros({rows, kAgents}, gs.floats);
    gs.weights = torch::ones({rows, 1}, gs.floats);
    gs.eps = torch::zeros({rows, kAgents, kActionSize}, gs.floats);
  }

  // A CUDA graph of `body`, captured after warm-up runs whose changes to the learner are undone.
  std::unique_ptr<graph::CapturedGraph> capture(const std::function<void()>& body) {
    std::vector<torch::Tensor> state;
    for (auto& g : groups) {
      state.insert(state.end(), {g.actor_flat, g.target_actor_flat, g.critic_flat, g.target_critic_flat,
                                 g.actor_exp_avg, g.actor_exp_avg_sq, g.critic_exp_avg, g.critic_exp_avg_sq});
    }
    for (auto& t : graphed->actor_steps) state.push_back(t);
    for (auto& t : graphed->critic_steps) state.push_back(t);
    std::vector<torch::Tensor> saved;
    for (const auto& t : state) saved.push_back(t.clone());
    auto restore = [&] {
      torch::NoGradGuard no_grad;
      for (size_t k = 0; k < state.size(); ++k) state[k].copy_(saved[k]);
    };
    return std::make_unique<graph::CapturedGraph>(body, restore, kGraphWarmup);
  }

  // Replays a graph of k updates (actor_updates of them stepping the actors) and reads its statistics.
  UpdateStats replay(graph::CapturedGraph& graph, int64_t k, int64_t actor_updates) {
    GraphState& gs = *graphed;
    for (size_t n = 0; n < groups.size(); ++n) {
      gs.actor_steps[n].fill_(double(groups[n].actor_adam_step));
      gs.critic_steps[n].fill_(double(groups[n].critic_adam_step));
    }
    gs.sums.zero_();
    graph.replay();
    for (auto& g : groups) {
      g.critic_adam_step += k;
      g.actor_adam_step += actor_updates;
    }
    updates += k;
    const auto sums = gs.sums.to(torch::kCPU);  // waits for the replay
    const auto td = gs.td_last.to(torch::kCPU).contiguous();
    auto sum = [&](int field) { return double(sums[field].item<float>()); };
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double a = double(actor_updates);
    UpdateStats stats;
    stats.updates = k;
    stats.actor_updates = actor_updates;
    stats.critic_loss = sum(GraphState::kCriticLoss) / double(k);
    stats.q_mean = sum(GraphState::kQMean) / double(k);
    stats.critic_grad_norm = sum(GraphState::kCriticNorm) / double(k);
    stats.actor_loss = a > 0 ? sum(GraphState::kActorLoss) / a : nan;
    stats.actor_grad_norm = a > 0 ? sum(GraphState::kActorNorm) / a : nan;
    stats.saturation = a > 0 ? sum(GraphState::kSaturation) / a : nan;
    stats.td_errors.assign(td.data_ptr<float>(), td.data_ptr<float>() + td.numel());
    return stats;
  }

  // update_batch on the graph path: the batch goes into the static inputs of a one-update graph.
  UpdateStats graph_update_batch(const BatchView& batch, const float* noise) {
    GraphState& gs = *graphed;
    const int64_t rows = batch.size;
    size_graph_inputs(rows);
    auto upload = [](torch::Tensor& to, const float* from) {
      to.copy_(torch::from_blob(const_cast<float*>(from), to.sizes(), torch::kFloat32));
    };
    upload(gs.obs, batch.obs);
    upload(gs.actions, batch.actions);
    upload(gs.rewards, batch.rewards);
    upload(gs.next_obs, batch.next_obs);
    upload(gs.dones, batch.dones);
    if (batch.weights) upload(gs.weights, batch.weights);
    if (noise) upload(gs.eps, noise);
    const bool weighted = batch.weights != nullptr;
    const bool actor_step = updates % config.policy_delay == 0;
    auto& graph = gs.single[{weighted, actor_step}];
    if (!graph) {
      graph = capture([this, &gs, weighted, actor_step] {
        device_update(gs.obs, gs.actions, gs.rewards, gs.next_obs, gs.dones, weighted ? gs.weights : torch::Tensor(),
                      config.target_noise > 0 ? gs.eps : torch::Tensor(), actor_step);
      });
    }
    return replay(*graph, 1, actor_step ? 1 : 0);
  }

  // Copies the records appended to `buffer` since the last call into the device mirror (all of them
  // for a new buffer). A slot still being written by another producer keeps its previous record.
  void sync_mirror(const ReplayBuffer& buffer) {
    GraphState& gs = *graphed;
    const int64_t capacity = buffer.capacity();
    if (gs.mirrored != &buffer || gs.records.size(0) != capacity) {
      gs.records = torch::zeros({capacity, kRecordFloats}, gs.floats);
      gs.mirrored = &buffer;
      gs.synced = 0;
      gs.sampled.clear();  // they read the previous records tensor
    }
    const int64_t total = buffer.total_added();
    std::vector<float> staged;
    std::vector<int64_t> slots;
    std::vector<float> record(kRecordFloats);
    for (int64_t ticket = std::max(gs.synced, total - capacity); ticket < total; ++ticket) {
      const int64_t slot = ticket % capacity;
      if (buffer.read_slot(slot, record.data()) == 0) continue;
      staged.insert(staged.end(), record.begin(), record.end());
      slots.push_back(slot);
    }
    if (!slots.empty()) {
      const int64_t n = int64_t(slots.size());
      gs.records.index_copy_(0, torch::tensor(slots, torch::kInt64).to(device),
                             torch::from_blob(staged.data(), {n, kRecordFloats}, torch::kFloat32).to(device));
    }
    gs.synced = total;
    gs.rows.fill_(double(std::min(total, capacity)));
  }

  // update(k, source) on the graph path for a uniform replay buffer: k updates, each sampling its batch
  // on the device from the mirror, replayed as one CUDA graph.
  UpdateStats graph_update_sampled(int64_t k, const ReplayBuffer& buffer) {
    GraphState& gs = *graphed;
    const int64_t rows = config.batch_size;
    if (buffer.size() < rows) {
      throw std::invalid_argument("cannot sample a batch of " + std::to_string(rows) +
                                  " transitions from a replay buffer holding " + std::to_string(buffer.size()));
    }
    size_graph_inputs(rows);
    sync_mirror(buffer);
    const int64_t phase = updates % config.policy_delay;
    auto& graph = gs.sampled[{k, phase}];
    if (!graph) {
      graph = capture([this, &gs, k, phase, rows] {
        auto field = [](const torch::Tensor& batch, int offset, std::vector<int64_t> shape) {
          int64_t width = 1;
          for (size_t d = 1; d < shape.size(); ++d) width *= shape[d];
          return batch.narrow(1, offset, width).reshape(shape);
        };
        for (int64_t u = 0; u < k; ++u) {
          const auto slot = torch::minimum((torch::rand({rows}, gs.floats) * gs.rows).floor(), gs.rows - 1);
          const auto batch = gs.records.index_select(0, slot.to(torch::kInt64));
          const auto eps = config.target_noise > 0 ? torch::randn({rows, kAgents, kActionSize}, gs.floats)
                                                   : torch::Tensor();
          device_update(field(batch, kObsOffset, {rows, kAgents, kObsSize}),
                        field(batch, kActionsOffset, {rows, kAgents, kActionSize}),
                        field(batch, kRewardsOffset, {rows, kAgents}),
                        field(batch, kNextObsOffset, {rows, kAgents, kObsSize}),
                        field(batch, kDonesOffset, {rows, kAgents}), torch::Tensor(), eps,
                        (phase + u) % config.policy_delay == 0);
        }
      });
    }
    int64_t actor_updates = 0;
    for (int64_t u = 0; u < k; ++u) actor_updates += (phase + u) % config.policy_delay == 0 ? 1 : 0;
    return replay(*graph, k, actor_updates);
  }
};

Maddpg::Maddpg(const MaddpgConfig& config) {
  validate(config);
  impl_ = std::make_unique<Impl>(config);
  impl_->build();
}

Maddpg::~Maddpg() = default;

const MaddpgConfig& Maddpg::config() const { return impl_->config; }

UpdateStats Maddpg::update_batch(const BatchView& batch, const float* target_noise) {
  return impl_->update_batch(batch, target_noise);
}

UpdateStats Maddpg::update(int64_t k, BatchSource& source) {
  if (k < 1) throw std::invalid_argument("k must be >= 1, got " + std::to_string(k));
  auto& m = *impl_;
  if (m.graphed) {
    if (const ReplayBuffer* buffer = source.uniform_buffer()) return m.graph_update_sampled(k, *buffer);
  }
  const int64_t rows = m.config.batch_size;
  if (int64_t(m.obs.size()) != rows * kJointObs) {
    m.obs.assign(size_t(rows * kJointObs), 0.f);
    m.actions.assign(size_t(rows * kJointAction), 0.f);
    m.rewards.assign(size_t(rows * kAgents), 0.f);
    m.next_obs.assign(size_t(rows * kJointObs), 0.f);
    m.dones.assign(size_t(rows * kAgents), 0.f);
    m.weights.assign(size_t(rows), 1.f);
    m.indices.assign(size_t(rows), 0);
  }
  UpdateStats total;
  double critic_loss = 0, q_mean = 0, critic_norm = 0, actor_loss = 0, actor_norm = 0, saturation = 0;
  for (int64_t u = 0; u < k; ++u) {
    BatchView view{rows, m.obs.data(), m.actions.data(), m.rewards.data(), m.next_obs.data(),
                   m.dones.data(), m.weights.data(), m.indices.data()};
    source.next(view);
    if (view.size != rows) {
      throw std::invalid_argument("batch source returned " + std::to_string(view.size) + " rows, expected batch_size " +
                                  std::to_string(rows));
    }
    UpdateStats s = m.update_batch(view, nullptr);
    source.feedback(view, s.td_errors.data());
    critic_loss += s.critic_loss;
    q_mean += s.q_mean;
    critic_norm += s.critic_grad_norm;
    if (s.actor_updates) {
      actor_loss += s.actor_loss;
      actor_norm += s.actor_grad_norm;
      saturation += s.saturation;
    }
    total.actor_updates += s.actor_updates;
    total.td_errors = std::move(s.td_errors);
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  total.updates = k;
  total.critic_loss = critic_loss / double(k);
  total.q_mean = q_mean / double(k);
  total.critic_grad_norm = critic_norm / double(k);
  const double a = double(total.actor_updates);
  total.actor_loss = a > 0 ? actor_loss / a : nan;
  total.actor_grad_norm = a > 0 ? actor_norm / a : nan;
  total.saturation = a > 0 ? saturation / a : nan;
  return total;
}

void Maddpg::act(const float* obs, int64_t n_envs, float* actions, bool explore) {
  if (n_envs < 1) throw std::invalid_argument("n_envs must be >= 1, got " + std::to_string(n_envs));
  auto& m = *impl_;
  m.apply_threads();
  if (m.fused) {
    m.fused->act(obs, n_envs, actions);
  } else {
    torch::NoGradGuard no_grad;
    const auto obs_t = torch::from_blob(const_cast<float*>(obs), {n_envs, kAgents, kObsSize}, torch::kFloat32)
                           .to(m.device);
    const auto out = m.joint_actions(obs_t, /*target=*/false).to(torch::kCPU);
    torch::from_blob(actions, {n_envs, kAgents, kActionSize}, torch::kFloat32).copy_(out);
  }
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

int64_t Maddpg::update_count() const { return impl_->updates; }

std::vector<ParameterInfo> Maddpg::parameter_layout() const {
  std::vector<ParameterInfo> out;
  int64_t offset = 0;
  for (auto& [name, tensor] : impl_->named_parameters()) {
    out.push_back({name, tensor.sizes().vec(), offset, tensor.numel()});
    offset += tensor.numel();
  }
  return out;
}

int64_t Maddpg::parameter_count() const {
  int64_t total = 0;
  for (auto& item : impl_->named_parameters()) total += item.second.numel();
  return total;
}

std::vector<float> Maddpg::get_parameters() const {
  std::vector<float> out(static_cast<size_t>(parameter_count()));
  get_parameters(out.data(), int64_t(out.size()));
  return out;
}

void Maddpg::get_parameters(float* out, int64_t length) const {
  const int64_t expected = parameter_count();
  if (!out || length != expected) {
    throw std::invalid_argument("parameters must hold " + std::to_string(expected) + " floats, got " +
                                std::to_string(length));
  }
  int64_t offset = 0;
  for (auto& item : impl_->named_parameters()) {
    const auto& t = item.second;
    torch::from_blob(out + offset, t.sizes(), torch::kFloat32).copy_(t.detach().to(torch::kCPU));
    offset += t.numel();
  }
}

void Maddpg::set_parameters(const float* data, int64_t length) {
  const int64_t expected = parameter_count();
  if (!data || length != expected) {
    throw std::invalid_argument("parameters must hold " + std::to_string(expected) + " floats, got " +
                                std::to_string(length));
  }
  for (int64_t k = 0; k < length; ++k) {
    if (!std::isfinite(data[k])) {
      throw std::invalid_argument("parameters has a non-finite value at index " + std::to_string(k));
    }
  }
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (auto& item : impl_->named_parameters()) {
    auto t = item.second;
    t.copy_(torch::from_blob(const_cast<float*>(data) + offset, t.sizes(), torch::kFloat32));
    offset += t.numel();
  }
  if (impl_->fused) impl_->fused->parameters_changed();
}

void Maddpg::reset_actors(uint64_t seed) {
  Rng init_rng(seed);
  torch::NoGradGuard no_grad;
  for (auto& g : impl_->groups) {
    g.actor->reset_parameters(init_rng);
    g.target_actor_flat.copy_(g.actor_flat);
    g.actor_exp_avg.zero_();
    g.actor_exp_avg_sq.zero_();
    g.actor_adam_step = 0;
    for (auto& item : g.actor_opt->state()) static_cast<torch::optim::AdamParamState&>(*item.second).step(0);
  }
  if (impl_->fused) impl_->fused->parameters_changed();
}

std::vector<float> Maddpg::get_actor_parameters(int agent) const {
  if (agent < 0 || agent >= kAgents) {
    throw std::invalid_argument("agent must be in [0, " + std::to_string(kAgents - 1) + "], got " +
                                std::to_string(agent));
  }
  const auto& flat = impl_->group_of(agent).actor_flat;
  const auto cpu = flat.to(torch::kCPU).contiguous();
  return std::vector<float>(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
}

std::string Maddpg::architecture() const {
  const auto& c = impl_->config;
  std::ostringstream os;
  os << "agents=" << kAgents << "\nobs_size=" << kObsSize << "\naction_size=" << kActionSize
     << "\nactor_hidden=" << join(c.actor_hidden) << "\ncritic_hidden=" << join(c.critic_hidden)
     << "\nlayer_norm=" << c.layer_norm << "\nbatch_norm=" << c.batch_norm
     << "\nshared_parameters=" << c.shared_parameters << "\ntwin_critics=" << c.twin_critics << "\n";
  return os.str();
}

void Maddpg::save(const std::string& path) const {
  auto& m = *impl_;
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kCheckpointFormat)));
  archive.write("architecture", c10::IValue(architecture()));
  archive.write("updates", torch::tensor(m.updates, torch::kInt64));
  archive.write("target_rng", torch::tensor(m.target_rng.state(), torch::kInt64));
  const auto& ou = m.noise.ou_state();
  archive.write("noise_ou", torch::tensor(ou.empty() ? std::vector<float>{} : ou, torch::kFloat32));
  archive.write("noise_counters", torch::tensor(m.noise.counters_and_rng(), torch::kInt64));
  for (size_t n = 0; n < m.groups.size(); ++n) {
    auto& g = m.groups[n];
    const std::string prefix = m.group_name(n) + "_";
    for (auto& [net, module] : m.named_nets(g)) {
      torch::serialize::OutputArchive sub;
      write_module(sub, *module);
      archive.write(prefix + net, sub);
    }
    torch::serialize::OutputArchive actor_opt, critic_opt;
    // The fused and graph paths count Adam steps themselves; the archive keeps LibTorch's format.
    detach_adam_state(*g.actor_opt, m.counts_adam_steps() ? &g.actor_adam_step : nullptr);
    detach_adam_state(*g.critic_opt, m.counts_adam_steps() ? &g.critic_adam_step : nullptr);
    g.actor_opt->save(actor_opt);
    g.critic_opt->save(critic_opt);
    flatten_adam_state(*g.actor_opt, g.actor_params, g.actor_exp_avg, g.actor_exp_avg_sq);
    flatten_adam_state(*g.critic_opt, g.critic_params, g.critic_exp_avg, g.critic_exp_avg_sq);
    archive.write(prefix + "actor_optimizer", actor_opt);
    archive.write(prefix + "critic_optimizer", critic_opt);
  }
  // Serialised in memory first, so that a failed file write is an error and not an abort.
  std::ostringstream bytes(std::ios::binary);
  try {
    archive.save_to(bytes);
  } catch (const c10::Error& e) {
    throw std::runtime_error("cannot write checkpoint " + path + ": " + e.what_without_backtrace());
  }
  write_file(path, bytes.str());
}

void Maddpg::load(const std::string& path) {
  auto& m = *impl_;
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, m.device);
  } catch (const c10::Error& e) {
    throw std::invalid_argument("cannot read checkpoint " + path + ": " + e.what_without_backtrace());
  }
  c10::IValue format, arch;
  if (!archive.try_read("format", format) || !format.isString() || format.toStringRef() != kCheckpointFormat) {
    throw std::invalid_argument("checkpoint " + path + " is not a tennis-train MADDPG checkpoint (format " +
                                kCheckpointFormat + ")");
  }
  archive.read("architecture", arch);
  const auto theirs = parse_fields(arch.toStringRef());
  const auto ours = parse_fields(architecture());
  std::string differences;
  for (const auto& [key, value] : ours) {
    const auto it = theirs.find(key);
    const std::string other = it == theirs.end() ? "(missing)" : it->second;
    if (other != value) {
      differences += (differences.empty() ? "" : "; ") + key + " is " + other + " in the checkpoint but " + value +
                     " in this model";
    }
  }
  if (!differences.empty()) {
    throw std::invalid_argument("checkpoint " + path + " has another architecture: " + differences);
  }
  for (size_t n = 0; n < m.groups.size(); ++n) {
    auto& g = m.groups[n];
    const std::string prefix = m.group_name(n) + "_";
    for (auto& [net, module] : m.named_nets(g)) {
      torch::serialize::InputArchive sub;
      archive.read(prefix + net, sub);
      read_module(sub, *module, prefix + net + ".");
    }
    torch::serialize::InputArchive actor_opt, critic_opt;
    archive.read(prefix + "actor_optimizer", actor_opt);
    archive.read(prefix + "critic_optimizer", critic_opt);
    g.actor_opt->load(actor_opt);
    g.critic_opt->load(critic_opt);
    g.actor_adam_step = flatten_adam_state(*g.actor_opt, g.actor_params, g.actor_exp_avg, g.actor_exp_avg_sq);
    g.critic_adam_step = flatten_adam_state(*g.critic_opt, g.critic_params, g.critic_exp_avg, g.critic_exp_avg_sq);
  }
  if (m.fused) m.fused->parameters_changed();
  torch::Tensor updates, target_rng, noise_ou, noise_counters;
  archive.read("updates", updates);
  archive.read("target_rng", target_rng);
  archive.read("noise_ou", noise_ou);
  archive.read("noise_counters", noise_counters);
  auto ints = [](const torch::Tensor& t) {
    const auto c = t.to(torch::kCPU).contiguous();
    return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
  };
  const auto ou = noise_ou.to(torch::kCPU).contiguous();
  m.noise.restore(std::vector<float>(ou.data_ptr<float>(), ou.data_ptr<float>() + ou.numel()), ints(noise_counters));
  m.target_rng.set_state(ints(target_rng));
  m.updates = updates.item<int64_t>();
}

void Maddpg::export_actor_torchscript(const std::string& path, int agent) const {
  if (agent < 0 || agent >= kAgents) {
    throw std::invalid_argument("agent must be in [0, " + std::to_string(kAgents - 1) + "], got " +
                                std::to_string(agent));
  }
  try {
    tennis::export_actor_torchscript(impl_->group_of(agent).actor, path);
  } catch (const c10::Error& e) {
    throw std::runtime_error("cannot export the actor to " + path + ": " + e.what_without_backtrace());
  }
}

}  // namespace tennis
