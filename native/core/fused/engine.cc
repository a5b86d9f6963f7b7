// The fused update, step for step the maths of the LibTorch path, libtorch_path.cc (which the parity
// tests hold to the PyTorch reference within float rounding): target joint action once from all target actors;
// per group, the critic (and twin) towards y = r_i + gamma (1 - done_i) Q'_i on the stacked agent
// views, then the actor along -Q_i(o, a with a_i = mu_i(o_i)) through the just-stepped critic,
// without critic weight gradients; then the soft update. Rows are ordered as the LibTorch path
// orders them: critic rows agent by agent (row k * B + r is agent k's view of transition r), actor
// rows of a shared actor interleaved (row r * agents + k), as the joint observations lie in memory.
#include "engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels.h"
#include "mlp.h"
#include "pair.h"

namespace tennis::fused {
namespace {

// Joint observation and action widths, and the critic input width.
constexpr int64_t kJointObs = kAgents * kObsSize;
constexpr int64_t kJointAction = kAgents * kActionSize;
constexpr int64_t kCriticInput = kJointObs + kJointAction;
// |action| above this counts as saturated (as in learner.h).
constexpr float kSaturated = 0.99f;
// clip_grad_norm_'s guard: coefficient = max_norm / (norm + 1e-6).
constexpr float kClipGuard = 1e-6f;
// torch.optim.Adam defaults, which both other paths use.
constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kAdamEps = 1e-8;

void ensure(std::vector<float>& v, int64_t n) {
  if (int64_t(v.size()) < n) v.resize(size_t(n));
}

// The parameter tensors of `net`, in the flat layout's order (weight, bias per layer): gradient norms
// are taken per tensor first, as clip_grad_norm_ does.
void append_tensor_sizes(const MlpLayout& net, std::vector<int64_t>& sizes) {
  for (const Dense& d : net.layers) {
    sizes.push_back(d.in * d.out);
    sizes.push_back(d.out);
  }
}

// clip_grad_norm_ (PyTorch's): the norm of the per-tensor norms; when max_norm > 0 the gradient is
// scaled by min(1, (1 / (norm + 1e-6)) * max_norm). Returns the norm before clipping.
float clip_gradient(float* grad, const std::vector<int64_t>& tensor_sizes, double max_norm, std::vector<float>& norms) {
  norms.clear();
  int64_t offset = 0;
  for (int64_t size : tensor_sizes) {
    norms.push_back(vector_norm(size, grad + offset));
    offset += size;
  }
  const float norm = norms.size() == 1 ? norms[0] : vector_norm(int64_t(norms.size()), norms.data());
  if (max_norm > 0) {
    const float coefficient = (1.f / (norm + kClipGuard)) * float(max_norm);
    if (coefficient < 1.f) scale(offset, grad, coefficient);
  }
  return norm;
}

void optimizer_step(const NetBuffers& net, const float* grad, double lr, double weight_decay) {
  AdamParams adam;
  adam.lr = lr;
  adam.beta1 = kBeta1;
  adam.beta2 = kBeta2;
  adam.eps = kAdamEps;
  adam.weight_decay = weight_decay;
  const int64_t step = ++*net.step;
  adam_step(net.numel, net.params, grad, net.exp_avg, net.exp_avg_sq, adam, step);
}

}  // namespace

struct Updater::Group {
  GroupBuffers buffers;
  MlpLayout actor;
  std::vector<MlpLayout> critics;  // the critic, then its twin, one after the other in the flat buffer
  // view[k][p]: the agent whose obs/action fills slot p of agent k's critic input (own first when shared).
  std::vector<std::vector<int>> view;
  int64_t own_action_column = 0;  // first critic-input column of the group's own action

  // Workspace, sized for the batch by prepare().
  std::vector<float> x, x_next, x_actor;  // critic inputs [rows][52], agent-major
  std::vector<float> q_next[2], q[2], dq[2], y, q_actor, dq_actor;
  std::vector<float> mu, d_mu, d_pre;  // [rows][2]: actor rows, critic rows, actor rows
  // Weights transposed for the forward products (pack_transposed), kept in step with the flat
  // buffers: repacked after each optimizer step, and the targets soft-updated in this layout too
  // (an elementwise update commutes with the transpose, so the bits are those of a fresh pack).
  std::vector<float> packed_actor, packed_actor_target, packed_critic, packed_critic_target;
  bool packs_valid = false;  // false until packed, and after an outside change of the parameters
  std::vector<float> grad_actor, grad_critic, norms;
  std::vector<int64_t> actor_tensors, critic_tensors;  // parameter tensor sizes, in layout order
  MlpActivations actor_kept, critic_kept[2], target_kept, act_kept;
  MlpScratch scratch;

