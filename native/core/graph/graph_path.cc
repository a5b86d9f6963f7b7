// The update of MaddpgConfig::impl "graph" (device "cuda"): the LibTorch path's maths as device-only
// tensor ops (autograd::grad and an Adam step of its own that reads nothing back to the host),
// captured once per shape as a CUDA graph (captured_graph.h) and replayed. update_batch uploads its
// batch into the static inputs of a one-update graph; update(k, source) on a uniform replay buffer
// runs k updates that sample their batches on the device from a mirror of the buffer's records, as
// one graph. Compiles against a CPU-only LibTorch too, where make_graph_path throws.
#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

#include "../learner.h"
#include "../replay_buffer.h"
#include "../update_path.h"
#include "captured_graph.h"

namespace tennis {
namespace {

// torch.optim.Adam's defaults (LibTorch's and the reference's), for this path's own Adam.
constexpr double kAdamBeta1 = 0.9, kAdamBeta2 = 0.999, kAdamEps = 1e-8;
// Eager runs of an update before its CUDA graph is captured (their effect is undone).
constexpr int kGraphWarmup = 2;

class GraphPath : public UpdatePath {
 public:
  explicit GraphPath(Learner& learner) : learner_(learner) {
    if (!graph::available()) throw std::invalid_argument("impl \"graph\" needs CUDA graphs, which this build lacks");
    torch::cuda::manual_seed_all(learner.config.seed);  // device-side sampling and smoothing noise
    floats_ = torch::TensorOptions().dtype(torch::kFloat32).device(learner.device);
    for (size_t n = 0; n < learner.groups.size(); ++n) {
      actor_steps_.push_back(torch::zeros({}, floats_.dtype(torch::kFloat64)));
      critic_steps_.push_back(torch::zeros({}, floats_.dtype(torch::kFloat64)));
    }
    sums_ = torch::zeros({kStats}, floats_);
    rows_ = torch::zeros({}, floats_);
  }

  // update_batch: the batch goes into the static inputs of a one-update graph.
  UpdateStats update_batch(const BatchView& batch, const float* noise, bool actor_step) override {
    const int64_t rows = batch.size;
    size_inputs(rows);
    auto upload = [](torch::Tensor& to, const float* from) {
      to.copy_(torch::from_blob(const_cast<float*>(from), to.sizes(), torch::kFloat32));
    };
    upload(obs_, batch.obs);
    upload(actions_, batch.actions);
    upload(rewards_, batch.rewards);
    upload(next_obs_, batch.next_obs);
    upload(dones_, batch.dones);
    if (batch.weights) upload(weights_, batch.weights);
    if (noise) upload(eps_, noise);
    const bool weighted = batch.weights != nullptr;
    auto& graph = single_[{weighted, actor_step}];
    if (!graph) {
      graph = capture([this, weighted, actor_step] {
        device_update(obs_, actions_, rewards_, next_obs_, dones_, weighted ? weights_ : torch::Tensor(),
                      learner_.config.target_noise > 0 ? eps_ : torch::Tensor(), actor_step);
      });
    }
    return replay(*graph, 1, actor_step ? 1 : 0);
  }

  // k updates, each sampling its batch on the device from the mirror of a uniform replay buffer,
  // replayed as one CUDA graph.
  bool update_sampled(int64_t k, BatchSource& source, UpdateStats& stats) override {
    const ReplayBuffer* buffer = source.uniform_buffer();
    if (!buffer) return false;
    const MaddpgConfig& config = learner_.config;
    const int64_t rows = config.batch_size;
    if (buffer->size() < rows) {
      throw std::invalid_argument("cannot sample a batch of " + std::to_string(rows) +
                                  " transitions from a replay buffer holding " + std::to_string(buffer->size()));
    }
    size_inputs(rows);
    sync_mirror(*buffer);
    const int64_t phase = learner_.updates % config.policy_delay;
    auto& graph = sampled_[{k, phase}];
    if (!graph) {
      graph = capture([this, k, phase, rows] {
        const MaddpgConfig& config = learner_.config;
        auto field = [](const torch::Tensor& batch, int offset, std::vector<int64_t> shape) {
          int64_t width = 1;
          for (size_t d = 1; d < shape.size(); ++d) width *= shape[d];
          return batch.narrow(1, offset, width).reshape(shape);
        };
        for (int64_t u = 0; u < k; ++u) {
          const auto slot = torch::minimum((torch::rand({rows}, floats_) * rows_).floor(), rows_ - 1);
          const auto batch = records_.index_select(0, slot.to(torch::kInt64));
          const auto eps =
              config.target_noise > 0 ? torch::randn({rows, kAgents, kActionSize}, floats_) : torch::Tensor();
          device_update(
              field(batch, kObsOffset, {rows, kAgents, kObsSize}),
              field(batch, kActionsOffset, {rows, kAgents, kActionSize}), field(batch, kRewardsOffset, {rows, kAgents}),
              field(batch, kNextObsOffset, {rows, kAgents, kObsSize}), field(batch, kDonesOffset, {rows, kAgents}),
              torch::Tensor(), eps, (phase + u) % config.policy_delay == 0);
        }
      });
    }
    int64_t actor_updates = 0;
    for (int64_t u = 0; u < k; ++u) actor_updates += (phase + u) % config.policy_delay == 0 ? 1 : 0;
    stats = replay(*graph, k, actor_updates);
    return true;
  }

