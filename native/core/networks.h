// The MADDPG networks: a per-agent Actor (own obs -> tanh action) and a CentralCritic (all agents' obs
// and actions -> Q), built from config, initialised as in the DDPG paper (fan-in uniform hidden layers,
// +-3e-3 output layer), plus the TorchScript export of an actor.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "noise.h"

namespace tennis {

// Bound of the uniform init of output layers (DDPG paper, section 7).
constexpr double kOutputInitBound = 3e-3;

// obs -> [Linear -> (LayerNorm) -> ReLU] x hidden -> Linear -> tanh. Parameter names match the PyTorch
// reference (fc.<i>.weight, norms.<i>.weight, out.weight), so flat layouts agree name by name.
struct ActorImpl : torch::nn::Module {
  ActorImpl(int64_t obs_size, int64_t action_size, std::vector<int64_t> hidden, bool layer_norm);

  torch::Tensor forward(torch::Tensor obs);
  // Fan-in uniform for hidden layers, +-kOutputInitBound for the output layer, drawn from `rng`.
  void reset_parameters(Rng& rng);

  int64_t obs_size, action_size;
  std::vector<int64_t> hidden;
  bool layer_norm;
  std::vector<torch::nn::Linear> fc_layers;
  std::vector<torch::nn::LayerNorm> norm_layers;
  torch::nn::Linear out{nullptr};
};
TORCH_MODULE(Actor);

// [all obs, all actions] -> [Linear -> (BatchNorm1d) -> ReLU] x hidden -> Linear -> Q. The caller
// concatenates the input in the agent's view order.
struct CentralCriticImpl : torch::nn::Module {
  CentralCriticImpl(int64_t input_size, std::vector<int64_t> hidden, bool batch_norm);

  torch::Tensor forward(torch::Tensor input);
  void reset_parameters(Rng& rng);

  int64_t input_size;
  std::vector<int64_t> hidden;
  bool batch_norm;
  std::vector<torch::nn::Linear> fc_layers;
  std::vector<torch::nn::BatchNorm1d> norm_layers;
  torch::nn::Linear out{nullptr};
};
TORCH_MODULE(CentralCritic);

// Writes `actor` as a TorchScript module (obs [N, obs_size] -> actions [N, action_size]) that
// Python's torch.jit.load runs with the same outputs. The module is written by hand from a small
// TorchScript source (LibTorch C++ cannot trace), weights registered as parameters, on the CPU.
void export_actor_torchscript(const Actor& actor, const std::string& path);

}  // namespace tennis
