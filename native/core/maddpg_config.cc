// MaddpgConfig's checks.
#include "maddpg_config.h"

#include <cmath>
#include <stdexcept>

namespace tennis {
namespace {

std::string join(const std::vector<int64_t>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + std::to_string(values[i]);
  return out;
}

}  // namespace

void validate(const MaddpgConfig& c) {
  auto fail = [](const std::string& field, const std::string& expected, const std::string& got) {
    throw std::invalid_argument(field + " must be " + expected + ", got " + got);
  };
  auto check_hidden = [&](const std::vector<int64_t>& hidden, const char* field) {
    if (hidden.empty()) fail(field, "a non-empty list of layer widths", "[]");
    for (int64_t h : hidden) {
      if (h < 1 || h > 65536) fail(field, "widths in [1, 65536]", "[" + join(hidden) + "]");
    }
  };
  auto in_range = [&](double v, double lo, double hi, const char* field) {
    if (!(v >= lo && v <= hi))
      fail(field, "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", std::to_string(v));
  };
  check_hidden(c.actor_hidden, "actor_hidden");
  check_hidden(c.critic_hidden, "critic_hidden");
  if (!(c.lr_actor > 0 && std::isfinite(c.lr_actor))) fail("lr_actor", "> 0", std::to_string(c.lr_actor));
  if (!(c.lr_critic > 0 && std::isfinite(c.lr_critic))) fail("lr_critic", "> 0", std::to_string(c.lr_critic));
  in_range(c.gamma, 0, 1, "gamma");
  in_range(c.tau, 0, 1, "tau");
  if (c.batch_size < 1) fail("batch_size", ">= 1", std::to_string(c.batch_size));
  if (!std::isfinite(c.grad_clip)) fail("grad_clip", "finite", std::to_string(c.grad_clip));
  if (!(c.weight_decay >= 0 && std::isfinite(c.weight_decay))) {
    fail("weight_decay", ">= 0", std::to_string(c.weight_decay));
  }
  if (!(c.target_noise >= 0 && std::isfinite(c.target_noise))) {
    fail("target_noise", ">= 0", std::to_string(c.target_noise));
  }
  if (!(c.target_noise_clip >= 0 && std::isfinite(c.target_noise_clip))) {
    fail("target_noise_clip", ">= 0", std::to_string(c.target_noise_clip));
  }
  if (c.policy_delay < 1) fail("policy_delay", ">= 1", std::to_string(c.policy_delay));
  validate_noise_config(c.noise, "noise.");
  if (c.device != "cpu" && c.device != "cuda") fail("device", "\"cpu\" or \"cuda\"", "\"" + c.device + "\"");
  if (c.impl != "libtorch" && c.impl != "fused" && c.impl != "graph") {
    fail("impl", "\"libtorch\", \"fused\" or \"graph\"", "\"" + c.impl + "\"");
  }
  if (c.impl == "fused") {
    auto unsupported = [](const std::string& what) {
      throw std::invalid_argument("impl \"fused\" does not support " + what + "; use impl \"libtorch\" for it");
    };
    if (c.layer_norm) unsupported("layer_norm (LayerNorm in the actors)");
    if (c.batch_norm) unsupported("batch_norm (BatchNorm1d in the critics)");
    if (c.device != "cpu") unsupported("device \"" + c.device + "\" (it runs on the CPU)");
  }
  if (c.impl == "graph") {
    if (c.device != "cuda") {
      throw std::invalid_argument("impl \"graph\" runs on device \"cuda\", got device \"" + c.device +
                                  "\"; use impl \"fused\" or \"libtorch\" on the CPU");
    }
    if (c.batch_norm) {
      throw std::invalid_argument("impl \"graph\" does not support batch_norm (BatchNorm1d in the critics); use impl "
                                  "\"libtorch\" for it");
    }
  }
  if (c.threads < 0 || c.threads > 256) fail("threads", "in [0, 256]", std::to_string(c.threads));
}

}  // namespace tennis