  // Results of the last learn().
  double critic_loss = 0, q_mean = 0, critic_norm = 0, actor_loss = 0, actor_norm = 0, saturation = 0;
  std::vector<float> td;  // |y - Q1| per critic row

  int64_t agents() const { return int64_t(buffers.agents.size()); }

  void pack_actor(const float* flat, float* packed) const { pack_transposed(actor, flat, packed); }
  void pack_critics(const float* flat, float* packed) const {
    for (const MlpLayout& critic : critics) pack_transposed(critic, flat, packed);
  }
  void ensure_packed() {
    if (packs_valid) return;
    pack_actor(buffers.actor.params, packed_actor.data());
    pack_actor(buffers.actor.target, packed_actor_target.data());
    pack_critics(buffers.critic.params, packed_critic.data());
    pack_critics(buffers.critic.target, packed_critic_target.data());
    packs_valid = true;
  }

  // The actor's input for this group's rows: one agent's columns of the joint obs, or all of them
  // as [rows * agents][24] (shared, interleaved).
  const float* actor_input(const float* joint_obs, int64_t& ld) const {
    if (agents() == 1) {
      ld = kJointObs;
      return joint_obs + buffers.agents[0] * kObsSize;
    }
    ld = kObsSize;
    return joint_obs;
  }

  // The actor row of agent k's transition r.
  int64_t actor_row(int64_t r, int64_t k) const { return r * agents() + k; }

  // Critic inputs of the group's rows from joint obs [B][agents][24] and actions [B][agents][2].
  void build_input(float* dst, const float* obs, const float* actions, int64_t batch) const {
    for (int64_t k = 0; k < agents(); ++k) {
      for (int64_t r = 0; r < batch; ++r) {
        float* row = dst + (k * batch + r) * kCriticInput;
        for (int p = 0; p < kAgents; ++p) {
          const int j = view[size_t(k)][size_t(p)];
          std::memcpy(row + p * kObsSize, obs + r * kJointObs + j * kObsSize, sizeof(float) * kObsSize);
          std::memcpy(row + kJointObs + p * kActionSize, actions + r * kJointAction + j * kActionSize,
                      sizeof(float) * kActionSize);
        }
      }
    }
  }

