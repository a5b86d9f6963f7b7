// Tennis env core: spec validation vectors, observation layout, reward rules on crafted states, the
// step cap, determinism, batch independence, and the scripted controller's rallies.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "check.h"
#include "env/tennis.h"

namespace {

using tennis::TennisBatch;
using tennis::TennisMode;
using tennis::TennisOptions;
using tennis::TennisState;

constexpr int kObs = tennis::kAgents * tennis::kObsSize;  // floats of obs per env
// Validation vectors are float32 values printed to 8 digits; float32 accumulation differs by ~2e-6.
constexpr double kVecTol = 1e-5;

// Per-call output buffers for a batch.
struct Buffers {
  explicit Buffers(int n) : obs(n * kObs), rewards(n * 2), dones(n * 2), max_reached(n * 2), actions(n * 4) {}
  std::vector<float> obs, rewards, dones, max_reached, actions;
};

void step(TennisBatch& env, Buffers& b, int threads = 1) {
  env.step(b.actions.data(), b.obs.data(), b.rewards.data(), b.dones.data(), threads, b.max_reached.data());
}

// Deterministic normal actions clipped to [-1, 1] (xorshift32 + Box-Muller), like the notebook's.
struct ActionRng {
  uint32_t s;
  explicit ActionRng(uint32_t seed) : s(seed * 2654435761u + 12345u) {}
  double uniform() {
    s ^= s << 13, s ^= s >> 17, s ^= s << 5;
    return (s + 0.5) / 4294967296.0;
  }
  float normal() {
    const double u1 = uniform(), u2 = uniform();
    const double z = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
    return static_cast<float>(std::min(std::max(z, -1.0), 1.0));
  }
  void fill(float* a, size_t count) {
    for (size_t i = 0; i < count; ++i) a[i] = normal();
  }
};

void check_frame(const float* got, const std::vector<double>& want, bool negative_zero_velocity) {
  for (int k = 0; k < tennis::kFrameSize; ++k) CHECK_NEAR(got[k], want[k], kVecTol);
  if (negative_zero_velocity) CHECK(std::signbit(got[2]) && std::signbit(got[6]));
}

// A state with the ball at (x, y) moving (vx, vy), rackets at rest on their floors far from it.
TennisState crafted(float x, float y, float vx, float vy, int last_hitter, bool inside) {
  TennisState s;
  s.ball_x = x, s.ball_y = y, s.ball_vx = vx, s.ball_vy = vy;
  s.racket_x[0] = 7.0f, s.racket_x[1] = -7.0f;
  s.racket_y[0] = s.racket_y[1] = -1.85216248f;
  s.last_hitter = last_hitter;
  s.ball_in_over = inside;
  return s;
}

// Steps env 0 of a one-env batch once from `s` with zero actions and returns rewards and done.
struct Outcome {
  float r0, r1;
  bool done;
  TennisState after;
};
Outcome play_crafted(const TennisState& s, TennisOptions options = {}) {
  TennisBatch env(1, 0, options);
  Buffers b(1);
  env.reset(b.obs.data());
  env.set_state(0, s);
  step(env, b);
  CHECK(b.dones[0] == b.dones[1]);
  return {b.rewards[0], b.rewards[1], b.dones[0] == 1.0f, env.state(0)};
}

}  // namespace

