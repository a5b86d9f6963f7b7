// The scripted competitive controller (env/competitive.h): it beats the rally controller and random
// play on either side, its actions are valid, and it is a pure function of the state.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <vector>

#include "check.h"
#include "env/competitive.h"
#include "env/tennis.h"

namespace {

using tennis::TennisBatch;
using tennis::TennisMode;
using tennis::TennisOptions;

enum class Opponent { kRally, kRandom };

struct Record {
  int wins = 0, losses = 0, draws = 0;
};

// One point per env, the competitive controller on `side`, the opponent on the other side.
Record play_points(int points, int side, Opponent opponent, uint32_t seed) {
  TennisOptions options;
  options.clean_reset = true;
  options.mode = TennisMode::kCompetitive;
  TennisBatch env(points, seed, options);
  std::vector<float> obs(points * 48), rewards(points * 2), dones(points * 2), actions(points * 4), other(points * 4);
  env.reset(obs.data());
  uint32_t rng = seed * 2654435761u + 1u;
  std::vector<bool> over(points, false);
  Record r;
  for (int t = 0; t < tennis::kMaxEpisodeSteps; ++t) {
    tennis::competitive_actions(env, actions.data());
    if (opponent == Opponent::kRally) {
      tennis::scripted_actions(env, other.data());
    } else {
      for (float& v : other) {
        rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
        v = static_cast<float>(rng / 4294967296.0 * 2 - 1);
      }
    }
    for (int e = 0; e < points; ++e)
      for (int k = 0; k < 2; ++k) actions[e * 4 + (1 - side) * 2 + k] = other[e * 4 + (1 - side) * 2 + k];
    env.step(actions.data(), obs.data(), rewards.data(), dones.data());
    for (int e = 0; e < points; ++e) {
      if (over[e] || dones[e * 2] == 0.0f) continue;
      over[e] = true;
      const float reward = rewards[e * 2 + side];
      (reward > 0 ? r.wins : reward < 0 ? r.losses : r.draws) += 1;
    }
  }
  return r;
}

}  // namespace

TEST(competitive_controller_beats_rally_and_random_on_both_sides) {
  const int kPoints = 64;
  for (int side = 0; side < 2; ++side) {
    const Record rally = play_points(kPoints, side, Opponent::kRally, 7);
    const Record random = play_points(kPoints, side, Opponent::kRandom, 7);
    std::cout << "     competitive on side " << side << ": vs rally " << rally.wins << "/" << rally.losses << "/"
              << rally.draws << ", vs random " << random.wins << "/" << random.losses << "/" << random.draws
              << " (won/lost/drawn of " << kPoints << ")\n";
    CHECK(rally.wins >= kPoints * 3 / 4);
    CHECK(rally.losses <= kPoints / 16);
    CHECK(random.wins >= kPoints * 3 / 4);
  }
}

TEST(competitive_controller_actions_valid_and_pure) {
  TennisOptions options;
  options.clean_reset = true;
  options.mode = TennisMode::kCompetitive;
  TennisBatch env(16, 3, options);
  std::vector<float> obs(16 * 48), rewards(32), dones(32), actions(64), again(64);
  env.reset(obs.data());
  for (int t = 0; t < 200; ++t) {
    tennis::competitive_actions(env, actions.data());
    tennis::competitive_actions(env, again.data());
    CHECK(actions == again);
    for (int i = 0; i < 64; ++i) CHECK(actions[i] >= -1.0f && actions[i] <= 1.0f);
    // One racket's pair depends on its own state only through the env's snapshot.
    float single[2];
    tennis::competitive_agent(env.state(5), 1, single);
    CHECK(single[0] == actions[5 * 4 + 2] && single[1] == actions[5 * 4 + 3]);
    env.step(actions.data(), obs.data(), rewards.data(), dones.data());
    env.reset_where(dones.data(), obs.data());
  }
}
