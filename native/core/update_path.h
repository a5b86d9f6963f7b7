// One implementation of the MADDPG/MATD3 update on the learner's networks and flat buffers
// (learner.h). Maddpg picks one at construction from MaddpgConfig::impl:
//   "libtorch"  libtorch_path.cc     LibTorch ops, autograd and LibTorch's Adam
//   "fused"     fused_path.cc        hand-derived gradients and fused kernels on the flat buffers
//                                    (fused/engine.h), on the CPU
//   "graph"     graph/graph_path.cc  device-only tensor ops replayed from CUDA graphs, sampling from a
//                                    device mirror of the replay buffer
// All of them run the same maths on the same state, so each resumes the others' checkpoints.
#pragma once
#include <cstdint>
#include <memory>

#include "batch.h"
#include "batch_source.h"
#include "update_stats.h"

namespace tennis {

struct Learner;

class UpdatePath {
 public:
  virtual ~UpdatePath() = default;

  // One update of every agent from a checked batch (finite values, weights >= 0 when given).
  // `noise`: standard-normal draws [rows][agents][2] of the MATD3 target smoothing, given exactly when
  // target_noise > 0. `actor_step`: also step the actors and soft-update the targets (policy delay).
  virtual UpdateStats update_batch(const BatchView& batch, const float* noise, bool actor_step) = 0;
  // k updates drawing their own batches from what `source` offers, when this path can (impl "graph"
  // from a uniform buffer): fills `stats` and returns true. False: the caller runs k update_batch
  // calls on the source's batches.
  virtual bool update_sampled(int64_t k, BatchSource& source, UpdateStats& stats) = 0;
  // Greedy actions [n][agents][2] of the online actors for obs [n][agents][24].
  virtual void act(const float* obs, int64_t n, float* actions) = 0;
  // Called after parameters, targets or Adam states changed outside an update (set_parameters,
  // reset_actors, load).
  virtual void parameters_changed() = 0;
  // True when the path steps Adam itself and counts the steps in the learner's groups; false when
  // LibTorch's optimizers count them in their states.
  virtual bool counts_adam_steps() const = 0;
};

// The paths, each in its own file. The graph path throws std::invalid_argument in a build without
// CUDA graphs.
std::unique_ptr<UpdatePath> make_libtorch_path(Learner& learner);
std::unique_ptr<UpdatePath> make_fused_path(Learner& learner);
std::unique_ptr<UpdatePath> make_graph_path(Learner& learner);

}  // namespace tennis