  void prepare(int64_t batch) {
    const int64_t rows = batch * agents();
    ensure(x, rows * kCriticInput);
    ensure(x_next, rows * kCriticInput);
    ensure(x_actor, rows * kCriticInput);
    for (int c = 0; c < 2; ++c) {
      ensure(q_next[c], rows);
      ensure(q[c], rows);
      ensure(dq[c], rows);
    }
    ensure(y, rows);
    ensure(q_actor, rows);
    ensure(dq_actor, rows);
    ensure(mu, rows * kActionSize);
    ensure(d_mu, rows * kActionSize);
    ensure(d_pre, rows * kActionSize);
    ensure(td, rows);
    auto size_kept = [&](const MlpLayout& net, MlpActivations& kept) {
      kept.hidden.resize(net.layers.size() - 1);
      for (size_t l = 0; l + 1 < net.layers.size(); ++l) ensure(kept.hidden[l], rows * net.layers[l].out);
    };
    size_kept(actor, actor_kept);
    size_kept(critics[0], target_kept);
    for (size_t c = 0; c < critics.size(); ++c) size_kept(critics[c], critic_kept[c]);
    const int64_t widest = std::max(actor.widest_hidden(), critics[0].widest_hidden());
    ensure(scratch.a, rows * widest);
    ensure(scratch.b, rows * widest);
  }
};

Updater::Updater(const MaddpgConfig& config, std::vector<GroupBuffers> groups) : config_(config) {
  for (auto& buffers : groups) {
    auto g = std::make_unique<Group>();
    g->buffers = std::move(buffers);
    g->actor = MlpLayout(kObsSize, config_.actor_hidden, kActionSize, 0);
    const int n_critics = config_.twin_critics ? 2 : 1;
    int64_t offset = 0;
    for (int c = 0; c < n_critics; ++c) {
      g->critics.emplace_back(kCriticInput, config_.critic_hidden, 1, offset);
      offset += g->critics.back().numel;
    }
    for (int i : g->buffers.agents) {
      std::vector<int> order;
      if (config_.shared_parameters) order.push_back(i);
      for (int j = 0; j < kAgents; ++j) {
        if (!config_.shared_parameters || j != i) order.push_back(j);
      }
      g->view.push_back(order);
    }
    const auto& first = g->view[0];
    const int own = g->buffers.agents[0];
    g->own_action_column = kJointObs + kActionSize * (std::find(first.begin(), first.end(), own) - first.begin());
    append_tensor_sizes(g->actor, g->actor_tensors);
    for (const auto& critic : g->critics) append_tensor_sizes(critic, g->critic_tensors);
    g->packed_actor.resize(size_t(g->buffers.actor.numel));
    g->packed_actor_target.resize(size_t(g->buffers.actor.numel));
    g->grad_actor.resize(size_t(g->buffers.actor.numel));
    g->packed_critic.resize(size_t(g->buffers.critic.numel));
    g->packed_critic_target.resize(size_t(g->buffers.critic.numel));
    g->grad_critic.resize(size_t(g->buffers.critic.numel));
    groups_.push_back(std::move(g));
  }
}

Updater::~Updater() = default;

void Updater::target_actions(Group& g, const BatchView& batch, const float* noise, int threads) {
  const int64_t n = g.agents(), rows = batch.size * n;
  g.ensure_packed();
  int64_t ld_x;
  const float* x = g.actor_input(batch.next_obs, ld_x);
  // Into the group's own contiguous [rows][2], then into the joint next actions.
  float* out = g.mu.data();
  mlp_forward(g.actor, g.buffers.actor.target, g.packed_actor_target.data(), rows, x, ld_x, out, kActionSize,
              g.actor_kept, threads);
  tanh_inplace(rows * kActionSize, out);
  for (int64_t r = 0; r < batch.size; ++r) {
    for (int64_t k = 0; k < n; ++k) {
      const int i = g.buffers.agents[size_t(k)];
      std::memcpy(&next_actions_[size_t(r * kJointAction + i * kActionSize)], out + g.actor_row(r, k) * kActionSize,
                  sizeof(float) * kActionSize);
    }
  }
  if (config_.target_noise > 0) {
    // MATD3 target policy smoothing: a' = clip(mu'(o') + clip(sigma * eps, -c, c), -1, 1).
    const float sigma = float(config_.target_noise), clip = float(config_.target_noise_clip);
    for (int64_t r = 0; r < batch.size; ++r) {
      for (int i : g.buffers.agents) {
        for (int j = 0; j < kActionSize; ++j) {
          const int64_t at = r * kJointAction + i * kActionSize + j;
          const float smoothing = std::min(std::max(noise[at] * sigma, -clip), clip);
          next_actions_[size_t(at)] = std::min(std::max(next_actions_[size_t(at)] + smoothing, -1.f), 1.f);
        }
      }
    }
  }
}

void Updater::learn(Group& g, const BatchView& batch, bool actor_step, int threads) {
  const int64_t n = g.agents(), batch_rows = batch.size, rows = batch_rows * n;
  const int n_critics = int(g.critics.size());
  const NetBuffers& critic = g.buffers.critic;
  const NetBuffers& actor = g.buffers.actor;

  // ---- critic target: y = r_i + gamma * (1 - done_i) * Q'_i(o', a') (min over the twins) ----------
  g.build_input(g.x_next.data(), batch.next_obs, next_actions_.data(), batch_rows);
  for (int c = 0; c < n_critics; ++c) {
    mlp_forward(g.critics[size_t(c)], critic.target, g.packed_critic_target.data(), rows, g.x_next.data(), kCriticInput,
                g.q_next[c].data(), 1, g.target_kept, threads);
  }
  const float gamma = float(config_.gamma);
  for (int64_t k = 0; k < n; ++k) {
    const int i = g.buffers.agents[size_t(k)];
    for (int64_t r = 0; r < batch_rows; ++r) {
      const int64_t q = k * batch_rows + r;
      float q_next = g.q_next[0][size_t(q)];
      if (n_critics > 1) q_next = std::min(q_next, g.q_next[1][size_t(q)]);
      // ((1 - done) * gamma) * Q', then + r, each rounded (the core is built without FMA contraction).
      g.y[size_t(q)] = batch.rewards[r * kAgents + i] + (1.f - batch.dones[r * kAgents + i]) * gamma * q_next;
    }
  }

  // ---- critic step: (importance-weighted) MSE towards y, for the critic and its twin -------------
  g.build_input(g.x.data(), batch.obs, batch.actions, batch_rows);
  double critic_loss = 0, q_sum = 0;
  // dLoss/dq: (2 / rows) * (q - y), or, with importance weights, ((1 / rows) * w) * (2 * (q - y)).
  const float two_over_rows = float(2.0 / double(rows));
  const float one_over_rows = 1.f / float(rows);
  for (int c = 0; c < n_critics; ++c) {
    float* q = g.q[c].data();
    mlp_forward(g.critics[size_t(c)], critic.params, g.packed_critic.data(), rows, g.x.data(), kCriticInput, q, 1,
                g.critic_kept[c], threads);
    double loss = 0;
    for (int64_t row = 0; row < rows; ++row) {
      const float diff = q[row] - g.y[size_t(row)];
      if (batch.weights) {
        const float w = batch.weights[row % batch_rows];
        loss += double(w) * double(diff) * double(diff);
        g.dq[c][size_t(row)] = (one_over_rows * w) * (2.f * diff);
      } else {
        loss += double(diff) * double(diff);
        g.dq[c][size_t(row)] = two_over_rows * diff;
      }
      if (c == 0) {
        q_sum += q[row];
        g.td[size_t(row)] = std::fabs(diff);
      }
    }
    critic_loss += loss / double(rows);
  }
  for (int c = 0; c < n_critics; ++c) {
    mlp_backward(g.critics[size_t(c)], critic.params, rows, g.x.data(), kCriticInput, g.critic_kept[c], g.dq[c].data(),
                 g.grad_critic.data(), nullptr, 0, 0, 0, g.scratch, threads);
  }
  g.critic_norm = clip_gradient(g.grad_critic.data(), g.critic_tensors, config_.grad_clip, g.norms);
  optimizer_step(critic, g.grad_critic.data(), config_.lr_critic, config_.weight_decay);
  g.pack_critics(critic.params, g.packed_critic.data());
  g.critic_loss = critic_loss;
  g.q_mean = q_sum / double(rows);
  if (!actor_step) return;

  // ---- actor step: -Q_1(o, a with the own action = mu(o)) through the stepped critic -------------
  int64_t ld_obs;
  const float* obs = g.actor_input(batch.obs, ld_obs);
  float* mu = g.mu.data();
  mlp_forward(g.actor, actor.params, g.packed_actor.data(), rows, obs, ld_obs, mu, kActionSize, g.actor_kept, threads);
  tanh_inplace(rows * kActionSize, mu);
  std::memcpy(g.x_actor.data(), g.x.data(), sizeof(float) * size_t(rows * kCriticInput));
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t r = 0; r < batch_rows; ++r) {
      std::memcpy(&g.x_actor[size_t((k * batch_rows + r) * kCriticInput + g.own_action_column)],
                  mu + g.actor_row(r, k) * kActionSize, sizeof(float) * kActionSize);
    }
  }
  mlp_forward(g.critics[0], critic.params, g.packed_critic.data(), rows, g.x_actor.data(), kCriticInput,
              g.q_actor.data(), 1, g.critic_kept[0], threads);
  double q_actor_sum = 0;
  const float d_q = -1.f / float(rows);  // d(-mean Q)/dQ
  for (int64_t row = 0; row < rows; ++row) {
    q_actor_sum += g.q_actor[size_t(row)];
    g.dq_actor[size_t(row)] = d_q;
  }
  // dLoss/dmu through the frozen critic: only the own action's two input columns are computed.
  mlp_backward(g.critics[0], critic.params, rows, g.x_actor.data(), kCriticInput, g.critic_kept[0], g.dq_actor.data(),
               nullptr, g.d_mu.data(), kActionSize, g.own_action_column, g.own_action_column + kActionSize, g.scratch,
               threads);
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t r = 0; r < batch_rows; ++r) {
      std::memcpy(&g.d_pre[size_t(g.actor_row(r, k) * kActionSize)],
                  &g.d_mu[size_t((k * batch_rows + r) * kActionSize)], sizeof(float) * kActionSize);
    }
  }
  tanh_backward(rows * kActionSize, g.d_pre.data(), mu);
  int64_t saturated = 0;
  for (int64_t e = 0; e < rows * kActionSize; ++e) saturated += std::fabs(mu[e]) > kSaturated;
  mlp_backward(g.actor, actor.params, rows, obs, ld_obs, g.actor_kept, g.d_pre.data(), g.grad_actor.data(), nullptr, 0,
               0, 0, g.scratch, threads);
  g.actor_norm = clip_gradient(g.grad_actor.data(), g.actor_tensors, config_.grad_clip, g.norms);
  optimizer_step(actor, g.grad_actor.data(), config_.lr_actor, config_.weight_decay);
  g.pack_actor(actor.params, g.packed_actor.data());
  g.actor_loss = -q_actor_sum / double(rows);
  g.saturation = double(saturated) / double(rows * kActionSize);

  // ---- soft update (polyak), one flat multiply-add per network and per layout ---------------------
  soft_update(actor.numel, actor.target, actor.params, config_.tau);
  soft_update(critic.numel, critic.target, critic.params, config_.tau);
  soft_update(actor.numel, g.packed_actor_target.data(), g.packed_actor.data(), config_.tau);
  soft_update(critic.numel, g.packed_critic_target.data(), g.packed_critic.data(), config_.tau);
}

