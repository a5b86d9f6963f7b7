// Checkpoints of the learner (networks, targets, BatchNorm statistics, optimizer states, noise, RNG and
// counters) and the TorchScript export of an actor. Internal to the core; Maddpg's save, load and
// export_actor_torchscript call these.
#pragma once
#include <string>

#include "learner.h"

namespace tennis {

// One line per architecture field, "key=value", compared field by field on load.
std::string architecture_of(const MaddpgConfig& config);

// Writes the checkpoint. `counts_adam_steps`: the update path counts Adam steps in the groups (the
// archive keeps LibTorch's format, with the steps in the optimizers' states). Throws
// std::runtime_error naming the file when it cannot be written.
void save_checkpoint(Learner& learner, const ExplorationNoise& noise, bool counts_adam_steps, const std::string& path);
// Reads a checkpoint into the existing tensors (flat-buffer views stay intact). Throws
// std::invalid_argument for an unreadable file, another format or another architecture (naming
// what differs). Call UpdatePath::parameters_changed after.
void load_checkpoint(Learner& learner, ExplorationNoise& noise, const std::string& path);

// The actor of `agent` as TorchScript for Python's torch.jit.load (obs [N,24] -> actions [N,2]).
void export_actor(const Learner& learner, int agent, const std::string& path);

}  // namespace tennis
