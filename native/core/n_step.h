// n-step returns before the replay buffer: per env, a ring of the last n steps turns 1-step joint
// transitions into (s_t, a_t, R_t = sum_{k<m} gamma^k r_{t+k}, s_{t+m}, done_{t+m-1}) records, m = n or
// fewer when the episode ended first. The learner then bootstraps with gamma^n in place of gamma:
//   y = R_t + gamma^n (1 - done) Q'(s_{t+n}, mu'(s_{t+n}))
// which is exact for every stored record: a record with m < n steps always ends its episode (done = 1),
// so its bootstrap term is zero. With n = 1 every step passes through unchanged (same order, same floats).
// Each env's ring is independent; an episode end flushes that env's ring (its shorter returns), and a
// discarded episode (a lost remote env) clears it without storing anything.
#pragma once
#include <cstdint>
#include <vector>

#include "batch.h"

namespace tennis {

class ReplayBuffer;

class NStepAccumulator {
 public:
  // Throws std::invalid_argument for num_envs < 1, n < 1 or gamma outside [0, 1].
  NStepAccumulator(int64_t num_envs, int n, double gamma);

  // Takes one vectorized step of num_envs joint transitions (obs [e][2][24], actions [e][2][2],
  // rewards [e][2], next_obs [e][2][24], dones [e][2]) and appends the records it completes to
  // buffer in one add(): for each env in order, the oldest of a full ring, then, when the env's
  // episode ended (any agent done), the rest of its ring, oldest first. lost ([e][2] like dones, or
  // null) marks envs whose episode was discarded (any flag set): their step is dropped and their ring
  // cleared.
  // Returns the number of records appended.
  int64_t add(ReplayBuffer& buffer, const float* obs, const float* actions, const float* rewards, const float* next_obs,
              const float* dones, const float* lost = nullptr);

  // Floats of the state (save_state / load_state): per env, the pending count then n slots of
  // obs [2][24], actions [2][2], rewards [2].
  int64_t state_floats() const;
  // Writes the pending steps into out (state_floats() floats), for an exact resume.
  void save_state(float* out) const;
  // Restores pending steps saved by an accumulator with the same num_envs and n; throws
  // std::invalid_argument (state untouched) for a count outside [0, n - 1].
  void load_state(const float* in);

  int64_t num_envs() const { return num_envs_; }
  int n() const { return n_; }
  double gamma() const { return gamma_; }

 private:
  int64_t num_envs_;
  int n_;
  double gamma_;
  // Per env: start of the ring and pending count; slots [e][n] of obs, actions and rewards.
  std::vector<int> head_, count_;
  std::vector<float> obs_, actions_, rewards_;
  // Records completed by the current add(), in the buffer's add() layout.
  std::vector<float> out_obs_, out_actions_, out_rewards_, out_next_obs_, out_dones_;
};

}  // namespace tennis
