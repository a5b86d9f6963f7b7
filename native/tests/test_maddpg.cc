// The native MADDPG learner: shapes, seeding, soft update, noise, checkpoints, errors, the notebook's
// offline synthetic-buffer test (both implementations), the TorchScript export, and (given
// TENNIS_PARITY_DIR) parity of both implementations with bench/reference/maddpg_ref.py's dump.
#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

// LibTorch (c10) defines CHECK macros of its own; the harness's are the ones meant here.
#undef CHECK
#undef CHECK_NEAR
#include "check.h"
#include "common/learner_config.h"
#include "maddpg.h"
#include "parity.h"

namespace {

using tennis::BatchView;
using tennis::kActionSize;
using tennis::kAgents;
using tennis::kObsSize;
using tennis::Maddpg;
using tennis::MaddpgConfig;

// Floats per row of each batch array.
constexpr int64_t kJointObs = kAgents * kObsSize;
constexpr int64_t kJointAction = kAgents * kActionSize;

// Owns the arrays of a batch of random transitions (uniform obs and actions in [-1, 1]).
struct OwnedBatch {
  std::vector<float> obs, actions, rewards, next_obs, dones;
  int64_t size = 0;

  OwnedBatch(int64_t rows, tennis::Rng& rng) : size(rows) {
    auto fill = [&](std::vector<float>& v, int64_t per_row) {
      v.resize(size_t(rows * per_row));
      for (auto& x : v) x = float(rng.uniform(-1, 1));
    };
    fill(obs, kJointObs);
    fill(actions, kJointAction);
    fill(next_obs, kJointObs);
    rewards.resize(size_t(rows * kAgents));
    dones.resize(size_t(rows * kAgents));
    for (int64_t r = 0; r < rows; ++r) {
      for (int i = 0; i < kAgents; ++i) {
        rewards[size_t(r * kAgents + i)] = float(rng.uniform(-0.1, 0.1));
        dones[size_t(r * kAgents + i)] = rng.uniform() < 0.1 ? 1.f : 0.f;
      }
    }
  }

  BatchView view() {
    return BatchView{size, obs.data(), actions.data(), rewards.data(), next_obs.data(), dones.data(), nullptr, nullptr};
  }
};

// A deterministic stream of random batches, as a BatchSource.
class RandomSource : public tennis::BatchSource {
 public:
  explicit RandomSource(uint64_t seed) : rng_(seed) {}
  void next(BatchView& out) override {
    OwnedBatch b(out.size, rng_);
    std::copy(b.obs.begin(), b.obs.end(), out.obs);
    std::copy(b.actions.begin(), b.actions.end(), out.actions);
    std::copy(b.rewards.begin(), b.rewards.end(), out.rewards);
    std::copy(b.next_obs.begin(), b.next_obs.end(), out.next_obs);
    std::copy(b.dones.begin(), b.dones.end(), out.dones);
    out.weights = nullptr;
    out.indices = nullptr;
  }
  void feedback(const BatchView& batch, const float* td) override {
    ++feedbacks;
    last_td.assign(td, td + batch.size);
  }
  int feedbacks = 0;
  std::vector<float> last_td;

 private:
  tennis::Rng rng_;
};

MaddpgConfig small_config(uint64_t seed = 1) {
  MaddpgConfig c = learner_config::base_maddpg();
  c.actor_hidden = {32, 32};
  c.critic_hidden = {32, 32};
  c.batch_size = 16;
  c.seed = seed;
  c.threads = 1;
  return c;
}

MaddpgConfig matd3(MaddpgConfig c) {
  c.twin_critics = true;
  c.target_noise = 0.2;
  c.target_noise_clip = 0.5;
  c.policy_delay = 2;
  return c;
}

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/tennis_maddpg_test_" + std::to_string(::getpid()) + "_" + name;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (size_t k = 0; k < a.size(); ++k) worst = std::max(worst, std::fabs(double(a[k]) - double(b[k])));
  return worst;
}

std::vector<float> random_obs(int64_t n_envs, uint64_t seed) {
  tennis::Rng rng(seed);
  std::vector<float> obs(size_t(n_envs * kJointObs));
  for (auto& x : obs) x = float(rng.uniform(-2, 2));
  return obs;
}

