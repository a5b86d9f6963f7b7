// TorchScript policies: the written module computes clip((obs - mean) / std) then the actor, loads back
// with its extra files, and the loader names the file for everything it refuses.
#include <torch/script.h>
#include <torch/torch.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "check.h"
#include "export/torchscript_policy.h"

using namespace tennis;

namespace {

constexpr int64_t kIn = 4;
constexpr int64_t kHidden = 3;
constexpr int64_t kOut = 2;

std::string policy_temp_path(const std::string& name) {
  return "/tmp/tennis_torchscript_policy_test_" + std::to_string(::getpid()) + "_" + name;
}

std::vector<float> values(int64_t n, float scale, float shift) {
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = scale * std::sin(float(i) * 1.7f + shift);
  return out;
}

PolicySpec small_spec(bool obs_norm, bool layer_norm) {
  PolicySpec spec;
  PolicyLayer hidden{kIn, kHidden, values(kIn * kHidden, 0.8f, 0.1f), values(kHidden, 0.2f, 0.5f), {}, {}};
  if (layer_norm) {
    hidden.norm_weight = values(kHidden, 0.5f, 1.0f);
    hidden.norm_bias = values(kHidden, 0.1f, 2.0f);
  }
  spec.layers.push_back(hidden);
  spec.layers.push_back({kHidden, kOut, values(kHidden * kOut, 0.9f, 0.3f), values(kOut, 0.1f, 0.7f), {}, {}});
  if (obs_norm) spec.obs_norm = PolicyObsNorm{values(kIn, 1.0f, 0.2f), {0.5f, 2.0f, 1.0f, 0.25f}, 5.0};
  return spec;
}

// The spec's policy computed with plain tensor ops.
torch::Tensor reference(const PolicySpec& spec, torch::Tensor x) {
  auto t = [](const std::vector<float>& v, std::vector<int64_t> sizes) {
    return torch::from_blob(const_cast<float*>(v.data()), sizes, torch::kFloat32);
  };
  if (spec.obs_norm) {
    const auto& n = *spec.obs_norm;
    x = torch::clamp((x - t(n.mean, {kIn})) / t(n.std, {kIn}), -n.clip, n.clip);
  }
  for (size_t i = 0; i + 1 < spec.layers.size(); ++i) {
    const auto& l = spec.layers[i];
    x = torch::linear(x, t(l.weight, {l.outputs, l.inputs}), t(l.bias, {l.outputs}));
    if (!l.norm_weight.empty()) {
      x = torch::layer_norm(x, {l.outputs}, t(l.norm_weight, {l.outputs}), t(l.norm_bias, {l.outputs}));
    }
    x = torch::relu(x);
  }
  const auto& o = spec.layers.back();
  return torch::tanh(torch::linear(x, t(o.weight, {o.outputs, o.inputs}), t(o.bias, {o.outputs})));
}

// The message of the std::runtime_error `body` throws ("" when it throws none).
template <typename Body>
std::string runtime_error_of(Body&& body) {
  try {
    body();
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST(torchscript_policy_matches_reference_and_clips) {
  for (bool obs_norm : {false, true}) {
    for (bool layer_norm : {false, true}) {
      const PolicySpec spec = small_spec(obs_norm, layer_norm);
      const std::string path = policy_temp_path("policy.pt");
      save_torchscript_policy(spec, path, {{"meta.json", "{\"a\":1}"}});
      TorchScriptPolicy policy(path, kIn, kOut, {"meta.json", "absent.json"});
      std::remove(path.c_str());
      CHECK(policy.extra_file("meta.json").value_or("") == "{\"a\":1}");
      CHECK(!policy.extra_file("absent.json").has_value());
      // Rows far out (x 40) reach the clip.
      const int64_t rows = 6;
      std::vector<float> obs = values(rows * kIn, 3.0f, 0.9f);
      for (int64_t i = 0; i < kIn; ++i) obs[size_t(kIn + i)] *= 40.f;
      std::vector<float> actions(size_t(rows * kOut));
      policy.act(obs.data(), rows, actions.data());
      const auto expected = reference(spec, torch::from_blob(obs.data(), {rows, kIn}, torch::kFloat32)).contiguous();
      for (int64_t k = 0; k < rows * kOut; ++k) CHECK_NEAR(actions[size_t(k)], expected.data_ptr<float>()[k], 1e-6);
    }
  }
}

TEST(torchscript_policy_rejects_bad_specs) {
  PolicySpec spec = small_spec(true, false);
  spec.layers[1].inputs = 5;
  CHECK_THROWS(torchscript_policy_module(spec), std::invalid_argument);
  spec = small_spec(true, false);
  spec.obs_norm->std[2] = 0.f;
  CHECK_THROWS(torchscript_policy_module(spec), std::invalid_argument);
  spec = small_spec(false, false);
  spec.layers[0].bias.pop_back();
  CHECK_THROWS(torchscript_policy_module(spec), std::invalid_argument);
  CHECK_THROWS(torchscript_policy_module(PolicySpec{}), std::invalid_argument);
  CHECK(contains(runtime_error_of([&] { save_torchscript_policy(small_spec(false, false), "/no/such/dir/p.pt", {}); }),
                 "/no/such/dir/p.pt"));
}

TEST(torchscript_policy_loader_names_the_file) {
  const std::string missing = policy_temp_path("missing.pt");
  CHECK(contains(runtime_error_of([&] { TorchScriptPolicy(missing, kIn, kOut); }), missing + " does not exist"));

  const std::string text = policy_temp_path("text.pt");
  std::ofstream(text) << "not a module";
  CHECK(contains(runtime_error_of([&] { TorchScriptPolicy(text, kIn, kOut); }), text + " is not a TorchScript file"));
  std::remove(text.c_str());

  const std::string policy = policy_temp_path("shapes.pt");
  save_torchscript_policy(small_spec(false, false), policy, {});
  // Wrong observation width: the module's first Linear refuses it.
  CHECK(contains(runtime_error_of([&] { TorchScriptPolicy(policy, kIn + 1, kOut); }), "does not run as a policy"));
  // Wrong action width.
  CHECK(contains(runtime_error_of([&] { TorchScriptPolicy(policy, kIn, kOut + 1); }), "it returned Float [2, 2]"));
  std::remove(policy.c_str());

  // A module whose forward returns no tensor.
  torch::jit::Module other("Other");
  other.define("def forward(self, obs: Tensor) -> int:\n    return 3\n");
  const std::string other_path = policy_temp_path("other.pt");
  other.save(other_path);
  CHECK(contains(runtime_error_of([&] { TorchScriptPolicy(other_path, kIn, kOut); }), "forward returned Int"));
  std::remove(other_path.c_str());
}
