// TorchScript policies: the module written from a PolicySpec (TorchScript source plus registered weights,
// since LibTorch C++ cannot trace), and the loader that checks a file's shapes before playing it.
#include "export/torchscript_policy.h"

#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace tennis {
namespace {

// One line on what LibTorch raised: the first line of a c10::Error without its C++ backtrace, or the
// last line of an interpreter error (its TorchScript traceback comes first, the Python-style error last).
std::string error_summary(const std::exception& error) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&error)) {
    const std::string what = c10_error->what_without_backtrace();
    return what.substr(0, what.find('\n'));
  }
  std::string what = error.what();
  while (!what.empty() && what.back() == '\n') what.pop_back();
  const size_t last = what.rfind('\n');
  return last == std::string::npos ? what : what.substr(last + 1);
}

std::string shape_text(c10::IntArrayRef sizes) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < sizes.size(); ++i) os << (i ? ", " : "") << sizes[i];
  os << "]";
  return os.str();
}

// A float literal that TorchScript parses back to the same double.
std::string float_literal(double value) {
  std::ostringstream os;
  os.precision(17);
  os << value;
  std::string text = os.str();
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

torch::Tensor tensor_of(const std::vector<float>& values, std::vector<int64_t> sizes) {
  return torch::from_blob(const_cast<float*>(values.data()), sizes, torch::kFloat32).clone();
}

void check_spec(const PolicySpec& spec) {
  if (spec.layers.empty()) throw std::invalid_argument("layers must not be empty");
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const PolicyLayer& layer = spec.layers[i];
    const std::string name = "layers[" + std::to_string(i) + "]";
    if (layer.inputs < 1 || layer.outputs < 1) {
      throw std::invalid_argument(name + " must have inputs and outputs >= 1, got " + std::to_string(layer.inputs) +
                                  " and " + std::to_string(layer.outputs));
    }
    if (i > 0 && layer.inputs != spec.layers[i - 1].outputs) {
      throw std::invalid_argument(name + ".inputs must be layers[" + std::to_string(i - 1) + "].outputs = " +
                                  std::to_string(spec.layers[i - 1].outputs) + ", got " + std::to_string(layer.inputs));
    }
    if (int64_t(layer.weight.size()) != layer.inputs * layer.outputs) {
      throw std::invalid_argument(name +
                                  ".weight must have outputs*inputs = " + std::to_string(layer.inputs * layer.outputs) +
                                  " floats, got " + std::to_string(layer.weight.size()));
    }
    if (int64_t(layer.bias.size()) != layer.outputs) {
      throw std::invalid_argument(name + ".bias must have outputs = " + std::to_string(layer.outputs) +
                                  " floats, got " + std::to_string(layer.bias.size()));
    }
    const bool norm = !layer.norm_weight.empty() || !layer.norm_bias.empty();
    if (norm && i + 1 == spec.layers.size()) throw std::invalid_argument(name + " (the output layer) has no LayerNorm");
    if (norm &&
        (int64_t(layer.norm_weight.size()) != layer.outputs || int64_t(layer.norm_bias.size()) != layer.outputs)) {
      throw std::invalid_argument(name +
                                  " LayerNorm weight and bias must have outputs = " + std::to_string(layer.outputs) +
                                  " floats each, got " + std::to_string(layer.norm_weight.size()) + " and " +
                                  std::to_string(layer.norm_bias.size()));
    }
  }
  if (spec.obs_norm) {
    const PolicyObsNorm& norm = *spec.obs_norm;
    const size_t inputs = size_t(spec.layers[0].inputs);
    if (norm.mean.size() != inputs || norm.std.size() != inputs) {
      throw std::invalid_argument("obsNorm mean and std must have layers[0].inputs = " + std::to_string(inputs) +
                                  " floats each, got " + std::to_string(norm.mean.size()) + " and " +
                                  std::to_string(norm.std.size()));
    }
    for (size_t j = 0; j < inputs; ++j) {
      if (!std::isfinite(norm.mean[j]))
        throw std::invalid_argument("obsNorm.mean[" + std::to_string(j) + "] must be finite");
      if (!(norm.std[j] > 0.f) || !std::isfinite(norm.std[j])) {
        throw std::invalid_argument("obsNorm.std[" + std::to_string(j) + "] must be finite and > 0, got " +
                                    std::to_string(norm.std[j]));
      }
    }
    if (!(norm.clip > 0.0) || !std::isfinite(norm.clip)) {
      throw std::invalid_argument("obsNorm.clip must be finite and > 0, got " + std::to_string(norm.clip));
    }
  }
}

}  // namespace

