// n-step accumulation per env before the replay buffer (see n_step.h).
#include "n_step.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "replay_buffer.h"

namespace tennis {
namespace {

// Floats per agent pair of obs, of actions, and of rewards / dones.
constexpr int kObsFloats = kAgents * kObsSize;
constexpr int kActionFloats = kAgents * kActionSize;
constexpr int kPairFloats = kAgents;
// Floats per pending slot in the saved state.
constexpr int kSlotFloats = kObsFloats + kActionFloats + kPairFloats;

}  // namespace

NStepAccumulator::NStepAccumulator(int64_t num_envs, int n, double gamma) : num_envs_(num_envs), n_(n), gamma_(gamma) {
  if (num_envs < 1) throw std::invalid_argument("num_envs must be >= 1, got " + std::to_string(num_envs));
  if (n < 1) throw std::invalid_argument("n must be >= 1, got " + std::to_string(n));
  if (!(gamma >= 0.0 && gamma <= 1.0))
    throw std::invalid_argument("gamma must be in [0, 1], got " + std::to_string(gamma));
  head_.assign(num_envs, 0);
  count_.assign(num_envs, 0);
  obs_.resize(num_envs * n * kObsFloats);
  actions_.resize(num_envs * n * kActionFloats);
  rewards_.resize(num_envs * n * kPairFloats);
  // At most one full ring per env completes in one step.
  out_obs_.resize(num_envs * n * kObsFloats);
  out_actions_.resize(num_envs * n * kActionFloats);
  out_rewards_.resize(num_envs * n * kPairFloats);
  out_next_obs_.resize(num_envs * n * kObsFloats);
  out_dones_.resize(num_envs * n * kPairFloats);
}

int64_t NStepAccumulator::add(ReplayBuffer& buffer, const float* obs, const float* actions, const float* rewards,
                              const float* next_obs, const float* dones, const float* lost) {
  int64_t out = 0;
  for (int64_t e = 0; e < num_envs_; ++e) {
    if (lost && (lost[e * kPairFloats] != 0.0f || lost[e * kPairFloats + 1] != 0.0f)) {
      count_[e] = 0;
      continue;
    }
    // Push this step into the env's ring.
    const int64_t slot = e * n_ + (head_[e] + count_[e]) % n_;
    std::copy_n(obs + e * kObsFloats, kObsFloats, &obs_[slot * kObsFloats]);
    std::copy_n(actions + e * kActionFloats, kActionFloats, &actions_[slot * kActionFloats]);
    std::copy_n(rewards + e * kPairFloats, kPairFloats, &rewards_[slot * kPairFloats]);
    count_[e] += 1;
    const bool done =
        std::any_of(dones + e * kPairFloats, dones + (e + 1) * kPairFloats, [](float d) { return d != 0.0f; });
    // A full ring emits its oldest step; an episode end emits them all.
    while (count_[e] == n_ || (done && count_[e] > 0)) {
      const int64_t first = e * n_ + head_[e];
      std::copy_n(&obs_[first * kObsFloats], kObsFloats, &out_obs_[out * kObsFloats]);
      std::copy_n(&actions_[first * kActionFloats], kActionFloats, &out_actions_[out * kActionFloats]);
      for (int agent = 0; agent < kAgents; ++agent) {
        double sum = 0.0, discount = 1.0;
        for (int k = 0; k < count_[e]; ++k) {
          sum += discount * rewards_[(e * n_ + (head_[e] + k) % n_) * kPairFloats + agent];
          discount *= gamma_;
        }
        out_rewards_[out * kPairFloats + agent] = static_cast<float>(sum);
      }
      std::copy_n(next_obs + e * kObsFloats, kObsFloats, &out_next_obs_[out * kObsFloats]);
      std::copy_n(dones + e * kPairFloats, kPairFloats, &out_dones_[out * kPairFloats]);
      head_[e] = (head_[e] + 1) % n_;
      count_[e] -= 1;
      out += 1;
    }
    if (done) head_[e] = 0;
  }
  if (out > 0) {
    buffer.add(out, out_obs_.data(), out_actions_.data(), out_rewards_.data(), out_next_obs_.data(), out_dones_.data());
  }
  return out;
}

int64_t NStepAccumulator::state_floats() const { return num_envs_ * (1 + int64_t(n_) * kSlotFloats); }

void NStepAccumulator::save_state(float* out) const {
  std::fill_n(out, state_floats(), 0.0f);
  for (int64_t e = 0; e < num_envs_; ++e) {
    float* env_out = out + e * (1 + int64_t(n_) * kSlotFloats);
    env_out[0] = static_cast<float>(count_[e]);
    for (int k = 0; k < count_[e]; ++k) {
      const int64_t slot = e * n_ + (head_[e] + k) % n_;
      float* dst = env_out + 1 + int64_t(k) * kSlotFloats;
      std::copy_n(&obs_[slot * kObsFloats], kObsFloats, dst);
      std::copy_n(&actions_[slot * kActionFloats], kActionFloats, dst + kObsFloats);
      std::copy_n(&rewards_[slot * kPairFloats], kPairFloats, dst + kObsFloats + kActionFloats);
    }
  }
}

void NStepAccumulator::load_state(const float* in) {
  for (int64_t e = 0; e < num_envs_; ++e) {
    const float count = in[e * (1 + int64_t(n_) * kSlotFloats)];
    if (!(count >= 0.0f && count <= float(n_ - 1)) || count != static_cast<float>(static_cast<int>(count))) {
      throw std::invalid_argument("state: pending count of env " + std::to_string(e) + " must be an integer in [0, " +
                                  std::to_string(n_ - 1) + "], got " + std::to_string(count));
    }
  }
  for (int64_t e = 0; e < num_envs_; ++e) {
    const float* env_in = in + e * (1 + int64_t(n_) * kSlotFloats);
    head_[e] = 0;
    count_[e] = static_cast<int>(env_in[0]);
    for (int k = 0; k < count_[e]; ++k) {
      const int64_t slot = e * n_ + k;
      const float* src = env_in + 1 + int64_t(k) * kSlotFloats;
      std::copy_n(src, kObsFloats, &obs_[slot * kObsFloats]);
      std::copy_n(src + kObsFloats, kActionFloats, &actions_[slot * kActionFloats]);
      std::copy_n(src + kObsFloats + kActionFloats, kPairFloats, &rewards_[slot * kPairFloats]);
    }
  }
}

}  // namespace tennis
