// n-step accumulator: exact discounted sums on a crafted sequence, the flush at an episode end,
// independent envs, the pass-through at n = 1, lost envs, saved state, and bad arguments.
#include <stdexcept>
#include <vector>

#include "check.h"
#include "n_step.h"
#include "replay_buffer.h"

namespace {

using tennis::kRecordFloats;
using tennis::NStepAccumulator;
using tennis::ReplayBuffer;

// One vectorized step of num_envs envs: obs, actions and next_obs carry tags so each record's origin
// (env, step) can be read back; rewards and dones are set per env by the test.
struct Step {
  std::vector<float> obs, actions, rewards, next_obs, dones;
  Step(int num_envs, int t, const std::vector<float>& env_rewards, const std::vector<float>& env_dones)
      : obs(num_envs * 48), actions(num_envs * 4), rewards(num_envs * 2), next_obs(num_envs * 48), dones(num_envs * 2) {
    for (int e = 0; e < num_envs; ++e) {
      for (int i = 0; i < 48; ++i) obs[e * 48 + i] = 100.0f * e + t;
      for (int i = 0; i < 48; ++i) next_obs[e * 48 + i] = 100.0f * e + t + 1;
      for (int i = 0; i < 4; ++i) actions[e * 4 + i] = -(100.0f * e + t);
      rewards[e * 2] = env_rewards[e];
      rewards[e * 2 + 1] = 2.0f * env_rewards[e];
      dones[e * 2] = dones[e * 2 + 1] = env_dones[e];
    }
  }
};

ReplayBuffer make_buffer() {
  tennis::ReplayBufferOptions o;
  o.capacity = 64;
  return ReplayBuffer(o);
}

std::vector<float> slot(const ReplayBuffer& buffer, int64_t k) {
  std::vector<float> record(kRecordFloats);
  CHECK(buffer.read_slot(k, record.data()) != 0);
  return record;
}

// Checks slot k holds env e's step t with summed reward r (agent 0; agent 1 gets 2r), bootstrapping from
// next obs of step t_next, and done flag d.
void expect_record(const ReplayBuffer& buffer, int64_t k, int e, int t, double r, int t_next, float d) {
  const std::vector<float> rec = slot(buffer, k);
  CHECK_MSG(rec[tennis::kObsOffset] == 100.0f * e + t, "slot " << k << " obs tag " << rec[tennis::kObsOffset]);
  CHECK_MSG(rec[tennis::kActionsOffset] == -(100.0f * e + t), "slot " << k << " action tag");
  CHECK_MSG(rec[tennis::kRewardsOffset] == static_cast<float>(r),
            "slot " << k << " reward " << rec[tennis::kRewardsOffset] << " expected " << r);
  CHECK(rec[tennis::kRewardsOffset + 1] == static_cast<float>(2.0 * r));
  CHECK_MSG(rec[tennis::kNextObsOffset] == 100.0f * e + t_next,
            "slot " << k << " next obs tag " << rec[tennis::kNextObsOffset]);
  CHECK(rec[tennis::kDonesOffset] == d && rec[tennis::kDonesOffset + 1] == d);
}

}  // namespace

TEST(n_step_sums_flush_and_env_independence) {
  ReplayBuffer buffer = make_buffer();
  NStepAccumulator acc(/*num_envs=*/2, /*n=*/3, /*gamma=*/0.5);
  // Env 0: rewards 1, 2, 4, 8 and its episode ends at step 3; env 1: rewards 16, 32, 64, 128, 256, no end.
  const std::vector<std::vector<float>> rewards = {{1, 16}, {2, 32}, {4, 64}, {8, 128}, {1, 256}};
  const std::vector<std::vector<float>> dones = {{0, 0}, {0, 0}, {0, 0}, {1, 0}, {0, 0}};
  std::vector<int64_t> added;
  for (int t = 0; t < 5; ++t) {
    Step s(2, t, rewards[t], dones[t]);
    added.push_back(
        acc.add(buffer, s.obs.data(), s.actions.data(), s.rewards.data(), s.next_obs.data(), s.dones.data()));
  }
  CHECK((added == std::vector<int64_t>{0, 0, 2, 4, 1}));
  // t = 2: both rings full: env 0 step 0 (1 + 2/2 + 4/4 = 3), env 1 step 0 (16 + 16 + 16 = 48).
  expect_record(buffer, 0, 0, 0, 3.0, 3, 0.0f);
  expect_record(buffer, 1, 1, 0, 48.0, 3, 0.0f);
  // t = 3: env 0 ends: steps 1, 2, 3 flushed with 3, 2 and 1 rewards (2 + 2 + 2, 4 + 4, 8), done.
  expect_record(buffer, 2, 0, 1, 6.0, 4, 1.0f);
  expect_record(buffer, 3, 0, 2, 8.0, 4, 1.0f);
  expect_record(buffer, 4, 0, 3, 8.0, 4, 1.0f);
  // Then env 1 goes on: step 1 (32 + 32 + 32).
  expect_record(buffer, 5, 1, 1, 96.0, 4, 0.0f);
  // t = 4: env 0 restarted (1 pending step, nothing out), env 1 step 2 (64 + 64 + 64).
  expect_record(buffer, 6, 1, 2, 192.0, 5, 0.0f);
  CHECK(buffer.total_added() == 7);
}