torch::jit::Module torchscript_policy_module(const PolicySpec& spec) {
  check_spec(spec);
  torch::NoGradGuard no_grad;
  torch::jit::Module module("TennisPolicy");
  std::ostringstream src;
  src << "def forward(self, obs: Tensor) -> Tensor:\n";
  src << "    x = obs\n";
  if (spec.obs_norm) {
    const int64_t inputs = spec.layers[0].inputs;
    module.register_buffer("obs_mean", tensor_of(spec.obs_norm->mean, {inputs}));
    module.register_buffer("obs_std", tensor_of(spec.obs_norm->std, {inputs}));
    module.register_attribute("obs_clip", c10::FloatType::get(), spec.obs_norm->clip);
    src << "    x = torch.clamp((x - self.obs_mean) / self.obs_std, -self.obs_clip, self.obs_clip)\n";
  }
  // The actors' LayerNorm keeps LibTorch's default epsilon (native/core/networks.cc).
  const double layer_norm_eps = torch::nn::LayerNormOptions({1}).eps();
  auto add = [&](const std::string& name, const std::vector<float>& values, std::vector<int64_t> sizes) {
    module.register_parameter(name, tensor_of(values, std::move(sizes)), /*is_buffer=*/false);
  };
  const size_t hidden = spec.layers.size() - 1;
  for (size_t i = 0; i < hidden; ++i) {
    const PolicyLayer& layer = spec.layers[i];
    const std::string fc = "fc_" + std::to_string(i);
    add(fc + "_weight", layer.weight, {layer.outputs, layer.inputs});
    add(fc + "_bias", layer.bias, {layer.outputs});
    src << "    x = torch.linear(x, self." << fc << "_weight, self." << fc << "_bias)\n";
    if (!layer.norm_weight.empty()) {
      const std::string ln = "norm_" + std::to_string(i);
      add(ln + "_weight", layer.norm_weight, {layer.outputs});
      add(ln + "_bias", layer.norm_bias, {layer.outputs});
      src << "    x = torch.layer_norm(x, [" << layer.outputs << "], self." << ln << "_weight, self." << ln << "_bias, "
          << float_literal(layer_norm_eps) << ")\n";
    }
    src << "    x = torch.relu(x)\n";
  }
  const PolicyLayer& out = spec.layers.back();
  add("out_weight", out.weight, {out.outputs, out.inputs});
  add("out_bias", out.bias, {out.outputs});
  src << "    return torch.tanh(torch.linear(x, self.out_weight, self.out_bias))\n";
  module.define(src.str());
  module.eval();
  return module;
}

void save_torchscript_policy(const PolicySpec& spec, const std::string& path, const PolicyExtraFiles& extra_files) {
  torch::jit::Module module = torchscript_policy_module(spec);
  try {
    module.save(path, extra_files);
  } catch (const std::exception& error) {
    throw std::runtime_error("cannot write the TorchScript file " + path + ": " + error_summary(error));
  }
}

TorchScriptPolicy::TorchScriptPolicy(const std::string& path, int64_t obs_size, int64_t action_size,
                                     const std::vector<std::string>& extra_file_names)
    : path_(path), obs_size_(obs_size), action_size_(action_size) {
  if (obs_size < 1 || action_size < 1) throw std::invalid_argument("obs_size and action_size must be >= 1");
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw std::runtime_error("TorchScript file " + path + " does not exist");
  if (std::filesystem::is_directory(path, ec)) {
    throw std::runtime_error("TorchScript file " + path + " is a directory, not a file");
  }
  for (const auto& name : extra_file_names) extra_files_[name] = "";
  try {
    module_ = torch::jit::load(path, torch::kCPU, extra_files_);
  } catch (const std::exception& error) {
    throw std::runtime_error(path + " is not a TorchScript file (torch::jit::load: " + error_summary(error) + ")");
  }
  if (!module_.find_method("forward")) throw std::runtime_error("TorchScript file " + path + " has no forward method");
  module_.eval();
  // Two rows, so that an output without the batch dimension is caught.
  const int64_t probe_rows = 2;
  const torch::Tensor actions = forward(torch::zeros({probe_rows, obs_size_}));
  (void)actions;
}

torch::Tensor TorchScriptPolicy::forward(const torch::Tensor& obs) {
  const int64_t rows = obs.size(0);
  const std::string expected = "forward(obs [N, " + std::to_string(obs_size_) + "] float32) -> actions [N, " +
                               std::to_string(action_size_) + "] float32";
  c10::IValue out;
  try {
    torch::InferenceMode inference;
    out = module_.forward({obs});
  } catch (const std::exception& error) {
    throw std::runtime_error("TorchScript file " + path_ + " does not run as a policy " + expected + ": " +
                             error_summary(error));
  }
  if (!out.isTensor()) {
    throw std::runtime_error("TorchScript file " + path_ + " is not a policy " + expected + ": forward returned " +
                             out.tagKind() + ", not a tensor");
  }
  torch::Tensor actions = out.toTensor();
  if (actions.scalar_type() != torch::kFloat32 || actions.dim() != 2 || actions.size(0) != rows ||
      actions.size(1) != action_size_) {
    throw std::runtime_error("TorchScript file " + path_ + " is not a policy " + expected + ": on obs [" +
                             std::to_string(rows) + ", " + std::to_string(obs_size_) + "] it returned " +
                             std::string(c10::toString(actions.scalar_type())) + " " + shape_text(actions.sizes()));
  }
  return actions.contiguous();
}

void TorchScriptPolicy::act(const float* obs, int64_t rows, float* actions) {
  if (rows < 1) throw std::invalid_argument("rows must be >= 1, got " + std::to_string(rows));
  const torch::Tensor input = torch::from_blob(const_cast<float*>(obs), {rows, obs_size_}, torch::kFloat32);
  const torch::Tensor out = forward(input);
  std::memcpy(actions, out.data_ptr<float>(), size_t(rows * action_size_) * sizeof(float));
}

std::optional<std::string> TorchScriptPolicy::extra_file(const std::string& name) const {
  const auto it = extra_files_.find(name);
  if (it == extra_files_.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

}  // namespace tennis
