// Exploration noise: plain C++ so that checkpoints hold the exact state.
#include "noise.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace tennis {

void validate_noise_config(const NoiseConfig& c, const std::string& prefix) {
  auto fail = [&](const std::string& field, const std::string& expected, double got) {
    throw std::invalid_argument(prefix + field + " must be " + expected + ", got " + std::to_string(got));
  };
  if (c.type != "ou" && c.type != "gaussian" && c.type != "none") {
    throw std::invalid_argument(prefix + "type must be one of ou, gaussian, none, got \"" + c.type + "\"");
  }
  if (!std::isfinite(c.ou_mu)) fail("ou_mu", "finite", c.ou_mu);
  if (!(c.ou_theta >= 0 && c.ou_theta <= 1)) fail("ou_theta", "in [0, 1]", c.ou_theta);
  if (!(c.ou_sigma >= 0 && std::isfinite(c.ou_sigma))) fail("ou_sigma", ">= 0", c.ou_sigma);
  if (!(c.gaussian_sigma >= 0 && std::isfinite(c.gaussian_sigma))) fail("gaussian_sigma", ">= 0", c.gaussian_sigma);
  if (!(c.scale_start >= 0 && std::isfinite(c.scale_start))) fail("scale_start", ">= 0", c.scale_start);
  if (!(c.scale_end >= 0 && std::isfinite(c.scale_end))) fail("scale_end", ">= 0", c.scale_end);
  if (c.decay < 0) fail("decay", ">= 0", double(c.decay));
  if (c.decay_unit != "episodes" && c.decay_unit != "steps") {
    throw std::invalid_argument(prefix + "decay_unit must be one of episodes, steps, got \"" + c.decay_unit + "\"");
  }
}

ExplorationNoise::ExplorationNoise(const NoiseConfig& config, int64_t width, uint64_t seed)
    : config_(config), width_(width), rng_(seed) {
  validate_noise_config(config_);
  if (width_ < 1) throw std::invalid_argument("noise width must be >= 1, got " + std::to_string(width_));
}

void ExplorationNoise::resize(int64_t n_envs) {
  n_envs_ = n_envs;
  state_.assign(size_t(n_envs * width_), float(config_.ou_mu));
}

double ExplorationNoise::scale() const {
  if (config_.decay == 0) return config_.scale_start;
  const double t = double(config_.decay_unit == "steps" ? steps_ : episodes_) / double(config_.decay);
  const double progress = std::min(1.0, t);
  return config_.scale_start + (config_.scale_end - config_.scale_start) * progress;
}

void ExplorationNoise::apply(float* actions, int64_t n_envs) {
  if (n_envs < 1) throw std::invalid_argument("n_envs must be >= 1, got " + std::to_string(n_envs));
  if (n_envs != n_envs_) resize(n_envs);
  const double scale = this->scale();
  const int64_t n = n_envs * width_;
  if (config_.type == "ou") {
    // dx = theta * (mu - x) + sigma * N(0, 1), with dt = 1 as in the DDPG paper's OU process.
    for (int64_t i = 0; i < n; ++i) {
      float& x = state_[size_t(i)];
      x += float(config_.ou_theta * (config_.ou_mu - x) + config_.ou_sigma * rng_.normal());
      actions[i] = std::clamp(float(actions[i] + scale * x), -1.0f, 1.0f);
    }
  } else if (config_.type == "gaussian") {
    for (int64_t i = 0; i < n; ++i) {
      actions[i] = std::clamp(float(actions[i] + scale * config_.gaussian_sigma * rng_.normal()), -1.0f, 1.0f);
    }
  }
  ++steps_;
}

void ExplorationNoise::reset(const uint8_t* env_mask, int64_t n_envs) {
  if (n_envs < 1) throw std::invalid_argument("n_envs must be >= 1, got " + std::to_string(n_envs));
  if (n_envs != n_envs_) {
    resize(n_envs);
  } else {
    for (int64_t e = 0; e < n_envs; ++e) {
      if (env_mask && !env_mask[e]) continue;
      std::fill_n(state_.begin() + e * width_, width_, float(config_.ou_mu));
    }
  }
  for (int64_t e = 0; e < n_envs; ++e) {
    if (!env_mask || env_mask[e]) ++episodes_;
  }
}

std::vector<int64_t> ExplorationNoise::counters_and_rng() const {
  std::vector<int64_t> out{n_envs_, steps_, episodes_};
  const auto rng = rng_.state();
  out.insert(out.end(), rng.begin(), rng.end());
  return out;
}

void ExplorationNoise::restore(const std::vector<float>& ou_state, const std::vector<int64_t>& counters_and_rng) {
  if (counters_and_rng.size() != 3 + Rng::kStateInts) {
    throw std::invalid_argument("noise state must have " + std::to_string(3 + Rng::kStateInts) + " integers, got " +
                                std::to_string(counters_and_rng.size()));
  }
  const int64_t n_envs = counters_and_rng[0];
  if (n_envs < 0 || int64_t(ou_state.size()) != n_envs * width_) {
    throw std::invalid_argument("noise OU state has " + std::to_string(ou_state.size()) + " floats, expected " +
                                std::to_string(n_envs * width_));
  }
  n_envs_ = n_envs;
  state_ = ou_state;
  steps_ = counters_and_rng[1];
  episodes_ = counters_and_rng[2];
  rng_.set_state(std::vector<int64_t>(counters_and_rng.begin() + 3, counters_and_rng.end()));
}

}  // namespace tennis
