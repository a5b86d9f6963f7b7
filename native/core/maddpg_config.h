// The options of the MADDPG/MATD3 learner. No field has a default value: every caller sets each one
// (the N-API layer from the resolved config, whose defaults configs/schema.json holds; the C++ tests
// from native/common/learner_config.h). validate() checks what memory safety and the maths need.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "noise.h"

namespace tennis {

struct MaddpgConfig {
  std::vector<int64_t> actor_hidden;   // actor hidden layer widths
  std::vector<int64_t> critic_hidden;  // critic hidden layer widths
  double lr_actor;                     // Adam learning rate of the actors
  double lr_critic;                    // Adam learning rate of the critics
  double gamma;                        // discount
  double tau;                          // soft-update rate of the targets
  int64_t batch_size;                  // rows per update when sampling through update()
  double grad_clip;                    // max gradient norm per network (<= 0: no clipping)
  double weight_decay;                 // Adam L2 penalty (both networks)
  bool shared_parameters;              // one actor + one critic for both agents, each from its own view
  bool layer_norm;                     // LayerNorm after each actor hidden Linear
  bool batch_norm;                     // BatchNorm1d after each critic hidden Linear
  bool twin_critics;                   // MATD3: two critics per agent, target uses their minimum
  double target_noise;                 // MATD3: std of the target policy smoothing noise (0: off)
  double target_noise_clip;            // MATD3: clip of that noise
  int64_t policy_delay;                // MATD3: actor and target updates every policy_delay updates
  NoiseConfig noise;                   // exploration noise for act()
  std::string device;                  // "cpu" | "cuda"
  std::string impl;                    // the update path (update_path.h): "libtorch" | "fused" (CPU; no
                                       // layer_norm / batch_norm) | "graph" (device "cuda"; no batch_norm)
  int threads;                         // torch::set_num_threads at construction, and the most threads the
                                       // fused path uses (1 or this many, whichever measures faster:
                                       // fused/thread_chooser.h; 0: leave as is / LibTorch's count)
  uint64_t seed;                       // seeds init, exploration noise and target smoothing noise
};

// Throws std::invalid_argument naming the first bad field.
void validate(const MaddpgConfig& config);

}  // namespace tennis
