// A greedy policy as a TorchScript file: written from plain layer data (observation normalisation with its
// clip, [Linear (LayerNorm) ReLU]..., Linear tanh) for Python's torch.jit.load, and loaded back to act on
// batches of observations, checked to take [N, obs_size] and return [N, action_size].
#pragma once
#include <torch/script.h>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace tennis {

// One Linear layer (weight [outputs][inputs], row-major, as LibTorch stores it) and the LayerNorm after
// it (norm_weight and norm_bias of `outputs` floats each, or both empty for none).
struct PolicyLayer {
  int64_t inputs = 0;
  int64_t outputs = 0;
  std::vector<float> weight;
  std::vector<float> bias;
  std::vector<float> norm_weight;
  std::vector<float> norm_bias;
};

// clamp((obs - mean) / std, -clip, clip) per slot, as the trainer normalises observations.
struct PolicyObsNorm {
  std::vector<float> mean;
  std::vector<float> std;
  double clip = 0.0;
};

// obs -> (normalisation) -> [Linear -> (LayerNorm) -> ReLU] x (layers - 1) -> Linear -> tanh.
struct PolicySpec {
  std::vector<PolicyLayer> layers;
  std::optional<PolicyObsNorm> obs_norm;
};

// Named text files stored beside the module (torch.jit.load's `_extra_files` in Python).
using PolicyExtraFiles = std::unordered_map<std::string, std::string>;

// The module of `spec` (forward(obs [N, inputs]) -> actions [N, outputs]): parameters for the layers,
// buffers obs_mean and obs_std and the float attribute obs_clip for the normalisation. Throws
// std::invalid_argument naming the field when the layers do not chain or a size is wrong.
torch::jit::Module torchscript_policy_module(const PolicySpec& spec);

// Writes torchscript_policy_module(spec) to `path` with `extra_files`; throws std::runtime_error naming
// the file when it cannot be written.
void save_torchscript_policy(const PolicySpec& spec, const std::string& path, const PolicyExtraFiles& extra_files);

// A TorchScript policy loaded from a file, on the CPU, run without autograd.
class TorchScriptPolicy {
 public:
  // Loads `path` and runs forward once on zeros [1, obs_size]; throws std::runtime_error naming the file
  // when it is missing, is not a TorchScript module, has no forward, or does not map [N, obs_size] floats
  // to [N, action_size] floats. `extra_file_names` are read when present (see extra_file()).
  TorchScriptPolicy(const std::string& path, int64_t obs_size, int64_t action_size,
                    const std::vector<std::string>& extra_file_names = {});

  // actions[rows][action_size] = forward(obs[rows][obs_size]); `obs` is read in place (no copy). Throws
  // std::invalid_argument for rows < 1, std::runtime_error naming the file for an output of another shape.
  void act(const float* obs, int64_t rows, float* actions);

  // The content of a stored extra file asked for at load, or nullopt when the file has none.
  std::optional<std::string> extra_file(const std::string& name) const;

  const std::string& path() const { return path_; }
  int64_t obs_size() const { return obs_size_; }
  int64_t action_size() const { return action_size_; }

 private:
  torch::Tensor forward(const torch::Tensor& obs);

  std::string path_;
  int64_t obs_size_;
  int64_t action_size_;
  torch::jit::Module module_;
  PolicyExtraFiles extra_files_;
};

}  // namespace tennis