template <typename Fn>
std::string thrown_message(Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(maddpg_shapes_and_layout) {
  for (bool shared : {false, true}) {
    for (bool twin : {false, true}) {
      MaddpgConfig c = small_config();
      c.shared_parameters = shared;
      c.twin_critics = twin;
      Maddpg m(c);
      const auto layout = m.parameter_layout();
      int64_t total = 0;
      for (const auto& p : layout) {
        CHECK(p.offset == total);
        total += p.numel;
      }
      CHECK(total == m.parameter_count());
      // actor 24-32-32-2, critic 52-32-32-1, per group: actor + critics, twice (online + target).
      const int64_t actor = 24 * 32 + 32 + 32 * 32 + 32 + 32 * 2 + 2;
      const int64_t critic = 52 * 32 + 32 + 32 * 32 + 32 + 32 + 1;
      const int64_t groups = shared ? 1 : 2;
      CHECK(total == groups * 2 * (actor + (twin ? 2 : 1) * critic));
      CHECK(layout.front().name == std::string(shared ? "shared" : "agent0") + "/actor/fc.0.weight");
      CHECK((layout.front().shape == std::vector<int64_t>{32, 24}));
      CHECK(int64_t(m.get_actor_parameters(1).size()) == actor);

      const int64_t n_envs = 3;
      const auto obs = random_obs(n_envs, 5);
      std::vector<float> actions(size_t(n_envs * kJointAction), 7.f);
      m.act(obs.data(), int64_t(obs.size()), actions.data(), int64_t(actions.size()), /*explore=*/false);
      for (float a : actions) CHECK(a >= -1.f && a <= 1.f);
      // Output layer init is +-3e-3, so initial actions are small.
      for (float a : actions) CHECK(std::fabs(a) < 0.1f);
    }
  }
}

TEST(maddpg_shared_actor_acts_per_agent_view) {
  MaddpgConfig c = small_config();
  c.shared_parameters = true;
  Maddpg m(c);
  // The same observation for both agents gives the same action from the shared actor.
  auto obs = random_obs(1, 9);
  std::copy(obs.begin(), obs.begin() + kObsSize, obs.begin() + kObsSize);
  std::vector<float> actions(kJointAction);
  m.act(obs.data(), 1, actions.data(), false);
  CHECK_NEAR(actions[0], actions[2], 1e-7);
  CHECK_NEAR(actions[1], actions[3], 1e-7);
}

TEST(maddpg_determinism_from_seed) {
  auto run = [](uint64_t seed) {
    Maddpg m(matd3(small_config(seed)));
    RandomSource source(42);
    m.update(5, source);
    return m.get_parameters();
  };
  const auto a = run(3), b = run(3), c = run(4);
  CHECK(a == b);
  CHECK(max_abs_diff(a, c) > 1e-3);
}

TEST(maddpg_update_changes_online_and_soft_updates_targets) {
  MaddpgConfig c = small_config();
  c.tau = 0.25;
  Maddpg m(c);
  const auto layout = m.parameter_layout();
  const auto before = m.get_parameters();
  tennis::Rng rng(11);
  OwnedBatch batch(16, rng);
  const auto stats = m.update_batch(batch.view());
  const auto after = m.get_parameters();
  CHECK(stats.updates == 1 && stats.actor_updates == 1);
  CHECK(std::isfinite(stats.critic_loss) && std::isfinite(stats.actor_loss));
  CHECK(stats.saturation >= 0 && stats.saturation <= 1);
  CHECK(int64_t(stats.td_errors.size()) == 16);
  for (float td : stats.td_errors) CHECK(td >= 0);
  // For every target tensor: target' = (1 - tau) * target + tau * online' (online after its step).
  int checked = 0;
  for (const auto& p : layout) {
    const auto slash = p.name.find("/target_");
    if (slash == std::string::npos) continue;
    const std::string online_name = p.name.substr(0, slash) + "/" + p.name.substr(slash + 8);
    const auto online =
        std::find_if(layout.begin(), layout.end(), [&](const auto& q) { return q.name == online_name; });
    CHECK_MSG(online != layout.end(), "no online tensor for " << p.name);
    double moved = 0;
    for (int64_t k = 0; k < p.numel; ++k) {
      const double expected = (1 - c.tau) * before[size_t(p.offset + k)] + c.tau * after[size_t(online->offset + k)];
      CHECK_NEAR(after[size_t(p.offset + k)], expected, 1e-6);
      moved =
          std::max(moved, std::fabs(double(after[size_t(online->offset + k)]) - before[size_t(online->offset + k)]));
    }
    CHECK_MSG(moved > 0, online_name << " did not change in the update");
    ++checked;
  }
  CHECK(checked > 0);
}

TEST(maddpg_policy_delay_skips_actor_and_targets) {
  Maddpg m(matd3(small_config()));
  tennis::Rng rng(12);
  OwnedBatch batch(16, rng);
  m.update_batch(batch.view());  // update 0 steps the actors
  const auto layout = m.parameter_layout();
  const auto before = m.get_parameters();
  const auto stats = m.update_batch(batch.view());  // update 1 only the critics
  const auto after = m.get_parameters();
  CHECK(stats.actor_updates == 0 && std::isnan(stats.actor_loss));
  for (const auto& p : layout) {
    const bool frozen = p.name.find("/actor/") != std::string::npos || p.name.find("/target_") != std::string::npos;
    bool same = true;
    for (int64_t k = 0; k < p.numel; ++k) same = same && before[size_t(p.offset + k)] == after[size_t(p.offset + k)];
    CHECK_MSG(same == frozen, p.name << (frozen ? " changed" : " did not change") << " on a critic-only update");
  }
}

TEST(maddpg_importance_weights_scale_the_critic_loss) {
  tennis::Rng rng(13);
  OwnedBatch batch(16, rng);
  std::vector<float> ones(16, 1.f), zeros(16, 0.f);
  auto run = [&](float* weights) {
    Maddpg m(small_config());
    BatchView view = batch.view();
    view.weights = weights;
    m.update_batch(view);
    return std::make_pair(m.get_parameters(), m.parameter_layout());
  };
  const auto [plain, layout] = run(nullptr);
  const auto [unit, unused] = run(ones.data());
  CHECK(max_abs_diff(plain, unit) < 1e-6);  // weights of 1 are the plain MSE
  // Weights of 0: no critic gradient, so the online critics keep their initial values.
  Maddpg fresh(small_config());
  const auto init = fresh.get_parameters();
  const auto [zero, unused2] = run(zeros.data());
  for (const auto& p : layout) {
    if (p.name.find("/critic/") == std::string::npos) continue;
    for (int64_t k = 0; k < p.numel; ++k) CHECK(zero[size_t(p.offset + k)] == init[size_t(p.offset + k)]);
  }
  CHECK(max_abs_diff(zero, init) > 0);  // the actors still moved
}

TEST(maddpg_set_get_parameters_round_trip) {
  Maddpg a(small_config(1)), b(small_config(2));
  b.set_parameters(a.get_parameters().data(), a.parameter_count());
  CHECK(a.get_parameters() == b.get_parameters());
  std::vector<float> bad(size_t(a.parameter_count()), 0.f);
  CHECK_THROWS(b.set_parameters(bad.data(), int64_t(bad.size()) - 1), std::invalid_argument);
  bad[3] = NAN;
  CHECK_THROWS(b.set_parameters(bad.data(), int64_t(bad.size())), std::invalid_argument);
}

// reset_actors: the actors (online and target, LayerNorm included) become those a learner of that seed
// starts with (a shared learner draws its actor first), the critics stay, and the actors' Adam starts over.
TEST(maddpg_reset_actors_starts_them_afresh) {
  const std::pair<const char*, bool> cases[] = {{"libtorch", false}, {"fused", false}, {"libtorch", true}};
  for (const auto& [impl, layer_norm] : cases) {
    MaddpgConfig c = small_config(4);
    c.impl = impl;
    c.layer_norm = layer_norm;
    c.shared_parameters = true;
    c.lr_critic = 1e-12;  // critics all but frozen, so the next actor steps can be compared
    Maddpg m(c);
    tennis::Rng rng(5);
    for (int k = 0; k < 4; ++k) {
      OwnedBatch batch(16, rng);
      m.update_batch(batch.view());
    }
    const auto trained = m.get_parameters();
    m.reset_actors(9);
    const auto reset = m.get_parameters();
    MaddpgConfig fresh_config = c;
    fresh_config.seed = 9;
    Maddpg fresh(fresh_config);
    const auto fresh_params = fresh.get_parameters();
    auto slice = [](const std::vector<float>& v, const tennis::ParameterInfo& p) {
      return std::vector<float>(v.begin() + p.offset, v.begin() + p.offset + p.numel);
    };
    for (const auto& p : m.parameter_layout()) {
      const bool actor = p.name.find("actor") != std::string::npos;
      CHECK_MSG(slice(reset, p) == (actor ? slice(fresh_params, p) : slice(trained, p)), impl << " " << p.name);
    }
    // One more step from equal parameters: equal actor steps only if the Adam state was reset too.
    fresh.set_parameters(reset.data(), int64_t(reset.size()));
    OwnedBatch batch(16, rng);
    m.update_batch(batch.view());
    fresh.update_batch(batch.view());
    const auto mine = m.get_parameters(), theirs = fresh.get_parameters();
    for (const auto& p : m.parameter_layout()) {
      if (p.name.find("actor") == std::string::npos) continue;
      CHECK_MSG(slice(mine, p) == slice(theirs, p), impl << " " << p.name << " after a step");
    }
  }
}

TEST(noise_ou_statistics_and_reset) {
  tennis::NoiseConfig nc = learner_config::base_noise();
  nc.type = "ou";
  nc.ou_mu = 0.0;
  nc.ou_theta = 0.15;
  nc.ou_sigma = 0.05;
  tennis::ExplorationNoise noise(nc, kJointAction, 7);
  const int64_t n_envs = 4, steps = 20000;
  double sum = 0, sum_sq = 0, lag_sum = 0;
  std::vector<float> prev(size_t(n_envs * kJointAction), 0.f);
  for (int64_t t = 0; t < steps; ++t) {
    std::vector<float> actions(size_t(n_envs * kJointAction), 0.f);
    noise.apply(actions.data(), n_envs);
    for (size_t k = 0; k < actions.size(); ++k) {
      sum += actions[k];
      sum_sq += double(actions[k]) * actions[k];
      lag_sum += double(actions[k]) * prev[k];
    }
    prev = actions;
  }
  const double n = double(steps * n_envs * kJointAction);
  // Stationary AR(1): var = sigma^2 / (1 - (1 - theta)^2), lag-1 correlation 1 - theta.
  const double var = 0.05 * 0.05 / (1 - 0.85 * 0.85);
  CHECK_NEAR(sum / n, 0.0, 0.01);
  CHECK_NEAR(sum_sq / n, var, 0.1 * var);
  CHECK_NEAR(lag_sum / n / (sum_sq / n), 0.85, 0.03);
  CHECK(noise.steps() == steps);

  const uint8_t mask[4] = {0, 1, 0, 0};
  const auto state_before = noise.ou_state();
  noise.reset(mask, n_envs);
  const auto& state = noise.ou_state();
  for (int64_t e = 0; e < n_envs; ++e) {
    for (int64_t k = 0; k < kJointAction; ++k) {
      const size_t idx = size_t(e * kJointAction + k);
      if (e == 1)
        CHECK(state[idx] == 0.f);
      else
        CHECK(state[idx] == state_before[idx]);
    }
  }
  CHECK(noise.episodes() == 1);
}

TEST(noise_gaussian_statistics_and_schedule) {
  tennis::NoiseConfig nc = learner_config::base_noise();
  nc.type = "gaussian";
  nc.gaussian_sigma = 0.1;
  nc.scale_start = 1.0;
  nc.scale_end = 0.5;
  nc.decay = 10;
  nc.decay_unit = "episodes";
  tennis::ExplorationNoise noise(nc, kJointAction, 8);
  CHECK_NEAR(noise.scale(), 1.0, 1e-12);
  noise.reset(nullptr, 5);  // five envs end an episode
  CHECK_NEAR(noise.scale(), 0.75, 1e-12);
  double sum = 0, sum_sq = 0;
  const int64_t steps = 5000;
  for (int64_t t = 0; t < steps; ++t) {
    std::vector<float> actions(5 * kJointAction, 0.f);
    noise.apply(actions.data(), 5);
    for (float a : actions) {
      sum += a;
      sum_sq += double(a) * a;
    }
  }
  const double n = double(steps * 5 * kJointAction);
  const double sd = 0.1 * 0.75;
  CHECK_NEAR(sum / n, 0.0, 0.005);
  CHECK_NEAR(std::sqrt(sum_sq / n), sd, 0.03 * sd);
  noise.reset(nullptr, 5);
  noise.reset(nullptr, 5);
  CHECK_NEAR(noise.scale(), 0.5, 1e-12);  // clamped at the end of the schedule

  nc.decay_unit = "steps";
  tennis::ExplorationNoise by_steps(nc, kJointAction, 8);
  std::vector<float> actions(kJointAction, 0.f);
  for (int t = 0; t < 4; ++t) by_steps.apply(actions.data(), 1);
  CHECK_NEAR(by_steps.scale(), 0.8, 1e-12);
}

TEST(maddpg_act_explore_uses_noise) {
  MaddpgConfig c = small_config();
  c.noise.type = "gaussian";
  c.noise.gaussian_sigma = 0.3;
  Maddpg m(c);
  const auto obs = random_obs(2, 3);
  std::vector<float> greedy(2 * kJointAction), noisy(2 * kJointAction);
  m.act(obs.data(), 2, greedy.data(), false);
  m.act(obs.data(), 2, noisy.data(), true);
  CHECK(max_abs_diff(greedy, noisy) > 1e-3);
  CHECK(m.noise().steps() == 1);
}

TEST(maddpg_checkpoint_resume_continues_exactly) {
  for (bool twin : {false, true}) {
    MaddpgConfig c = small_config(21);
    c.batch_norm = true;
    c.layer_norm = true;
    c.noise.type = "ou";
    if (twin) c = matd3(c);
    const int64_t k = 3;
    const auto obs = random_obs(2, 17);
    std::vector<float> actions_a(2 * kJointAction), actions_b(2 * kJointAction);

    Maddpg straight(c);
    RandomSource source_a(99);
    straight.update(2 * k, source_a);
    straight.act(obs.data(), 2, actions_a.data(), true);
    straight.act(obs.data(), 2, actions_a.data(), true);

    Maddpg first(c);
    RandomSource source_b(99);
    first.update(k, source_b);
    first.act(obs.data(), 2, actions_b.data(), true);
    const std::string path = temp_path(twin ? "matd3.pt" : "maddpg.pt");
    first.save(path);
    MaddpgConfig other_seed = c;
    other_seed.seed = 12345;  // the checkpoint, not the seed, decides everything
    Maddpg resumed(other_seed);
    resumed.load(path);
    CHECK(resumed.update_count() == k);
    resumed.update(k, source_b);
    resumed.act(obs.data(), 2, actions_b.data(), true);
    std::remove(path.c_str());

    CHECK_MSG(
        straight.get_parameters() == resumed.get_parameters(),
        "parameters differ after resume by " << max_abs_diff(straight.get_parameters(), resumed.get_parameters()));
    CHECK(actions_a == actions_b);  // noise state and RNG resumed too
    CHECK(resumed.update_count() == 2 * k);
  }
}

TEST(maddpg_checkpoint_of_other_architecture_is_named) {
  Maddpg a(small_config());
  const std::string path = temp_path("arch.pt");
  a.save(path);
  MaddpgConfig c = small_config();
  c.actor_hidden = {64, 64};
  c.twin_critics = true;
  Maddpg b(c);
  const std::string message = thrown_message([&] { b.load(path); });
  std::remove(path.c_str());
  CHECK_MSG(message.find("actor_hidden is 32,32 in the checkpoint but 64,64 in this model") != std::string::npos,
            "message: " << message);
  CHECK_MSG(message.find("twin_critics is 0 in the checkpoint but 1 in this model") != std::string::npos,
            "message: " << message);
  CHECK_THROWS(b.load(temp_path("missing.pt")), std::invalid_argument);
}

// A checkpoint that cannot be written (a full disk: /dev/full answers every write with ENOSPC; a
// missing folder) is an error naming the file and the reason, not an abort of the process.
TEST(maddpg_checkpoint_write_failures_are_errors) {
  Maddpg m(small_config());
  const std::string full = thrown_message([&] { m.save("/dev/full"); });
  CHECK_MSG(full == "cannot write checkpoint /dev/full: No space left on device", "message: " << full);
  const std::string missing = temp_path("no-such-folder") + "/agent.pt";
  const std::string message = thrown_message([&] { m.save(missing); });
  CHECK_MSG(message == "cannot write checkpoint " + missing + ": No such file or directory", "message: " << message);
}

TEST(maddpg_rejects_bad_inputs) {
  Maddpg m(small_config());
  tennis::Rng rng(1);
  OwnedBatch batch(8, rng);
  batch.rewards[5] = NAN;  // row 2, agent 1
  const std::string message = thrown_message([&] { m.update_batch(batch.view()); });
  CHECK_MSG(message == "batch.rewards has a non-finite value (nan) at row 2, column 1", "message: " << message);
  batch.rewards[5] = 0;
  batch.next_obs[100] = INFINITY;
  CHECK_THROWS(m.update_batch(batch.view()), std::invalid_argument);

  std::vector<float> obs(47), actions(2);
  const std::string act_message =
      thrown_message([&] { m.act(obs.data(), int64_t(obs.size()), actions.data(), int64_t(actions.size()), false); });
  CHECK_MSG(act_message.find("obs must hold n_envs * agents * 24") != std::string::npos &&
                act_message.find("got 47") != std::string::npos,
            "message: " << act_message);
  obs.resize(48);
  CHECK_THROWS(m.act(obs.data(), 48, actions.data(), 2, false), std::invalid_argument);

  MaddpgConfig c = small_config();
  c.gamma = 1.5;
  CHECK(thrown_message([&] { Maddpg bad(c); }).rfind("gamma must be in [", 0) == 0);
  c = small_config();
  c.noise.type = "pink";
  CHECK(thrown_message([&] { Maddpg bad(c); }).find("noise.type") != std::string::npos);
  c = small_config();
  c.actor_hidden = {};
  CHECK(thrown_message([&] { Maddpg bad(c); }).find("actor_hidden") != std::string::npos);
}

TEST(maddpg_update_from_source_gives_feedback) {
  Maddpg m(small_config());
  RandomSource source(5);
  const auto stats = m.update(4, source);
  CHECK(stats.updates == 4 && stats.actor_updates == 4);
  CHECK(source.feedbacks == 4);
  CHECK(source.last_td == stats.td_errors);
  CHECK(m.update_count() == 4);
}

// The notebook's offline test: random transitions whose reward is each agent's first action
// component, gamma 0. The critic learns Q_i = a_i[0] and every actor's first output goes to +1.
static void offline_synthetic_run(MaddpgConfig c, const char* label) {
  c.actor_hidden = {64, 64};
  c.critic_hidden = {64, 64};
  c.gamma = 0.0;
  c.lr_actor = 1e-3;
  c.lr_critic = 1e-3;
  c.batch_size = 64;
  tennis::Rng rng(2024);
  OwnedBatch buffer(4096, rng);
  for (int64_t r = 0; r < buffer.size; ++r) {
    for (int i = 0; i < kAgents; ++i)
      buffer.rewards[size_t(r * kAgents + i)] = buffer.actions[size_t(r * kJointAction + i * kActionSize)];
  }
  tennis::Rng pick(7);
  tennis::CallbackBatchSource source([&](BatchView& out) {
    for (int64_t r = 0; r < out.size; ++r) {
      const int64_t k = int64_t(pick.uniform() * double(buffer.size));
      std::copy_n(&buffer.obs[size_t(k * kJointObs)], kJointObs, out.obs + r * kJointObs);
      std::copy_n(&buffer.actions[size_t(k * kJointAction)], kJointAction, out.actions + r * kJointAction);
      std::copy_n(&buffer.rewards[size_t(k * kAgents)], kAgents, out.rewards + r * kAgents);
      std::copy_n(&buffer.next_obs[size_t(k * kJointObs)], kJointObs, out.next_obs + r * kJointObs);
      std::copy_n(&buffer.dones[size_t(k * kAgents)], kAgents, out.dones + r * kAgents);
    }
    out.weights = nullptr;
  });
  Maddpg m(c);
  m.update(600, source);
  const int64_t n_envs = 32;
  const auto obs = random_obs(n_envs, 77);
  std::vector<float> actions(size_t(n_envs * kJointAction));
  m.act(obs.data(), n_envs, actions.data(), false);
  float worst = 1;
  for (int64_t e = 0; e < n_envs; ++e) {
    for (int i = 0; i < kAgents; ++i) worst = std::min(worst, actions[size_t(e * kJointAction + i * kActionSize)]);
  }
  CHECK_MSG(worst > 0.95f, label << ": lowest first action component after training is " << worst);
}

TEST(maddpg_offline_synthetic_buffer_maddpg) { offline_synthetic_run(small_config(3), "MADDPG"); }

TEST(maddpg_offline_synthetic_buffer_matd3) { offline_synthetic_run(matd3(small_config(3)), "MATD3"); }

TEST(maddpg_offline_synthetic_buffer_shared) {
  MaddpgConfig c = small_config(3);
  c.shared_parameters = true;
  offline_synthetic_run(c, "MADDPG shared");
}

static MaddpgConfig fused(MaddpgConfig c) {
  c.impl = "fused";
  return c;
}

TEST(maddpg_offline_synthetic_buffer_fused) {
  offline_synthetic_run(fused(small_config(3)), "MADDPG fused");
  offline_synthetic_run(fused(matd3(small_config(3))), "MATD3 fused");
  MaddpgConfig c = fused(small_config(3));
  c.shared_parameters = true;
  offline_synthetic_run(c, "MADDPG shared fused");
}

TEST(maddpg_torchscript_export_matches_act) {
  for (bool layer_norm : {false, true}) {
    MaddpgConfig c = small_config(8);
    c.layer_norm = layer_norm;
    Maddpg m(c);
    RandomSource source(3);
    m.update(3, source);  // move the weights away from their init
    const std::string path = temp_path("actor1.pt");
    m.export_actor_torchscript(path, 1);
    auto module = torch::jit::load(path);
    std::remove(path.c_str());
    const int64_t n_envs = 5;
    auto obs = random_obs(n_envs, 4);
    std::vector<float> actions(size_t(n_envs * kJointAction));
    m.act(obs.data(), n_envs, actions.data(), false);
    const auto obs_t = torch::from_blob(obs.data(), {n_envs, kAgents, kObsSize}).select(1, 1).contiguous();
    const auto out = module.forward({obs_t}).toTensor().contiguous();
    CHECK((out.sizes() == std::vector<int64_t>{n_envs, kActionSize}));
    for (int64_t e = 0; e < n_envs; ++e) {
      for (int64_t k = 0; k < kActionSize; ++k) {
        CHECK_NEAR(out[e][k].item<float>(), actions[size_t(e * kJointAction + kActionSize + k)], 1e-6);
      }
    }
  }
  Maddpg m(small_config());
  CHECK_THROWS(m.export_actor_torchscript(temp_path("x.pt"), 2), std::invalid_argument);
}

// ---- parity with the PyTorch reference (bench/reference/maddpg_ref.py --dump DIR) ----------------

namespace {

// The value of "key" in the reference's flat manifest.json (numbers, booleans, strings, int lists).
std::string manifest_value(const std::string& json, const std::string& key) {
  const auto at = json.find("\"" + key + "\"");
  if (at == std::string::npos) throw std::runtime_error("manifest lacks " + key);
  auto start = json.find(':', at) + 1;
  while (json[start] == ' ') ++start;
  auto end = start;
  if (json[start] == '[')
    end = json.find(']', start) + 1;
  else if (json[start] == '"')
    end = json.find('"', start + 1) + 1;
  else
    end = json.find_first_of(",}\n", start);
  return json.substr(start, end - start);
}

double manifest_number(const std::string& json, const std::string& key) {
  const auto v = manifest_value(json, key);
  if (v == "true") return 1;
  if (v == "false") return 0;
  return std::stod(v);
}

std::vector<int64_t> manifest_ints(const std::string& json, const std::string& key) {
  auto v = manifest_value(json, key);
  std::replace(v.begin(), v.end(), ',', ' ');
  std::istringstream in(v.substr(1, v.size() - 2));
  std::vector<int64_t> out;
  int64_t x;
  while (in >> x) out.push_back(x);
  return out;
}

std::vector<float> read_f32(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot read " + path);
  const auto bytes = in.tellg();
  std::vector<float> out(size_t(bytes) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(out.data()), bytes);
  return out;
}

}  // namespace

TEST(maddpg_parity_with_reference_dump) {
  const char* dir_env = std::getenv("TENNIS_PARITY_DIR");
  if (!dir_env) {
    std::cout << "     (skipped: set TENNIS_PARITY_DIR to a dump of bench/reference/maddpg_ref.py --dump)\n";
    return;
  }
  const std::string dir = dir_env;
  std::ifstream manifest_in(dir + "/manifest.json");
  CHECK_MSG(manifest_in.good(), "no manifest.json in " << dir);
  const std::string json((std::istreambuf_iterator<char>(manifest_in)), std::istreambuf_iterator<char>());
  MaddpgConfig c = learner_config::base_maddpg();
  c.actor_hidden = manifest_ints(json, "actor_hidden");
  c.critic_hidden = manifest_ints(json, "critic_hidden");
  c.lr_actor = manifest_number(json, "lr_actor");
  c.lr_critic = manifest_number(json, "lr_critic");
  c.gamma = manifest_number(json, "gamma");
  c.tau = manifest_number(json, "tau");
  c.grad_clip = manifest_number(json, "grad_clip");
  c.weight_decay = manifest_number(json, "weight_decay");
  c.shared_parameters = manifest_number(json, "shared_parameters") != 0;
  c.layer_norm = manifest_number(json, "layer_norm") != 0;
  c.batch_norm = manifest_number(json, "batch_norm") != 0;
  c.twin_critics = manifest_number(json, "twin_critics") != 0;
  c.target_noise = manifest_number(json, "target_noise");
  c.target_noise_clip = manifest_number(json, "target_noise_clip");
  c.policy_delay = int64_t(manifest_number(json, "policy_delay"));
  c.threads = 1;
  const int64_t updates = int64_t(manifest_number(json, "updates"));
  const int64_t rows = int64_t(manifest_number(json, "batch_size"));
  auto init = read_f32(dir + "/init.f32");
  auto obs = read_f32(dir + "/obs.f32"), actions = read_f32(dir + "/actions.f32");
  auto rewards = read_f32(dir + "/rewards.f32"), next_obs = read_f32(dir + "/next_obs.f32");
  auto dones = read_f32(dir + "/dones.f32");
  std::vector<float> noise;
  if (c.target_noise > 0) noise = read_f32(dir + "/target_noise.f32");
  const auto expected = read_f32(dir + "/final.f32");
  // Every implementation where it supports the case (fused: no LayerNorm / BatchNorm; graph: no
  // BatchNorm), the CUDA ones where a device is present (sums in other orders there; same bound).
  const std::vector<std::pair<std::string, std::string>> impls{
      {"libtorch", "cpu"}, {"fused", "cpu"}, {"libtorch", "cuda"}, {"graph", "cuda"}};
  for (const auto& [impl, device] : impls) {
    const bool unsupported = (impl == "fused" && (c.layer_norm || c.batch_norm)) || (impl == "graph" && c.batch_norm);
    if (unsupported || (device == "cuda" && !torch::cuda::is_available())) {
      std::cout << "     parity " << dir << ": " << impl << " on " << device << " skipped ("
                << (unsupported ? "LayerNorm/BatchNorm are libtorch only" : "no CUDA device") << ")\n";
      continue;
    }
    c.impl = impl;
    c.device = device;
    Maddpg m(c);
    m.set_parameters(init.data(), int64_t(init.size()));
    for (int64_t u = 0; u < updates; ++u) {
      BatchView view{rows,
                     &obs[size_t(u * rows * kJointObs)],
                     &actions[size_t(u * rows * kJointAction)],
                     &rewards[size_t(u * rows * kAgents)],
                     &next_obs[size_t(u * rows * kJointObs)],
                     &dones[size_t(u * rows * kAgents)],
                     nullptr,
                     nullptr};
      m.update_batch(view, noise.empty() ? nullptr : &noise[size_t(u * rows * kJointAction)]);
    }
    const auto got = m.get_parameters();
    CHECK(expected.size() == got.size());
    const auto [worst, worst_name] = tennis::testing::update_difference(m, got, expected, init);
    std::cout << "     parity " << dir << " (" << impl << ", " << device << "): changes differ by " << worst
              << " of the change at " << worst_name << "\n";
    CHECK_MSG(worst <= tennis::testing::kParityTolerance,
              "parity (" << impl << ", " << device << "): changes differ by " << worst << " at " << worst_name);
  }
}
