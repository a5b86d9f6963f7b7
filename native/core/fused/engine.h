// The fused MADDPG/MATD3 update (MaddpgConfig::impl = "fused", adapted by fused_path.cc): the same
// maths as the LibTorch path (libtorch_path.cc), on the learner's own flat parameter, target and Adam
// buffers (raw pointers, no LibTorch here), with hand-derived gradients, one flat Adam and one flat
// soft update per network, and with separate agents' networks updated on separate threads (pair.h).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "../batch.h"
#include "../maddpg_config.h"
#include "../update_stats.h"

namespace tennis::fused {

// One network trained by one optimizer (an actor, or a critic with its twin), in buffers owned by
// the learner. All four buffers have numel floats in the layout of networks.h.
struct NetBuffers {
  float* params = nullptr;      // online parameters
  float* target = nullptr;      // target network parameters
  float* exp_avg = nullptr;     // Adam first moments
  float* exp_avg_sq = nullptr;  // Adam second moments
  int64_t numel = 0;
  int64_t* step = nullptr;  // Adam step count, incremented by each optimizer step
};

// The networks of one agent, or of every agent with shared parameters.
struct GroupBuffers {
  std::vector<int> agents;
  NetBuffers actor, critic;
};

class Updater {
 public:
  // `config`: a validated config whose impl is "fused" (the fields it reads: network widths,
  // shared_parameters, twin_critics, gamma, tau, learning rates, weight_decay, grad_clip, target noise).
  Updater(const MaddpgConfig& config, std::vector<GroupBuffers> groups);
  ~Updater();
  Updater(const Updater&) = delete;
  Updater& operator=(const Updater&) = delete;

  // One update of every agent from a checked batch. `noise`: standard-normal draws [rows][agents][2]
  // for the MATD3 target smoothing (used when target_noise > 0). `actor_step`: also step the actors
  // and soft-update the targets (policy delay). `threads`: OpenMP threads to use.
  UpdateStats update(const BatchView& batch, const float* noise, bool actor_step, int threads);

  // Greedy actions [n][agents][2] of the online actors for obs [n][agents][24].
  void act(const float* obs, int64_t n, float* actions);

  // Call when parameters or targets changed outside update() (set_parameters, reset_actors, load).
  void parameters_changed();

 private:
  struct Group;
  void target_actions(Group& g, const BatchView& batch, const float* noise, int threads);
  void learn(Group& g, const BatchView& batch, bool actor_step, int threads);

  MaddpgConfig config_;
  std::vector<std::unique_ptr<Group>> groups_;
  std::vector<float> next_actions_;         // [rows][agents][2]
  std::unique_ptr<class ThreadPair> pair_;  // the second thread, started on the first 2-thread update
};

}  // namespace tennis::fused