TEST(tennis_validation_vectors_seed0) {
  TennisBatch env(1, 0);
  Buffers b(1);
  env.reset(b.obs.data());
  for (int k = 0; k < 16; ++k) CHECK(b.obs[k] == 0.0f && b.obs[24 + k] == 0.0f);
  check_frame(&b.obs[16], {-6.6527863, -1.5, -0.0, 0, 6.8317208, 6, -0.0, 0}, true);
  check_frame(&b.obs[40], {-6.4669857, -1.5, 0, 0, -6.8317208, 6, 0, 0}, false);

  env.reset(b.obs.data());  // one zero-action tick, then new rackets
  for (int k = 0; k < 16; ++k) CHECK(b.obs[k] == 0.0f && b.obs[24 + k] == 0.0f);
  check_frame(&b.obs[16], {-7.3899364, -1.5, -0.0, 0, 6.8317208, 5.9960761, -0.0, 0}, true);
  check_frame(&b.obs[40], {-6.7002468, -1.5, 0, 0, -6.8317208, 5.9960761, 0, 0}, false);
  const std::vector<float> prev0(b.obs.begin() + 16, b.obs.begin() + 24);

  b.actions = {1.738f, -0.251f, -0.9590033f, -1.417f};
  step(env, b);
  CHECK(b.rewards[0] == 0.0f && b.rewards[1] == 0.0f && b.dones[0] == 0.0f && b.dones[1] == 0.0f);
  for (int k = 0; k < 8; ++k) CHECK(b.obs[k] == 0.0f);
  for (int k = 0; k < 8; ++k) CHECK(b.obs[8 + k] == prev0[k]);
  check_frame(&b.obs[16], {-4.3899369, -1.5588601, 30, -0.981, 6.8317208, 5.9175963, 30, -0.981}, false);
  check_frame(&b.obs[40], {-9.5772581, -1.5588601, -28.770100, -0.981, -6.8317208, 5.9175963, -28.770100, -0.981},
              false);

  TennisBatch again(1, 0);  // start-up + 3 more resets (the prototype's further published prints)
  for (int r = 0; r < 4; ++r) again.reset(b.obs.data());
  CHECK_NEAR(b.obs[16], -7.4363995, kVecTol);
  CHECK_NEAR(b.obs[40], -7.7301950, kVecTol);
  CHECK_NEAR(b.obs[21], 5.9764562, kVecTol);
}

TEST(tennis_obs_layout_and_mirroring) {
  for (bool ball_velocity : {false, true}) {
    TennisOptions options;
    options.observe_ball_velocity = ball_velocity;
    TennisBatch env(3, 11, options);
    Buffers b(3);
    ActionRng rng(5);
    env.reset(b.obs.data());
    for (int t = 0; t < 200; ++t) {
      std::vector<float> prev = b.obs;
      rng.fill(b.actions.data(), b.actions.size());
      step(env, b);
      for (int e = 0; e < 3; ++e) {
        const TennisState s = env.state(e);
        for (int i = 0; i < 2; ++i) {
          const float* o = &b.obs[e * kObs + i * 24];
          const float m = i == 0 ? -1.0f : 1.0f;
          if (b.dones[e * 2] != 0.0f) {
            for (int k = 0; k < 16; ++k) CHECK(o[k] == 0.0f);  // first frame of the next episode
          } else {
            for (int k = 0; k < 16; ++k) CHECK(o[k] == prev[e * kObs + i * 24 + 8 + k]);  // oldest first
          }
          const float* f = o + 16;
          CHECK(f[0] == m * s.racket_x[i] && f[1] == s.racket_y[i]);
          CHECK(f[2] == m * s.racket_vx[i] && f[3] == s.racket_vy[i]);
          CHECK(f[4] == m * s.ball_x && f[5] == s.ball_y);
          if (ball_velocity) {
            CHECK(f[6] == m * s.ball_vx && f[7] == s.ball_vy);
          } else {
            CHECK(f[6] == f[2] && f[7] == f[3]);  // the build's slots 6-7 quirk
          }
          CHECK(f[0] <= -0.39f);  // own side is negative x in the agent's own frame
        }
        CHECK(b.obs[e * kObs + 20] == -b.obs[e * kObs + 24 + 20]);  // ball x mirrored between agents
      }
    }
  }
}

