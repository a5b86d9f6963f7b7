// The MADDPG learner (MATD3 by flags): networks per agent or shared, the update on joint batches,
// acting with native exploration noise, flat parameters, checkpoints and the TorchScript actor export.
// LibTorch stays behind a pimpl so that N-API wraps and tests including this header compile fast.
// The update has two implementations of the same maths over the same networks, flat buffers, RNG,
// noise and checkpoints, selected by MaddpgConfig::impl: "libtorch" (LibTorch ops + autograd),
// "fused" (hand-derived gradients and fused kernels on the flat buffers, native/core/fused/, issue 8)
// and "graph" (CUDA: the update as device-only tensor ops, K updates with sampling from a device
// mirror of the replay buffer captured as one CUDA graph and replayed, native/core/graph/).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "batch.h"
#include "noise.h"

namespace tennis {

class ReplayBuffer;

struct MaddpgConfig {
  std::vector<int64_t> actor_hidden{128, 128};   // actor hidden layer widths
  std::vector<int64_t> critic_hidden{128, 128};  // critic hidden layer widths
  double lr_actor = 1e-4;           // Adam learning rate of the actors
  double lr_critic = 1e-3;          // Adam learning rate of the critics
  double gamma = 0.99;              // discount
  double tau = 1e-3;                // soft-update rate of the targets
  int64_t batch_size = 256;         // rows per update when sampling through update()
  double grad_clip = 1.0;           // max gradient norm per network (<= 0: no clipping)
  double weight_decay = 0.0;        // Adam L2 penalty (both networks)
  bool shared_parameters = false;   // one actor + one critic for both agents, each from its own view
  bool layer_norm = false;          // LayerNorm after each actor hidden Linear
  bool batch_norm = false;          // BatchNorm1d after each critic hidden Linear
  bool twin_critics = false;        // MATD3: two critics per agent, target uses their minimum
  double target_noise = 0.0;        // MATD3: std of the target policy smoothing noise (0: off)
  double target_noise_clip = 0.5;   // MATD3: clip of that noise
  int64_t policy_delay = 1;         // MATD3: actor and target updates every policy_delay updates
  NoiseConfig noise;                // exploration noise for act()
  std::string device = "cpu";       // "cpu" | "cuda"
  std::string impl = "libtorch";    // "libtorch" | "fused" (CPU; no layer_norm / batch_norm) |
                                    // "graph" (device "cuda"; no batch_norm), same maths
  int threads = 0;                  // torch::set_num_threads at construction, and the most threads the fused
                                    // path uses (1 or this many, whichever measures faster: fused/
                                    // thread_chooser.h; 0: leave as is / LibTorch's count)
  uint64_t seed = 0;                // seeds init, exploration noise and target smoothing noise
};

// Throws std::invalid_argument naming the first bad field.
void validate(const MaddpgConfig& config);

// Averages over the updates of one call (actor fields over the updates that stepped the actors).
struct UpdateStats {
  int64_t updates = 0;           // updates run
  int64_t actor_updates = 0;     // of which updated actors and targets (policy_delay)
  double critic_loss = 0;        // critic MSE (sum of both twins' MSE with twin_critics)
  double actor_loss = 0;         // -Q(o, mu(o)) mean; NaN when actor_updates == 0
  double q_mean = 0;             // mean Q of the batch's (o, a) under the critic
  double critic_grad_norm = 0;   // gradient norm before clipping
  double actor_grad_norm = 0;    // NaN when actor_updates == 0
  double saturation = 0;         // share of policy actions with |a| > 0.99; NaN when actor_updates == 0
  std::vector<float> td_errors;  // |TD error| per row of the last batch, mean over agents (for PER)
};

// Where update(k, source) gets its batches: the replay buffer's adapter, a test's generator, ...
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Fills the arrays of `out` (allocated by the caller for out.size rows, weights and indices
  // included) with the next batch. May set out.weights / out.indices to null when it has none.
  virtual void next(BatchView& out) = 0;
  // The |TD errors| of the batch last filled (size rows), e.g. for prioritised replay. Default: ignored.
  virtual void feedback(const BatchView& batch, const float* td_errors) {}
  // The buffer next() samples uniformly from, when that is all it does (no filter, no priorities):
  // impl "graph" then mirrors its records on the device and samples there. Default: none.
  virtual const ReplayBuffer* uniform_buffer() const { return nullptr; }
};

// A BatchSource from callables (the feedback one optional).
class CallbackBatchSource : public BatchSource {
 public:
  using Next = std::function<void(BatchView&)>;
  using Feedback = std::function<void(const BatchView&, const float*)>;
  explicit CallbackBatchSource(Next next, Feedback feedback = {})
      : next_(std::move(next)), feedback_(std::move(feedback)) {}
  void next(BatchView& out) override { next_(out); }
  void feedback(const BatchView& batch, const float* td) override {
    if (feedback_) feedback_(batch, td);
  }

 private:
  Next next_;
  Feedback feedback_;
};

// One named parameter tensor in the flat layout.
struct ParameterInfo {
  std::string name;  // e.g. "agent0/actor/fc.0.weight", "shared/target_critic/out.bias"
  std::vector<int64_t> shape;
  int64_t offset = 0;  // into the flat vector
  int64_t numel = 0;
};

class Maddpg {
 public:
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
  // (LayerNorm back to the identity), copied into the target actors, Adam moments and step count zeroed. Critics, noise and the update
  // count stay (the trainer's stall remedy, train.stallEpisodes).
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
