// The joint-transition layout shared by the replay buffer (producer of batches) and the MADDPG
// update (consumer): one record = obs [2][24], actions [2][2], rewards [2], next_obs [2][24], dones [2].
#pragma once
#include <cstdint>

namespace tennis {

// Number of agents in the Tennis task.
constexpr int kAgents = 2;
// Observation floats per agent (8 variables x 3 stacked frames).
constexpr int kObsSize = 24;
// Action floats per agent.
constexpr int kActionSize = 2;
// Floats in one joint record, in the order obs, actions, rewards, next_obs, dones.
constexpr int kRecordFloats = kAgents * (2 * kObsSize + kActionSize + 2);

// A batch of `size` joint transitions as separate contiguous row-major float32 arrays (not owned):
// obs [size][2][24], actions [size][2][2], rewards [size][2], next_obs [size][2][24], dones [size][2].
// weights [size] (importance weights, 1 for uniform sampling) and indices [size] (buffer slots, for
// priority updates) may be null where the producer has none.
struct BatchView {
  int64_t size = 0;
  float* obs = nullptr;
  float* actions = nullptr;
  float* rewards = nullptr;
  float* next_obs = nullptr;
  float* dones = nullptr;
  float* weights = nullptr;
  int64_t* indices = nullptr;
};

}  // namespace tennis