TEST(tennis_crossing_rewards_last_hitter) {
  // Leaving the `over` trigger pays the last hitter, "none" pays index 0; afterwards A (1) is last.
  Outcome o = play_crafted(crafted(0.45f, 3.0f, 9.0f, 0.0f, -1, true));
  CHECK(!o.done);
  CHECK(o.r0 == 0.1f && o.r1 == 0.0f);
  CHECK(o.after.last_hitter == 1);
  o = play_crafted(crafted(-0.45f, 3.0f, -9.0f, 0.0f, 1, true));
  CHECK(o.r0 == 0.0f && o.r1 == 0.1f);
  o = play_crafted(crafted(0.45f, 3.0f, 9.0f, 0.0f, 0, true));
  CHECK(o.r0 == 0.1f && o.r1 == 0.0f && o.after.last_hitter == 1);
  TennisOptions fixed;
  fixed.fix_last_hitter = true;
  o = play_crafted(crafted(0.45f, 3.0f, 9.0f, 0.0f, 0, true), fixed);
  CHECK(o.r0 == 0.1f && o.after.last_hitter == 0);
}

TEST(tennis_terminal_rewards_and_erase_rule) {
  // floorA charges index 1 and erases index 0's window (including a +0.1 of the same tick).
  Outcome o = play_crafted(crafted(-3.0f, -2.6f, 0.0f, -9.0f, -1, true));
  CHECK(o.done);
  CHECK(o.r0 == 0.0f && o.r1 == -0.01f);
  // floorB charges index 0 and erases index 1.
  o = play_crafted(crafted(3.0f, -2.6f, 0.0f, -9.0f, 1, false));
  CHECK(o.done && o.r0 == -0.01f && o.r1 == 0.0f);
  // Crossing pays B (index 0) +0.1, then B's shot goes out against wallB: the bug makes A (index 1)
  // the last hitter, so A is charged and B's +0.1 is erased.
  o = play_crafted(crafted(11.7f, 3.0f, 9.0f, 0.0f, 0, true));
  CHECK(o.done && o.r0 == 0.0f && o.r1 == -0.01f);
  // With fix_last_hitter, B keeps the last hit: 0.1 - 0.01 for B, A's window erased.
  TennisOptions fixed;
  fixed.fix_last_hitter = true;
  o = play_crafted(crafted(11.7f, 3.0f, 9.0f, 0.0f, 0, true), fixed);
  CHECK(o.done && o.r1 == 0.0f);
  CHECK_NEAR(o.r0, 0.09, 1e-7);
  // Net with no hitter: charges index 0, erases index 1. The ball was inside the `over` trigger when
  // it hit the net top; the re-serve moves it out, which counts as a crossing on the next tick and
  // pays index 0 (prototype choice 6b #5), so index 0 ends the window with -0.01 + 0.1.
  o = play_crafted(crafted(0.0f, -0.3f, 0.0f, -9.0f, -1, false));
  CHECK(o.done && o.r1 == 0.0f);
  CHECK_NEAR(o.r0, 0.09, 1e-7);
  CHECK(o.after.last_hitter == 1);
  // After a terminal event the ball is re-served at y = 6 (fallen for the rest of the window), the
  // last hitter is forgotten, and the returned frame starts the next episode.
  o = play_crafted(crafted(-3.0f, -2.6f, 0.0f, -9.0f, 0, false));
  CHECK(o.done && o.after.last_hitter == -1 && o.after.steps == 0);
  CHECK(std::fabs(o.after.ball_x) >= 6.0f && std::fabs(o.after.ball_x) <= 8.0f);
  CHECK(o.after.ball_y < 6.0f && o.after.ball_y > 5.9f);
}

TEST(tennis_racket_touch_sets_last_hitter) {
  // Ball dropped onto the face of racket 1 (left, A) resting on its floor: A becomes last hitter
  // and the ball leaves toward the net (positive x for the left racket).
  TennisState s = crafted(0.0f, 0.0f, 0.0f, 0.0f, -1, false);
  s.racket_x[1] = -6.0f;
  s.ball_x = -5.6f, s.ball_y = -1.85216248f + 0.57f, s.ball_vy = -7.0f;  // just above the face centre
  TennisBatch env(1, 0);
  Buffers b(1);
  env.reset(b.obs.data());
  env.set_state(0, s);
  step(env, b);
  const TennisState after = env.state(0);
  CHECK(after.last_hitter == 1 && after.last_toucher == 1);
  CHECK(after.ball_vx > 0.0f && after.ball_vy > 0.0f);
  CHECK(b.dones[0] == 0.0f);
}

