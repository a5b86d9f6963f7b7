// The MADDPG learner (MATD3 by flags): networks per agent or shared, the update on joint batches,
// acting with native exploration noise, flat parameters, checkpoints and the TorchScript actor export.
// LibTorch stays behind a pimpl so that N-API wraps and tests including this header compile fast.
// The update runs on one of three paths of the same maths over the same networks, flat buffers, RNG,
// noise and checkpoints, picked once at construction by MaddpgConfig::impl (update_path.h).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "batch.h"
#include "batch_source.h"
#include "maddpg_config.h"
#include "noise.h"
#include "update_stats.h"

namespace tennis {

// One named parameter tensor in the flat layout.
struct ParameterInfo {
  std::string name;  // e.g. "agent0/actor/fc.0.weight", "shared/target_critic/out.bias"
  std::vector<int64_t> shape;
  int64_t offset = 0;  // into the flat vector
  int64_t numel = 0;
};

class Maddpg {
 public:
  // Throws std::invalid_argument naming the first bad field of `config` (validate()).
  explicit Maddpg(const MaddpgConfig& config);
  ~Maddpg();
  Maddpg(const Maddpg&) = delete;
  Maddpg& operator=(const Maddpg&) = delete;

  const MaddpgConfig& config() const;

  // One update for all agents from `batch` (any size >= 1). Throws std::invalid_argument naming the
  // array and row of a NaN/inf. `target_noise` (test hook, may be null): the standard-normal draws
  // [size][agents][action] of the MATD3 smoothing noise, used instead of drawing them.
  UpdateStats update_batch(const BatchView& batch, const float* target_noise = nullptr);
  // k updates with batches of config().batch_size from `source`; after each, source.feedback(td). With
  // impl "graph" and a source offering uniform_buffer(), the k batches are drawn on the device instead
  // (one CUDA graph; no feedback, which only prioritized sources use).
  UpdateStats update(int64_t k, BatchSource& source);

  // actions [n_envs][agents][2] from obs [n_envs][agents][24]; explore adds the scheduled noise.
  void act(const float* obs, int64_t n_envs, float* actions, bool explore);
  // Checked form: the lengths must be n_envs * agents * 24 and n_envs * agents * 2; obs must be finite.
  void act(const float* obs, int64_t obs_length, float* actions, int64_t actions_length, bool explore);
  // Resets the noise of envs whose mask byte is non-zero (all when null); counts finished episodes.
  void reset_noise(const uint8_t* env_mask, int64_t n_envs);
  double noise_scale() const;
  const ExplorationNoise& noise() const;

  int64_t update_count() const;  // updates run since construction (checkpointed)

  // Flat float32 view of every trainable parameter: per net group ("agent0", "agent1" or "shared"):
  // actor, critic, [critic_twin], target_actor, target_critic, [target_critic_twin].
  std::vector<ParameterInfo> parameter_layout() const;
  int64_t parameter_count() const;
  std::vector<float> get_parameters() const;
  void get_parameters(float* out, int64_t length) const;
  void set_parameters(const float* data, int64_t length);
  // Starts every actor afresh: new initial weights drawn from Rng(seed) as the constructor draws them
  // (LayerNorm back to the identity), copied into the target actors, Adam moments and step count
  // zeroed. Critics, noise and the update count stay (the trainer's stall remedy, train.stallEpisodes).
  void reset_actors(uint64_t seed);
  // The actor of `agent` alone, flat (same order as its slice of the layout).
  std::vector<float> get_actor_parameters(int agent) const;

  // Checkpoint: networks, targets, BatchNorm statistics, optimizer states, noise, RNG and counters.
  void save(const std::string& path) const;
  // Throws std::invalid_argument naming what differs for a checkpoint of another architecture.
  void load(const std::string& path);

  // The actor of `agent` as TorchScript for Python's torch.jit.load (obs [N,24] -> actions [N,2]).
  void export_actor_torchscript(const std::string& path, int agent) const;

  // One line per architecture field, "key=value", compared field by field on load.
  std::string architecture() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tennis