  void act(const float* obs, int64_t n, float* actions) override { learner_.act(obs, n, actions); }
  void parameters_changed() override {}
  bool counts_adam_steps() const override { return true; }

 private:
  // The fields of sums_, summed over the updates of one replay.
  enum Stat { kCriticLoss, kQMean, kCriticNorm, kActorLoss, kActorNorm, kSaturation, kStats };

  // PyTorch's Adam step (L2 weight decay) on a flat network with device step counts, after clipping
  // the gradients to config.grad_clip by total norm: nothing reads back to the host, so a CUDA graph
  // can capture it. Returns the norm before clipping.
  torch::Tensor adam_step(torch::Tensor& flat, const std::vector<torch::Tensor>& grads, torch::Tensor& exp_avg,
                          torch::Tensor& exp_avg_sq, torch::Tensor& step, double lr) {
    const MaddpgConfig& config = learner_.config;
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
  // adam_step in place of the optimizers, adding its statistics (means over groups) to sums_ and its
  // |TD errors| to td_last_. weights and eps may be undefined.
  void device_update(const torch::Tensor& obs, const torch::Tensor& actions, const torch::Tensor& rewards,
                     const torch::Tensor& next_obs, const torch::Tensor& dones, const torch::Tensor& weights,
                     const torch::Tensor& eps, bool actor_step) {
    Learner& l = learner_;
    const auto next_actions = l.next_joint_actions(next_obs, eps);
    std::vector<torch::Tensor> td_per_agent(kAgents);
    auto stats = torch::zeros({kStats}, floats_);
    for (size_t n = 0; n < l.groups.size(); ++n) {
      Group& g = l.groups[n];
      const auto y = l.td_target(g, rewards, dones, next_obs, next_actions);
      const auto obs_v = l.group_view(g, obs);
      const auto [critic_loss, q1] = l.critic_loss_of(g, torch::cat({obs_v, l.group_view(g, actions)}, 1), y, weights);
      const auto critic_norm = adam_step(g.critic_flat, torch::autograd::grad({critic_loss}, g.critic_params),
                                         g.critic_exp_avg, g.critic_exp_avg_sq, critic_steps_[n], l.config.lr_critic);
      l.scatter_td(g, y, q1, td_per_agent);
      std::vector<torch::Tensor> row{critic_loss.detach(), q1.detach().mean(), critic_norm};
      if (actor_step) {
        const auto mu = Learner::group_actions(g, g.actor, obs);
        const auto actor_loss = -g.critics[0]->forward(l.policy_input(g, obs_v, actions, mu)).mean();
        const auto actor_norm = adam_step(g.actor_flat, torch::autograd::grad({actor_loss}, g.actor_params),
                                          g.actor_exp_avg, g.actor_exp_avg_sq, actor_steps_[n], l.config.lr_actor);
        row.insert(row.end(),
                   {actor_loss.detach(), actor_norm, (mu.detach().abs() > kSaturated).to(torch::kFloat32).mean()});
      } else {
        row.resize(kStats, torch::zeros({}, floats_));
      }
      stats.add_(torch::stack(row));
    }
    if (actor_step) l.soft_update();
    torch::NoGradGuard no_grad;
    sums_.add_(stats / double(l.groups.size()));
    td_last_.copy_(torch::stack(td_per_agent, 0).mean(0));
  }

  // (Re)sizes the per-row device tensors for batches of `rows`; graphs captured for another size go.
  void size_inputs(int64_t rows) {
    if (td_last_.defined() && td_last_.size(0) == rows) return;
    single_.clear();
    sampled_.clear();
    td_last_ = torch::zeros({rows}, floats_);
    obs_ = torch::zeros({rows, kAgents, kObsSize}, floats_);
    actions_ = torch::zeros({rows, kAgents, kActionSize}, floats_);
    rewards_ = torch::zeros({rows, kAgents}, floats_);
    next_obs_ = torch::zeros({rows, kAgents, kObsSize}, floats_);
    dones_ = torch::zeros({rows, kAgents}, floats_);
    weights_ = torch::ones({rows, 1}, floats_);
    eps_ = torch::zeros({rows, kAgents, kActionSize}, floats_);
  }

  // A CUDA graph of `body`, captured after warm-up runs whose changes to the learner are undone.
  std::unique_ptr<graph::CapturedGraph> capture(const std::function<void()>& body) {
    std::vector<torch::Tensor> state;
    for (auto& g : learner_.groups) {
      state.insert(state.end(), {g.actor_flat, g.target_actor_flat, g.critic_flat, g.target_critic_flat,
                                 g.actor_exp_avg, g.actor_exp_avg_sq, g.critic_exp_avg, g.critic_exp_avg_sq});
    }
    for (auto& t : actor_steps_) state.push_back(t);
    for (auto& t : critic_steps_) state.push_back(t);
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
    auto& groups = learner_.groups;
    for (size_t n = 0; n < groups.size(); ++n) {
      actor_steps_[n].fill_(double(groups[n].actor_adam_step));
      critic_steps_[n].fill_(double(groups[n].critic_adam_step));
    }
    sums_.zero_();
    graph.replay();
    for (auto& g : groups) {
      g.critic_adam_step += k;
      g.actor_adam_step += actor_updates;
    }
    const auto sums = sums_.to(torch::kCPU);  // waits for the replay
    const auto td = td_last_.to(torch::kCPU).contiguous();
    auto sum = [&](int field) { return double(sums[field].item<float>()); };
    StatsAccumulator totals;
    totals.add_critic_sums(sum(kCriticLoss), sum(kQMean), sum(kCriticNorm), k);
    totals.add_actor_sums(sum(kActorLoss), sum(kActorNorm), sum(kSaturation), actor_updates);
    UpdateStats stats = totals.means(k, actor_updates);
    stats.td_errors.assign(td.data_ptr<float>(), td.data_ptr<float>() + td.numel());
    return stats;
  }

  // Copies the records appended to `buffer` since the last call into the device mirror (all of them
  // for a new buffer). A slot still being written by another producer keeps its previous record.
  void sync_mirror(const ReplayBuffer& buffer) {
    const int64_t capacity = buffer.capacity();
    if (mirrored_ != &buffer || records_.size(0) != capacity) {
      records_ = torch::zeros({capacity, kRecordFloats}, floats_);
      mirrored_ = &buffer;
      synced_ = 0;
      sampled_.clear();  // they read the previous records tensor
    }
    const int64_t total = buffer.total_added();
    std::vector<float> staged;
    std::vector<int64_t> slots;
    std::vector<float> record(kRecordFloats);
    for (int64_t ticket = std::max(synced_, total - capacity); ticket < total; ++ticket) {
      const int64_t slot = ticket % capacity;
      if (buffer.read_slot(slot, record.data()) == 0) continue;
      staged.insert(staged.end(), record.begin(), record.end());
      slots.push_back(slot);
    }
    if (!slots.empty()) {
      const int64_t n = int64_t(slots.size());
      records_.index_copy_(0, torch::tensor(slots, torch::kInt64).to(learner_.device),
                           torch::from_blob(staged.data(), {n, kRecordFloats}, torch::kFloat32).to(learner_.device));
    }
    synced_ = total;
    rows_.fill_(double(std::min(total, capacity)));
  }

  Learner& learner_;
  torch::TensorOptions floats_;  // float32 on the device
  // Adam step counts per group, float64 scalars: 1 - 0.999^step in float32 would lose ~1e-4 of the
  // bias correction to cancellation in the first steps.
  std::vector<torch::Tensor> actor_steps_, critic_steps_;
  torch::Tensor sums_;     // [kStats]
  torch::Tensor td_last_;  // |TD error| per row of the last update (agents' mean)
  // Static inputs of the single-batch graphs (update_batch), sized for td_last_'s rows.
  torch::Tensor obs_, actions_, rewards_, next_obs_, dones_, weights_, eps_;
  // Device mirror of the replay buffer update_sampled samples from: records [capacity][kRecordFloats],
  // rows stored (float32 scalar) and buffer tickets copied so far.
  const ReplayBuffer* mirrored_ = nullptr;
  torch::Tensor records_, rows_;
  int64_t synced_ = 0;
  // Captured graphs: single-batch ones by (weighted, actor step), sampled ones by (k, policy-delay phase).
  std::map<std::pair<bool, bool>, std::unique_ptr<graph::CapturedGraph>> single_;
  std::map<std::pair<int64_t, int64_t>, std::unique_ptr<graph::CapturedGraph>> sampled_;
};

}  // namespace

std::unique_ptr<UpdatePath> make_graph_path(Learner& learner) { return std::make_unique<GraphPath>(learner); }

}  // namespace tennis