TEST(tennis_competitive_mode_zero_sum) {
  TennisOptions options;
  options.mode = TennisMode::kCompetitive;
  // Untouched ball lands on A's floor: A (index 1) loses.
  Outcome o = play_crafted(crafted(-3.0f, -2.6f, 0.0f, -9.0f, -1, true), options);
  CHECK(o.done && o.r0 == 1.0f && o.r1 == -1.0f);
  // No shaping for crossings.
  o = play_crafted(crafted(0.45f, 3.0f, 9.0f, 0.0f, -1, true), options);
  CHECK(!o.done && o.r0 == 0.0f && o.r1 == 0.0f);
  // Out against wallB after B (index 0) touched it last: B loses, whatever the crossing bug says.
  TennisState s = crafted(11.7f, 3.0f, 9.0f, 0.0f, 1, true);
  s.last_toucher = 0;
  o = play_crafted(s, options);
  CHECK(o.done && o.r0 == -1.0f && o.r1 == 1.0f);
}

TEST(tennis_step_cap_1001) {
  TennisBatch env(2, 3);
  Buffers b(2);
  env.reset(b.obs.data());
  for (int t = 1; t <= 1001; ++t) {
    for (int e = 0; e < 2; ++e) {  // keep the ball hanging in the air, away from everything
      TennisState s = env.state(e);
      s.ball_x = 3.0f, s.ball_y = 6.0f, s.ball_vx = s.ball_vy = 0.0f;
      env.set_state(e, s);
    }
    step(env, b);
    const bool last = t == 1001;
    for (int k = 0; k < 4; ++k) {
      CHECK_MSG(b.dones[k] == (last ? 1.0f : 0.0f), "step " << t << " done " << b.dones[k]);
      CHECK(b.max_reached[k] == b.dones[k]);
    }
    CHECK(env.state(0).steps == (last ? 0 : t));
  }
}

TEST(tennis_academy_cap_without_reset) {
  // Without env.reset() the agents' 1001-step cap repeats, and the academy's 25000 ticks (5000 steps
  // since the last reset) end the episode once more.
  TennisBatch env(1, 4);
  Buffers b(1);
  env.reset(b.obs.data());
  std::vector<int> done_at;
  for (int t = 1; t <= 6100; ++t) {
    TennisState s = env.state(0);
    s.ball_x = 3.0f, s.ball_y = 6.0f, s.ball_vx = s.ball_vy = 0.0f;
    env.set_state(0, s);
    step(env, b);
    if (b.dones[0] != 0.0f) done_at.push_back(t);
  }
  CHECK(done_at == (std::vector<int>{1001, 2002, 3003, 4004, 5000, 6001}));
}

TEST(tennis_same_seed_bit_identical) {
  auto run = [](int threads) {
    TennisBatch env(300, 42);
    Buffers b(300);
    ActionRng rng(7);
    std::vector<float> trace;
    env.reset(b.obs.data());
    trace.insert(trace.end(), b.obs.begin(), b.obs.end());
    for (int t = 0; t < 400; ++t) {
      rng.fill(b.actions.data(), b.actions.size());
      step(env, b, threads);
      trace.insert(trace.end(), b.obs.begin(), b.obs.end());
      trace.insert(trace.end(), b.rewards.begin(), b.rewards.end());
      trace.insert(trace.end(), b.dones.begin(), b.dones.end());
      if (t % 50 == 49) env.reset_where(b.dones.data(), b.obs.data());
    }
    return trace;
  };
  const auto a = run(1), b = run(1), c = run(2);
  CHECK(a.size() == b.size() && a.size() == c.size());
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(a.data(), c.data(), a.size() * sizeof(float)) == 0);
  TennisBatch other(300, 43);  // and a different seed differs
  Buffers o(300);
  other.reset(o.obs.data());
  CHECK(std::memcmp(a.data(), o.obs.data(), o.obs.size() * sizeof(float)) != 0);
}

