// Actor and CentralCritic modules, their init, and the hand-written TorchScript export of an actor.
#include "networks.h"

#include <torch/script.h>

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace tennis {
namespace {

// Fills `param` with U(-bound, bound) drawn from `rng` (row-major order), without recording grad.
void fill_uniform(torch::Tensor param, double bound, Rng& rng) {
  std::vector<float> values(size_t(param.numel()));
  for (auto& v : values) v = float(rng.uniform(-bound, bound));
  torch::NoGradGuard no_grad;
  param.copy_(torch::from_blob(values.data(), param.sizes(), torch::kFloat32));
}

void check_sizes(const std::vector<int64_t>& hidden, const char* what) {
  if (hidden.empty()) throw std::invalid_argument(std::string(what) + " hidden sizes must not be empty");
  for (int64_t h : hidden) {
    if (h < 1) throw std::invalid_argument(std::string(what) + " hidden sizes must be >= 1, got " + std::to_string(h));
  }
}

void init_linear(torch::nn::Linear& layer, double bound, Rng& rng) {
  fill_uniform(layer->weight, bound, rng);
  fill_uniform(layer->bias, bound, rng);
}

}  // namespace

ActorImpl::ActorImpl(int64_t obs_size_, int64_t action_size_, std::vector<int64_t> hidden_, bool layer_norm_)
    : obs_size(obs_size_), action_size(action_size_), hidden(std::move(hidden_)), layer_norm(layer_norm_) {
  check_sizes(hidden, "actor");
  torch::nn::ModuleList fc, norms;
  int64_t in = obs_size;
  for (int64_t h : hidden) {
    fc_layers.emplace_back(torch::nn::Linear(in, h));
    fc->push_back(fc_layers.back());
    if (layer_norm) {
      norm_layers.emplace_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({h})));
      norms->push_back(norm_layers.back());
    }
    in = h;
  }
  register_module("fc", fc);
  register_module("norms", norms);
  out = register_module("out", torch::nn::Linear(in, action_size));
}

torch::Tensor ActorImpl::forward(torch::Tensor x) {
  for (size_t i = 0; i < fc_layers.size(); ++i) {
    x = fc_layers[i](x);
    if (layer_norm) x = norm_layers[i](x);
    x = torch::relu(x);
  }
  return torch::tanh(out(x));
}

void ActorImpl::reset_parameters(Rng& rng) {
  for (auto& layer : fc_layers) init_linear(layer, 1.0 / std::sqrt(double(layer->options.in_features())), rng);
  init_linear(out, kOutputInitBound, rng);
  // LayerNorm starts as the identity (what its constructor sets; a restart must undo training).
  torch::NoGradGuard no_grad;
  for (auto& norm : norm_layers) {
    norm->weight.fill_(1.f);
    norm->bias.fill_(0.f);
  }
}

CentralCriticImpl::CentralCriticImpl(int64_t input_size_, std::vector<int64_t> hidden_, bool batch_norm_)
    : input_size(input_size_), hidden(std::move(hidden_)), batch_norm(batch_norm_) {
  check_sizes(hidden, "critic");
  torch::nn::ModuleList fc, norms;
  int64_t in = input_size;
  for (int64_t h : hidden) {
    fc_layers.emplace_back(torch::nn::Linear(in, h));
    fc->push_back(fc_layers.back());
    if (batch_norm) {
      norm_layers.emplace_back(torch::nn::BatchNorm1d(h));
      norms->push_back(norm_layers.back());
    }
    in = h;
  }
  register_module("fc", fc);
  register_module("norms", norms);
  out = register_module("out", torch::nn::Linear(in, 1));
}

torch::Tensor CentralCriticImpl::forward(torch::Tensor x) {
  for (size_t i = 0; i < fc_layers.size(); ++i) {
    x = fc_layers[i](x);
    if (batch_norm) x = norm_layers[i](x);
    x = torch::relu(x);
  }
  return out(x);
}

void CentralCriticImpl::reset_parameters(Rng& rng) {
  for (auto& layer : fc_layers) init_linear(layer, 1.0 / std::sqrt(double(layer->options.in_features())), rng);
  init_linear(out, kOutputInitBound, rng);
}

void export_actor_torchscript(const Actor& actor, const std::string& path) {
  torch::NoGradGuard no_grad;
  torch::jit::Module module("TennisActor");
  std::ostringstream src;
  src << "def forward(self, obs: Tensor) -> Tensor:\n";
  src << "    x = obs\n";
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    module.register_parameter(name, t.detach().to(torch::kCPU).clone(), /*is_buffer=*/false);
  };
  for (size_t i = 0; i < actor->fc_layers.size(); ++i) {
    const std::string fc = "fc_" + std::to_string(i);
    add(fc + "_weight", actor->fc_layers[i]->weight);
    add(fc + "_bias", actor->fc_layers[i]->bias);
    src << "    x = torch.linear(x, self." << fc << "_weight, self." << fc << "_bias)\n";
    if (actor->layer_norm) {
      const std::string ln = "norm_" + std::to_string(i);
      const auto& opts = actor->norm_layers[i]->options;
      add(ln + "_weight", actor->norm_layers[i]->weight);
      add(ln + "_bias", actor->norm_layers[i]->bias);
      std::ostringstream eps;
      eps.precision(17);
      eps << opts.eps();
      src << "    x = torch.layer_norm(x, [" << actor->hidden[i] << "], self." << ln << "_weight, self." << ln
          << "_bias, " << eps.str() << ")\n";
    }
    src << "    x = torch.relu(x)\n";
  }
  add("out_weight", actor->out->weight);
  add("out_bias", actor->out->bias);
  src << "    return torch.tanh(torch.linear(x, self.out_weight, self.out_bias))\n";
  module.define(src.str());
  module.eval();
  module.save(path);
}

}  // namespace tennis
