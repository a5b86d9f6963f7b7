// The learner configuration the C++ tests and benches start from: every field of MaddpgConfig (which
// has no defaults) set, each test or bench then changing what it exercises.
#pragma once
#include "maddpg_config.h"
#include "noise.h"

namespace learner_config {

// OU exploration noise at a constant scale of 1.
inline tennis::NoiseConfig base_noise() {
  tennis::NoiseConfig n;
  n.type = "ou";
  n.ou_mu = 0.0;
  n.ou_theta = 0.15;
  n.ou_sigma = 0.2;
  n.gaussian_sigma = 0.1;
  n.scale_start = 1.0;
  n.scale_end = 1.0;
  n.decay = 0;
  n.decay_unit = "episodes";
  return n;
}

// MADDPG on the CPU's LibTorch path with 128x128 networks, seed 0.
inline tennis::MaddpgConfig base_maddpg() {
  tennis::MaddpgConfig c;
  c.actor_hidden = {128, 128};
  c.critic_hidden = {128, 128};
  c.lr_actor = 1e-4;
  c.lr_critic = 1e-3;
  c.gamma = 0.99;
  c.tau = 1e-3;
  c.batch_size = 256;
  c.grad_clip = 1.0;
  c.weight_decay = 0.0;
  c.shared_parameters = false;
  c.layer_norm = false;
  c.batch_norm = false;
  c.twin_critics = false;
  c.target_noise = 0.0;
  c.target_noise_clip = 0.5;
  c.policy_delay = 1;
  c.noise = base_noise();
  c.device = "cpu";
  c.impl = "libtorch";
  c.threads = 0;
  c.seed = 0;
  return c;
}

}  // namespace learner_config