TEST(tennis_batch_independence) {
  // Env e of a batch seeded s follows exactly the single env seeded s + e, whatever its neighbours do
  // (envs 3 and 290 sit in different blocks of the vectorized loop).
  const int kN = 300;
  Buffers bb(kN);
  ActionRng noise(1), shared(2);
  for (int e : {3, 290}) {
    TennisBatch single(1, 100 + e);
    Buffers sb(1);
    TennisBatch fresh(kN, 100);
    fresh.reset(bb.obs.data());
    single.reset(sb.obs.data());
    CHECK(std::memcmp(&bb.obs[e * kObs], sb.obs.data(), kObs * sizeof(float)) == 0);
    for (int t = 0; t < 600; ++t) {
      noise.fill(bb.actions.data(), bb.actions.size());
      shared.fill(sb.actions.data(), 4);
      std::memcpy(&bb.actions[e * 4], sb.actions.data(), 4 * sizeof(float));
      fresh.step(bb.actions.data(), bb.obs.data(), bb.rewards.data(), bb.dones.data(), 2);
      step(single, sb);
      CHECK(std::memcmp(&bb.obs[e * kObs], sb.obs.data(), kObs * sizeof(float)) == 0);
      CHECK(bb.rewards[2 * e] == sb.rewards[0] && bb.rewards[2 * e + 1] == sb.rewards[1]);
      CHECK(bb.dones[2 * e] == sb.dones[0]);
      if (sb.dones[0] != 0.0f) {  // the notebook's reset; the batch resets only env e
        std::vector<float> mask(kN * 2, 0.0f);
        mask[2 * e] = 1.0f;
        fresh.reset_where(mask.data(), bb.obs.data());
        single.reset(sb.obs.data());
        CHECK(std::memcmp(&bb.obs[e * kObs], sb.obs.data(), kObs * sizeof(float)) == 0);
      }
    }
  }
}

TEST(tennis_save_load_state_continues_bit_identical) {
  TennisBatch env(5, 21);
  Buffers b(5);
  ActionRng rng(3);
  env.reset(b.obs.data());
  for (int t = 0; t < 37; ++t) {
    rng.fill(b.actions.data(), b.actions.size());
    step(env, b);
  }
  const std::vector<uint8_t> saved = env.save_state();
  TennisBatch restored(5, 999);  // different seed: everything comes from the bytes
  restored.load_state(saved.data(), saved.size());
  Buffers r(5);
  restored.observations(r.obs.data());
  CHECK(std::memcmp(b.obs.data(), r.obs.data(), b.obs.size() * sizeof(float)) == 0);
  for (int t = 0; t < 300; ++t) {
    rng.fill(b.actions.data(), b.actions.size());
    r.actions = b.actions;
    step(env, b);
    step(restored, r);
    CHECK(std::memcmp(b.obs.data(), r.obs.data(), b.obs.size() * sizeof(float)) == 0);
    CHECK(b.rewards == r.rewards && b.dones == r.dones);
  }
  TennisBatch other_size(4, 21);
  CHECK_THROWS(other_size.load_state(saved.data(), saved.size()), std::invalid_argument);
  TennisOptions clean;
  clean.clean_reset = true;
  TennisBatch other_options(5, 21, clean);
  CHECK_THROWS(other_options.load_state(saved.data(), saved.size()), std::invalid_argument);
  CHECK_THROWS(restored.load_state(saved.data(), saved.size() - 1), std::invalid_argument);
}