TEST(n_step_one_passes_steps_through) {
  ReplayBuffer buffer = make_buffer();
  NStepAccumulator acc(/*num_envs=*/2, /*n=*/1, /*gamma=*/0.99);
  for (int t = 0; t < 3; ++t) {
    Step s(2, t, {0.1f * t, -0.01f}, {t == 1 ? 1.0f : 0.0f, 0.0f});
    CHECK(acc.add(buffer, s.obs.data(), s.actions.data(), s.rewards.data(), s.next_obs.data(), s.dones.data()) == 2);
    for (int e = 0; e < 2; ++e) expect_record(buffer, 2 * t + e, e, t, s.rewards[e * 2], t + 1, s.dones[e * 2]);
  }
}

TEST(n_step_lost_env_is_dropped_and_cleared) {
  ReplayBuffer buffer = make_buffer();
  NStepAccumulator acc(/*num_envs=*/2, /*n=*/2, /*gamma=*/1.0);
  Step s0(2, 0, {1, 10}, {0, 0});
  acc.add(buffer, s0.obs.data(), s0.actions.data(), s0.rewards.data(), s0.next_obs.data(), s0.dones.data());
  const std::vector<float> lost = {1.0f, 1.0f, 0.0f, 0.0f};
  Step s1(2, 1, {2, 20}, {0, 0});
  CHECK(acc.add(buffer, s1.obs.data(), s1.actions.data(), s1.rewards.data(), s1.next_obs.data(), s1.dones.data(),
                lost.data()) == 1);
  expect_record(buffer, 0, 1, 0, 30.0, 2, 0.0f);
  // Env 0 starts over: its step 2 waits for a second step.
  Step s2(2, 2, {4, 40}, {0, 0});
  CHECK(acc.add(buffer, s2.obs.data(), s2.actions.data(), s2.rewards.data(), s2.next_obs.data(), s2.dones.data()) == 1);
  expect_record(buffer, 1, 1, 1, 60.0, 3, 0.0f);
}

TEST(n_step_state_round_trip_resumes_exactly) {
  ReplayBuffer a = make_buffer(), b = make_buffer();
  NStepAccumulator first(/*num_envs=*/2, /*n=*/4, /*gamma=*/0.9);
  for (int t = 0; t < 2; ++t) {
    Step s(2, t, {1.0f + t, 3.0f + t}, {0, 0});
    first.add(a, s.obs.data(), s.actions.data(), s.rewards.data(), s.next_obs.data(), s.dones.data());
  }
  std::vector<float> state(first.state_floats());
  first.save_state(state.data());
  NStepAccumulator second(/*num_envs=*/2, /*n=*/4, /*gamma=*/0.9);
  second.load_state(state.data());
  for (int t = 2; t < 6; ++t) {
    Step s(2, t, {1.0f + t, 3.0f + t}, {t == 4 ? 1.0f : 0.0f, 0.0f});
    const int64_t from_first =
        first.add(a, s.obs.data(), s.actions.data(), s.rewards.data(), s.next_obs.data(), s.dones.data());
    CHECK(second.add(b, s.obs.data(), s.actions.data(), s.rewards.data(), s.next_obs.data(), s.dones.data()) ==
          from_first);
  }
  CHECK(a.total_added() == b.total_added() && a.total_added() > 0);
  for (int64_t k = 0; k < a.total_added(); ++k) CHECK(slot(a, k) == slot(b, k));
  state[0] = 4.0f;  // more pending steps than a ring of 4 can hold between calls
  CHECK_THROWS(second.load_state(state.data()), std::invalid_argument);
}

TEST(n_step_rejects_bad_arguments) {
  CHECK_THROWS(NStepAccumulator(0, 3, 0.99), std::invalid_argument);
  CHECK_THROWS(NStepAccumulator(1, 0, 0.99), std::invalid_argument);
  CHECK_THROWS(NStepAccumulator(1, 3, 1.5), std::invalid_argument);
}