UpdateStats Updater::update(const BatchView& batch, const float* noise, bool actor_step, int threads) {
  ensure(next_actions_, batch.size * kJointAction);
  for (auto& g : groups_) g->prepare(batch.size);
  const int n_groups = int(groups_.size());
  if (n_groups == 2 && threads > 1) {
    // One group per thread: separate agents share nothing after the target actions.
    if (!pair_) pair_ = std::make_unique<ThreadPair>();
    pair_->run([&](int k) {
      target_actions(*groups_[size_t(k)], batch, noise, 1);
      pair_->barrier();
      learn(*groups_[size_t(k)], batch, actor_step, 1);
    });
  } else {
    for (auto& g : groups_) target_actions(*g, batch, noise, threads);
    for (auto& g : groups_) learn(*g, batch, actor_step, threads);
  }

  StatsAccumulator sums;  // over groups
  for (auto& g : groups_) {
    sums.add_critic(g->critic_loss, g->q_mean, g->critic_norm);
    if (actor_step) sums.add_actor(g->actor_loss, g->actor_norm, g->saturation);
  }
  UpdateStats stats = sums.means(1, actor_step ? 1 : 0);
  // |TD error| per transition, mean over agents.
  stats.td_errors.assign(size_t(batch.size), 0.f);
  for (auto& g : groups_) {
    for (int64_t k = 0; k < g->agents(); ++k) {
      for (int64_t r = 0; r < batch.size; ++r) stats.td_errors[size_t(r)] += g->td[size_t(k * batch.size + r)];
    }
  }
  for (auto& td : stats.td_errors) td /= float(kAgents);
  return stats;
}

void Updater::act(const float* obs, int64_t n, float* actions) {
  for (auto& g : groups_) {
    g->ensure_packed();
    const int64_t rows = n * g->agents();
    ensure(g->mu, rows * kActionSize);
    int64_t ld_x;
    const float* x = g->actor_input(obs, ld_x);
    float* out = g->mu.data();
    mlp_forward(g->actor, g->buffers.actor.params, g->packed_actor.data(), rows, x, ld_x, out, kActionSize, g->act_kept,
                1);
    tanh_inplace(rows * kActionSize, out);
    for (int64_t e = 0; e < n; ++e) {
      for (int64_t k = 0; k < g->agents(); ++k) {
        const int i = g->buffers.agents[size_t(k)];
        std::memcpy(actions + e * kJointAction + i * kActionSize, out + g->actor_row(e, k) * kActionSize,
                    sizeof(float) * kActionSize);
      }
    }
  }
}

void Updater::parameters_changed() {
  for (auto& g : groups_) g->packs_valid = false;
}

}  // namespace tennis::fused