TEST(tennis_reset_where_touches_only_masked_rows) {
  TennisBatch env(4, 9);
  Buffers b(4);
  env.reset(b.obs.data());
  const TennisState before1 = env.state(1);
  std::vector<float> mask = {0, 0, 1, 0, 0, 0, 0, 1};
  std::vector<float> obs(4 * kObs, 123.0f);
  env.reset_where(mask.data(), obs.data());
  for (int e = 0; e < 4; ++e) {
    const bool masked = e == 1 || e == 3;
    CHECK((obs[e * kObs + 16] == 123.0f) == !masked);
  }
  const TennisState after1 = env.state(1);
  CHECK(after1.racket_x[0] != before1.racket_x[0]);  // rackets re-placed by new draws
  CHECK(after1.ball_y < before1.ball_y);             // the extra tick let the ball fall
  CHECK(env.state(0).ball_y == 6.0f);
}

TEST(tennis_clean_reset_reserves) {
  TennisOptions options;
  options.clean_reset = true;
  TennisBatch env(1, 0, options);
  Buffers b(1);
  env.reset(b.obs.data());
  for (int t = 0; t < 3; ++t) step(env, b);
  env.reset(b.obs.data());
  const TennisState s = env.state(0);
  CHECK(s.ball_y == 6.0f && s.ball_vx == 0.0f && s.ball_vy == 0.0f && s.last_hitter == -1);
  CHECK(std::fabs(s.ball_x) >= 6.0f && std::fabs(s.ball_x) <= 8.0f);
}

TEST(tennis_argument_errors) {
  CHECK_THROWS(TennisBatch(0, 1), std::invalid_argument);
  TennisBatch env(2, 1);
  Buffers b(2);
  CHECK_THROWS(step(env, b), std::logic_error);  // no reset yet
  env.reset(b.obs.data());
  CHECK_THROWS(step(env, b, 0), std::invalid_argument);
  CHECK_THROWS(env.state(2), std::out_of_range);
  TennisState s = env.state(0);
  s.last_hitter = 3;
  CHECK_THROWS(env.set_state(0, s), std::invalid_argument);
}

TEST(tennis_random_play_like_notebook) {
  // The notebook's random agent: 1000 episodes, reset before each; the prototype gives mean length
  // 18.9 and 59% episodes of 14 steps.
  TennisBatch env(1, 0);
  Buffers b(1);
  ActionRng rng(0);
  env.reset(b.obs.data());
  int total = 0, fourteen = 0;
  for (int ep = 0; ep < 1000; ++ep) {
    env.reset(b.obs.data());
    int t = 0;
    do {
      rng.fill(b.actions.data(), 4);
      step(env, b);
      ++t;
    } while (b.dones[0] == 0.0f);
    total += t;
    fourteen += t == 14;
  }
  const double mean = total / 1000.0, share14 = fourteen / 1000.0;
  std::cout << "     random play: mean length " << mean << ", share of 14-step episodes " << share14 << "\n";
  CHECK(mean > 16.0 && mean < 22.0);
  CHECK(share14 > 0.5 && share14 < 0.68);
}

TEST(tennis_scripted_controller_rallies) {
  TennisOptions options;
  options.clean_reset = true;
  const int kEpisodes = 10;
  TennisBatch env(kEpisodes, 1, options);
  Buffers b(kEpisodes);
  env.reset(b.obs.data());
  std::vector<int> length(kEpisodes, 0);
  std::vector<double> score0(kEpisodes, 0), score1(kEpisodes, 0);
  for (int t = 1; t <= tennis::kMaxEpisodeSteps; ++t) {
    tennis::scripted_actions(env, b.actions.data());
    step(env, b);
    for (int e = 0; e < kEpisodes; ++e) {
      if (length[e]) continue;
      score0[e] += b.rewards[2 * e], score1[e] += b.rewards[2 * e + 1];
      if (b.dones[2 * e] != 0.0f) length[e] = t;
    }
  }
  int capped = 0;
  double mean_score = 0;
  for (int e = 0; e < kEpisodes; ++e) {
    capped += length[e] == tennis::kMaxEpisodeSteps;
    mean_score += std::max(score0[e], score1[e]) / kEpisodes;
  }
  std::cout << "     scripted: " << capped << "/" << kEpisodes << " episodes reach the cap, mean score " << mean_score
            << "\n";
  CHECK(capped >= 8);
  CHECK(mean_score >= 2.5);
}
