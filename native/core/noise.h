// Exploration noise for acting: Ornstein-Uhlenbeck or Gaussian, one state per env and agent, with a
// noise-scale schedule. Its draws come from Rng (rng.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "rng.h"

namespace tennis {

// Exploration noise settings. No field has a default: the N-API layer sets each from the resolved config
// (configs/schema.json holds the defaults), the C++ tests and benches from their own helpers.
struct NoiseConfig {
  std::string type;        // "ou" | "gaussian" | "none"
  double ou_mu;            // OU long-run mean
  double ou_theta;         // OU mean reversion per step
  double ou_sigma;         // OU diffusion per step
  double gaussian_sigma;   // standard deviation of Gaussian noise
  double scale_start;      // noise scale at the start of training
  double scale_end;        // noise scale after `decay` units
  int64_t decay;           // units over which the scale goes linearly start -> end (0: constant start)
  std::string decay_unit;  // "episodes" | "steps"
};

// Throws std::invalid_argument naming the first bad field (prefixed with `prefix`).
void validate_noise_config(const NoiseConfig& config, const std::string& prefix = "noise.");

// Per-env exploration noise. `width` floats per env (agents x action size). An explore step adds
// scale * noise to the actions; OU states start at mu and return there on reset.
class ExplorationNoise {
 public:
  ExplorationNoise(const NoiseConfig& config, int64_t width, uint64_t seed);

  // Adds scale() * noise to actions [n_envs][width] in place and advances the OU states and the step
  // count. A change of n_envs resets every state.
  void apply(float* actions, int64_t n_envs);
  // Resets the OU state of each env whose mask entry is non-zero (all envs when mask is null) and
  // counts one finished episode per env reset.
  void reset(const uint8_t* env_mask, int64_t n_envs);
  // Current noise scale from the schedule.
  double scale() const;

  int64_t steps() const { return steps_; }
  int64_t episodes() const { return episodes_; }
  int64_t n_envs() const { return n_envs_; }
  const std::vector<float>& ou_state() const { return state_; }
  const NoiseConfig& config() const { return config_; }

  // Checkpoint form: OU states plus counters and RNG state.
  std::vector<int64_t> counters_and_rng() const;
  void restore(const std::vector<float>& ou_state, const std::vector<int64_t>& counters_and_rng);

 private:
  void resize(int64_t n_envs);

  NoiseConfig config_;
  int64_t width_;
  int64_t n_envs_ = 0;
  std::vector<float> state_;
  int64_t steps_ = 0;
  int64_t episodes_ = 0;
  Rng rng_;
};

}  // namespace tennis
