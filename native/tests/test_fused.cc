// The fused update (impl "fused", native/core/fused/): its hand-derived MLP gradients against
// autograd, and the whole update against the LibTorch path (same init, batches and smoothing noise)
// for every option it supports, within the tolerance below; the same bits on every kernel level and
// thread count; checkpoints cross between the two implementations; and the "graph" update (CUDA)
// against the LibTorch path where a device is present. The kernels alone: test_kernels.cc.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>

// LibTorch (c10) defines CHECK macros of its own; the harness's are the ones meant here.
#undef CHECK
#undef CHECK_NEAR
#include "check.h"
#include "common/learner_config.h"
#include "fused/kernels.h"
#include "fused/mlp.h"
#include "kernel_levels.h"
#include "maddpg.h"
#include "parity.h"
#include "replay_source.h"

namespace {

using tennis::BatchView;
using tennis::kActionSize;
using tennis::kAgents;
using tennis::kObsSize;
using tennis::Maddpg;
using tennis::MaddpgConfig;
using tennis::testing::kParityTolerance;
using tennis::testing::update_difference;

// Floats per row of the joint arrays.
constexpr int64_t kJointObs = kAgents * kObsSize;
constexpr int64_t kJointAction = kAgents * kActionSize;

std::vector<float> uniform(int64_t n, tennis::Rng& rng, double lo = -1, double hi = 1) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = float(rng.uniform(lo, hi));
  return v;
}

// A random joint batch (with importance weights and MATD3 noise draws) that owns its arrays.
struct Batch {
  std::vector<float> obs, actions, rewards, next_obs, dones, weights, noise;
  int64_t size;

  Batch(int64_t rows, tennis::Rng& rng) : size(rows) {
    obs = uniform(rows * kJointObs, rng);
    actions = uniform(rows * kJointAction, rng);
    rewards = uniform(rows * kAgents, rng, -0.1, 0.1);
    next_obs = uniform(rows * kJointObs, rng);
    dones.resize(size_t(rows * kAgents));
    for (auto& d : dones) d = rng.uniform() < 0.1 ? 1.f : 0.f;
    weights = uniform(rows, rng, 0.2, 1.5);
    noise.resize(size_t(rows * kJointAction));
    for (auto& e : noise) e = float(rng.normal());
  }

  BatchView view(bool with_weights) {
    return BatchView{size,
                     obs.data(),
                     actions.data(),
                     rewards.data(),
                     next_obs.data(),
                     dones.data(),
                     with_weights ? weights.data() : nullptr,
                     nullptr};
  }
};

MaddpgConfig base_config(const std::string& impl) {
  MaddpgConfig c = learner_config::base_maddpg();
  c.actor_hidden = {64, 32};
  c.critic_hidden = {64, 48};
  c.lr_actor = 1e-3;
  c.tau = 0.01;
  c.weight_decay = 1e-5;
  c.batch_size = 37;  // not a multiple of any tile size
  c.seed = 4;
  c.threads = 1;
  c.impl = impl;
  return c;
}

bool close(double a, double b, double tol) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::fabs(a - b) <= tol * std::max(1.0, std::fabs(b));
}

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/tennis_fused_test_" + std::to_string(::getpid()) + "_" + name;
}

std::string thrown_message(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(fused_mlp_gradients_match_autograd) {
  using namespace tennis::fused;
  tennis::Rng rng(9);
  for (bool tanh_out : {false, true}) {
    const int64_t rows = 29, input = 52, output = tanh_out ? 2 : 1;
    const std::vector<int64_t> hidden{24, 19};
    const MlpLayout net(input, hidden, output, /*offset=*/5);  // a net that starts inside a bigger buffer
    auto flat = uniform(net.offset + net.numel, rng, -0.3, 0.3);
    std::vector<float> packed(flat.size());
    pack_transposed(net, flat.data(), packed.data());
    const auto x = uniform(rows * input, rng);
    const auto upstream = uniform(rows * output, rng);  // dLoss/d(output)
    std::vector<float> out(size_t(rows * output));
    MlpActivations kept;
    mlp_forward(net, flat.data(), packed.data(), rows, x.data(), input, out.data(), output, kept, 1);
    // dLoss/d(pre-activation) = upstream * tanh'.
    std::vector<float> d_out(upstream);
    if (tanh_out) {
      for (auto& o : out) o = std::tanh(o);
      tanh_backward(int64_t(d_out.size()), d_out.data(), out.data());
    }
    std::vector<float> grad(flat.size(), 0.f), d_x(size_t(rows * 3));
    MlpScratch scratch;
    mlp_backward(net, flat.data(), rows, x.data(), input, kept, d_out.data(), grad.data(), d_x.data(), 3, 48, 51,
                 scratch, 1);

    // The same network with LibTorch autograd.
    std::vector<torch::Tensor> weights, biases;
    for (const auto& d : net.layers) {
      weights.push_back(torch::from_blob(flat.data() + d.weight, {d.out, d.in}).clone().requires_grad_(true));
      biases.push_back(torch::from_blob(flat.data() + d.bias, {d.out}).clone().requires_grad_(true));
    }
    auto xt = torch::from_blob(const_cast<float*>(x.data()), {rows, input}).clone().requires_grad_(true);
    auto h = xt;
    for (size_t l = 0; l < weights.size(); ++l) {
      h = torch::nn::functional::linear(h, weights[l], biases[l]);
      if (l + 1 < weights.size()) h = torch::relu(h);
    }
    if (tanh_out) h = torch::tanh(h);
    const auto up = torch::from_blob(const_cast<float*>(upstream.data()), {rows, output}).clone();
    (h * up).sum().backward();

    const auto out_t = h.detach().contiguous();
    for (int64_t k = 0; k < rows * output; ++k) CHECK_NEAR(out[size_t(k)], out_t.data_ptr<float>()[k], 1e-5);
    auto expect_same = [&](const float* got, const torch::Tensor& want, const char* what, size_t layer) {
      const auto w = want.contiguous();
      double scale = 0, diff = 0;
      for (int64_t k = 0; k < w.numel(); ++k) {
        scale = std::max(scale, std::fabs(double(w.data_ptr<float>()[k])));
        diff = std::max(diff, std::fabs(double(got[k]) - w.data_ptr<float>()[k]));
      }
      CHECK_MSG(diff <= 1e-5 * std::max(scale, 1e-3),
                what << " of layer " << layer << " differs by " << diff << " (scale " << scale << ")");
    };
    for (size_t l = 0; l < net.layers.size(); ++l) {
      expect_same(grad.data() + net.layers[l].weight, weights[l].grad(), "weight gradient", l);
      expect_same(grad.data() + net.layers[l].bias, biases[l].grad(), "bias gradient", l);
    }
    expect_same(d_x.data(), xt.grad().narrow(1, 48, 3), "input gradient", 0);
    // Nothing outside the net's slice of the gradient buffer is written.
    for (int64_t k = 0; k < net.offset; ++k) CHECK(grad[size_t(k)] == 0.f);
  }
}

TEST(fused_rejects_what_it_does_not_support) {
  auto message_for = [](void (*change)(MaddpgConfig&)) {
    MaddpgConfig c = base_config("fused");
    change(c);
    return thrown_message([&] { Maddpg m(c); });
  };
  CHECK(message_for([](MaddpgConfig& c) { c.layer_norm = true; }) ==
        "impl \"fused\" does not support layer_norm (LayerNorm in the actors); use impl \"libtorch\" for it");
  CHECK(message_for([](MaddpgConfig& c) { c.batch_norm = true; }) ==
        "impl \"fused\" does not support batch_norm (BatchNorm1d in the critics); use impl \"libtorch\" for it");
  CHECK(message_for([](MaddpgConfig& c) { c.device = "cuda"; }) ==
        "impl \"fused\" does not support device \"cuda\" (it runs on the CPU); use impl \"libtorch\" for it");
  CHECK(message_for([](MaddpgConfig& c) { c.impl = "turbo"; }) ==
        "impl must be \"libtorch\", \"fused\" or \"graph\", got \"turbo\"");
}

// The stats of one update of two implementations agree to tol (relative), and so do their row counts.
static void expect_close_stats(const tennis::UpdateStats& b, const tennis::UpdateStats& a, double tol,
                               const char* label) {
  CHECK(a.actor_updates == b.actor_updates);
  CHECK_MSG(close(b.critic_loss, a.critic_loss, tol),
            label << " critic_loss " << b.critic_loss << " vs " << a.critic_loss);
  CHECK_MSG(close(b.q_mean, a.q_mean, tol), label << " q_mean " << b.q_mean << " vs " << a.q_mean);
  CHECK_MSG(close(b.critic_grad_norm, a.critic_grad_norm, tol),
            label << " critic_grad_norm " << b.critic_grad_norm << " vs " << a.critic_grad_norm);
  CHECK_MSG(close(b.actor_loss, a.actor_loss, tol), label << " actor_loss " << b.actor_loss << " vs " << a.actor_loss);
  CHECK_MSG(close(b.actor_grad_norm, a.actor_grad_norm, tol),
            label << " actor_grad_norm " << b.actor_grad_norm << " vs " << a.actor_grad_norm);
  CHECK(a.td_errors.size() == b.td_errors.size());
}

// The fused update against the LibTorch path for one configuration: 10 updates from the same init
// on the same batches and noise draws; parameters and stats agree.
static void expect_same_as_libtorch(MaddpgConfig c, bool with_weights, const char* label) {
  c.impl = "libtorch";
  Maddpg plain(c);
  c.impl = "fused";
  Maddpg fused(c);
  const auto start = plain.get_parameters();
  CHECK(start == fused.get_parameters());  // the same init from the same seed
  tennis::Rng rng(77);
  for (int u = 0; u < 10; ++u) {
    Batch batch(c.batch_size, rng);
    const float* noise = c.target_noise > 0 ? batch.noise.data() : nullptr;
    const auto a = plain.update_batch(batch.view(with_weights), noise);
    const auto b = fused.update_batch(batch.view(with_weights), noise);
    expect_close_stats(b, a, 1e-4, label);
    // Saturation counts |action| > 0.99: an action within rounding of the threshold may count in one only.
    const double one_action = 1.0 / double(c.batch_size * kJointAction);
    CHECK_MSG(std::isnan(b.saturation) == std::isnan(a.saturation) &&
                  (std::isnan(a.saturation) || std::fabs(b.saturation - a.saturation) <= one_action * 1.5),
              label << " saturation " << b.saturation << " vs " << a.saturation);
    for (size_t r = 0; r < a.td_errors.size(); ++r) CHECK_NEAR(b.td_errors[r], a.td_errors[r], 1e-4);
  }
  const auto [worst, name] = update_difference(plain, fused.get_parameters(), plain.get_parameters(), start);
  std::cout << "     " << label << ": fused and libtorch changes differ by " << worst << " of the change at " << name
            << " (" << kParityTolerance << " allowed)\n";
  CHECK_MSG(worst <= kParityTolerance,
            label << ": fused and libtorch differ by " << worst << " of the change at " << name);
  CHECK(fused.update_count() == 10);

  // Greedy actions agree too.
  const auto obs = uniform(5 * kJointObs, rng, -2, 2);
  std::vector<float> act_a(5 * kJointAction), act_b(5 * kJointAction);
  plain.act(obs.data(), 5, act_a.data(), false);
  fused.act(obs.data(), 5, act_b.data(), false);
  for (size_t k = 0; k < act_a.size(); ++k) CHECK_NEAR(act_b[k], act_a[k], 1e-4);
}

TEST(fused_matches_libtorch_maddpg) { expect_same_as_libtorch(base_config(""), false, "maddpg"); }

TEST(fused_matches_libtorch_matd3) {
  MaddpgConfig c = base_config("");
  c.twin_critics = true;
  c.target_noise = 0.2;
  c.policy_delay = 2;
  expect_same_as_libtorch(c, false, "matd3");
}

TEST(fused_matches_libtorch_shared_weighted) {
  MaddpgConfig c = base_config("");
  c.shared_parameters = true;
  expect_same_as_libtorch(c, true, "shared + importance weights");
  c.twin_critics = true;
  c.target_noise = 0.3;
  c.target_noise_clip = 0.2;
  expect_same_as_libtorch(c, false, "shared matd3");
}

TEST(fused_matches_libtorch_without_clipping_or_decay) {
  MaddpgConfig c = base_config("");
  c.grad_clip = 0;
  c.weight_decay = 0;
  c.gamma = 0.5;
  c.critic_hidden = {64};        // one hidden layer
  c.actor_hidden = {17, 9, 30};  // three
  expect_same_as_libtorch(c, true, "no clipping, other widths");
  c.grad_clip = 0.05;  // clipping on every step
  expect_same_as_libtorch(c, false, "tight clipping");
}

TEST(fused_threads_do_not_change_results) {
  for (bool shared : {false, true}) {
    auto run = [&](int threads) {
      MaddpgConfig c = base_config("fused");
      c.shared_parameters = shared;
      c.threads = threads;
      c.batch_size = 64;
      Maddpg m(c);
      tennis::Rng rng(8);
      std::vector<float> td;
      for (int u = 0; u < 4; ++u) {
        Batch batch(c.batch_size, rng);
        td = m.update_batch(batch.view(true)).td_errors;
      }
      auto params = m.get_parameters();
      params.insert(params.end(), td.begin(), td.end());
      return params;
    };
    CHECK_MSG(run(1) == run(2), (shared ? "shared" : "separate") << ": 1 and 2 threads differ");
  }
}

// A short training run (MATD3 and shared MADDPG, 2 threads, batch 64) has the same parameters, bit for
// bit, on every kernel level; its checksum is printed so that runs on other CPUs can be compared.
TEST(fused_training_has_the_same_bits_on_every_kernel_level) {
  using tennis::fused::KernelLevel;
  for (bool shared : {false, true}) {
    std::vector<float> portable;
    for (KernelLevel level : tennis::fused::kernel_levels()) {
      tennis::fused::limit_kernels(level);
      MaddpgConfig c = base_config("fused");
      c.shared_parameters = shared;
      c.twin_critics = !shared;
      c.target_noise = shared ? 0 : 0.2;
      c.threads = 2;
      c.batch_size = 64;
      Maddpg m(c);
      tennis::Rng rng(12);
      for (int u = 0; u < 6; ++u) {
        Batch batch(c.batch_size, rng);
        m.update_batch(batch.view(true), shared ? nullptr : batch.noise.data());
      }
      const auto params = m.get_parameters();
      tennis::fused::limit_kernels(KernelLevel::kAvx512);
      uint64_t checksum = 1469598103934665603ull;  // FNV-1a over the parameters' bytes
      const auto* bytes = reinterpret_cast<const unsigned char*>(params.data());
      for (size_t i = 0; i < params.size() * sizeof(float); ++i) checksum = (checksum ^ bytes[i]) * 1099511628211ull;
      std::cout << "     " << (shared ? "shared maddpg" : "matd3") << ", level "
                << tennis::fused::kernel_level_name(level) << ": parameter checksum " << std::hex << checksum
                << std::dec << "\n";
      if (level == KernelLevel::kPortable) {
        portable = params;
      } else {
        size_t differing = 0;
        for (size_t i = 0; i < params.size(); ++i)
          differing += std::memcmp(&params[i], &portable[i], sizeof(float)) != 0;
        CHECK_MSG(differing == 0, (shared ? "shared maddpg" : "matd3")
                                      << ": " << differing << " of " << params.size() << " parameters at level "
                                      << tennis::fused::kernel_level_name(level) << " differ from the portable code's");
      }
    }
  }
}

TEST(fused_checkpoints_cross_implementations) {
  for (bool matd3 : {false, true}) {
    MaddpgConfig c = base_config("");
    c.noise.type = "ou";
    if (matd3) c.twin_critics = true, c.target_noise = 0.2, c.policy_delay = 2;
    const auto obs = std::vector<float>(2 * kJointObs, 0.3f);
    for (const std::string first : {"libtorch", "fused"}) {
      const std::string second = first == "fused" ? "libtorch" : "fused";
      auto batches = [](Maddpg& m, uint64_t seed, int k) {
        tennis::Rng rng(seed);
        for (int u = 0; u < k; ++u) {
          Batch b(m.config().batch_size, rng);
          m.update_batch(b.view(false));  // smoothing noise drawn from the learner's RNG
        }
      };
      // Straight: 3 + 3 updates in `second`, starting from `first`'s state after 3.
      c.impl = first;
      Maddpg writer(c);
      batches(writer, 1, 3);
      std::vector<float> actions(2 * kJointAction);
      writer.act(obs.data(), 2, actions.data(), true);
      const std::string path = temp_path(first + ".pt");
      writer.save(path);
      c.impl = second;
      c.seed = 999;  // the checkpoint decides everything
      Maddpg reader(c);
      reader.load(path);
      std::remove(path.c_str());
      CHECK(reader.update_count() == 3);
      CHECK(reader.get_parameters() == writer.get_parameters());
      // Both continue the same way, each in its own implementation.
      const auto start = writer.get_parameters();
      batches(writer, 2, 3);
      batches(reader, 2, 3);
      const auto [worst, name] = update_difference(writer, reader.get_parameters(), writer.get_parameters(), start);
      CHECK_MSG(worst <= kParityTolerance,
                first << " -> " << second << ": resumed run differs by " << worst << " at " << name);
      std::vector<float> a(2 * kJointAction), b(2 * kJointAction);
      writer.act(obs.data(), 2, a.data(), true);
      reader.act(obs.data(), 2, b.data(), true);
      for (size_t k = 0; k < a.size(); ++k) CHECK_NEAR(a[k], b[k], 1e-5);  // noise state resumed
      c.seed = 4;
    }
  }
}

// The fused path keeps transposed copies of every network, targets included, across updates: each
// outside change (set_parameters, reset_actors, load) must reach them, or the next updates part from
// the LibTorch path's.
TEST(fused_outside_changes_reach_the_packed_weights) {
  for (const bool shared : {false, true}) {
    MaddpgConfig c = base_config("libtorch");
    c.shared_parameters = shared;
    Maddpg plain(c);
    c.impl = "fused";
    Maddpg fused(c);
    c.seed = 11;
    Maddpg other(c);
    tennis::Rng rng(21);
    std::vector<float> start;  // the parameters before the last both()
    auto both = [&](int k) {
      start = plain.get_parameters();
      for (int u = 0; u < k; ++u) {
        Batch batch(c.batch_size, rng);
        plain.update_batch(batch.view(false));
        fused.update_batch(batch.view(false));
      }
    };
    auto expect_same = [&](const std::string& after) {
      const auto [worst, name] = update_difference(plain, fused.get_parameters(), plain.get_parameters(), start);
      CHECK_MSG(worst <= kParityTolerance, (shared ? "shared" : "separate")
                                               << ", " << after << ": differs by " << worst << " at " << name);
    };
    both(3);
    for (int u = 0; u < 2; ++u) {
      Batch batch(c.batch_size, rng);
      other.update_batch(batch.view(false));
    }
    const auto replacement = other.get_parameters();  // online and target networks of another run
    plain.set_parameters(replacement.data(), int64_t(replacement.size()));
    fused.set_parameters(replacement.data(), int64_t(replacement.size()));
    both(3);
    expect_same("set_parameters");
    plain.reset_actors(7);
    fused.reset_actors(7);
    both(3);
    expect_same("reset_actors");
    const std::string path = temp_path("outside.pt");
    other.save(path);
    plain.load(path);
    fused.load(path);
    std::remove(path.c_str());
    both(3);
    expect_same("load");
  }
}

TEST(fused_resume_continues_exactly) {
  MaddpgConfig c = base_config("fused");
  c.twin_critics = true;
  c.target_noise = 0.2;
  c.policy_delay = 2;
  auto feed = [](Maddpg& m, tennis::Rng& rng, int k) {
    for (int u = 0; u < k; ++u) {
      Batch b(m.config().batch_size, rng);
      m.update_batch(b.view(true));
    }
  };
  Maddpg straight(c);
  tennis::Rng rng_a(3);
  feed(straight, rng_a, 6);
  Maddpg first(c);
  tennis::Rng rng_b(3);
  feed(first, rng_b, 3);
  const std::string path = temp_path("resume.pt");
  first.save(path);
  Maddpg resumed(c);
  resumed.load(path);
  std::remove(path.c_str());
  feed(resumed, rng_b, 3);
  CHECK(straight.get_parameters() == resumed.get_parameters());
  // A checkpoint holds each tensor once (Adam moments are not written as views of whole buffers).
  first.save(path);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  CHECK(f != nullptr);
  std::fseek(f, 0, SEEK_END);
  const long bytes = std::ftell(f);
  std::fclose(f);
  std::remove(path.c_str());
  const long floats = long(first.parameter_count());
  // Parameters (online + target) plus two moments of the online half: ~2x the parameters, plus overhead.
  CHECK_MSG(bytes < long(sizeof(float)) * floats * 3,
            "checkpoint has " << bytes << " bytes for " << floats << " parameters");
}

// ---- impl "graph": the update as CUDA graphs (checked where a CUDA device is present) ------------

namespace {

bool cuda_present(const char* test) {
  if (torch::cuda::is_available()) return true;
  std::cout << "     (" << test << " skipped: no CUDA device in this build or machine)\n";
  return false;
}

}  // namespace

TEST(graph_rejects_what_it_does_not_support) {
  auto message_for = [](void (*change)(MaddpgConfig&)) {
    MaddpgConfig c = base_config("graph");
    c.device = "cuda";
    change(c);
    return thrown_message([&] { Maddpg m(c); });
  };
  CHECK(message_for([](MaddpgConfig& c) { c.device = "cpu"; }) ==
        "impl \"graph\" runs on device \"cuda\", got device \"cpu\"; use impl \"fused\" or \"libtorch\" on the CPU");
  CHECK(message_for([](MaddpgConfig& c) { c.batch_norm = true; }) ==
        "impl \"graph\" does not support batch_norm (BatchNorm1d in the critics); use impl \"libtorch\" for it");
  if (!torch::cuda::is_available()) {
    CHECK(message_for([](MaddpgConfig&) {}) ==
          "device is \"cuda\" but CUDA is not available to this build of tennis-train");
  }
}

// The graph update (single batches through update_batch) against the LibTorch path on the CPU: 10
// updates from the same init on the same batches and noise draws. The device sums in other orders,
// so agreement is float-close (the reference parity bound), not bitwise.
static void expect_graph_like_libtorch(MaddpgConfig c, bool with_weights, const char* label) {
  c.impl = "libtorch";
  Maddpg plain(c);
  c.impl = "graph";
  c.device = "cuda";
  Maddpg graphed(c);
  const auto start = plain.get_parameters();
  CHECK(start == graphed.get_parameters());
  tennis::Rng rng(77);
  for (int u = 0; u < 10; ++u) {
    Batch batch(c.batch_size, rng);
    const float* noise = c.target_noise > 0 ? batch.noise.data() : nullptr;
    const auto a = plain.update_batch(batch.view(with_weights), noise);
    expect_close_stats(graphed.update_batch(batch.view(with_weights), noise), a, 1e-3, label);
  }
  const auto [worst, name] = update_difference(plain, graphed.get_parameters(), plain.get_parameters(), start);
  std::cout << "     " << label << ": graph (CUDA) and libtorch (CPU) changes differ by " << worst
            << " of the change at " << name << "\n";
  CHECK_MSG(worst <= kParityTolerance, label << ": changes differ by " << worst << " at " << name);
  CHECK(graphed.update_count() == 10);
}

TEST(graph_matches_libtorch) {
  if (!cuda_present("graph_matches_libtorch")) return;
  expect_graph_like_libtorch(base_config(""), false, "graph maddpg");
  MaddpgConfig c = base_config("");
  c.twin_critics = true;
  c.target_noise = 0.2;
  c.policy_delay = 2;
  expect_graph_like_libtorch(c, false, "graph matd3");
  c = base_config("");
  c.shared_parameters = true;
  expect_graph_like_libtorch(c, true, "graph shared + importance weights");
}

TEST(graph_samples_on_the_device_from_the_buffer) {
  if (!cuda_present("graph_samples_on_the_device_from_the_buffer")) return;
  MaddpgConfig c = base_config("graph");
  c.device = "cuda";
  c.twin_critics = true;
  c.target_noise = 0.2;
  c.policy_delay = 2;
  tennis::ReplayBufferOptions options;
  options.capacity = 300;  // the 400 records below wrap around
  auto buffer = std::make_shared<tennis::ReplayBuffer>(options);
  tennis::Rng rng(5);
  for (int chunk = 0; chunk < 4; ++chunk) {
    Batch b(100, rng);
    buffer->add(100, b.obs.data(), b.actions.data(), b.rewards.data(), b.next_obs.data(), b.dones.data());
  }
  tennis::ReplayBatchSource source(buffer, {});
  CHECK(source.uniform_buffer() == buffer.get());
  auto run = [&] {
    Maddpg m(c);
    const auto before = m.get_parameters();
    const auto first = m.update(3, source);   // updates 0, 1, 2: actors step at 0 and 2
    const auto second = m.update(3, source);  // updates 3, 4, 5: at 4
    CHECK(first.actor_updates == 2 && second.actor_updates == 1);
    CHECK(std::isfinite(second.critic_loss) && std::isfinite(second.actor_loss) && second.critic_grad_norm > 0);
    CHECK(int64_t(second.td_errors.size()) == c.batch_size);
    CHECK(m.update_count() == 6);
    const auto after = m.get_parameters();
    CHECK(after != before);
    for (float x : after) CHECK(std::isfinite(x));
    return after;
  };
  const auto a = run();
  const auto b = run();  // same seed, same device RNG stream
  double worst = 0;
  for (size_t k = 0; k < a.size(); ++k) worst = std::max(worst, double(std::fabs(a[k] - b[k])));
  CHECK_MSG(worst <= 1e-6, "two seeded runs differ by " << worst);
}

TEST(graph_checkpoints_cross_to_fused) {
  if (!cuda_present("graph_checkpoints_cross_to_fused")) return;
  MaddpgConfig c = base_config("fused");
  Maddpg writer(c);
  tennis::Rng rng(3);
  std::vector<Batch> batches;
  for (int u = 0; u < 6; ++u) batches.emplace_back(c.batch_size, rng);
  for (int u = 0; u < 3; ++u) writer.update_batch(batches[size_t(u)].view(false));
  const std::string path = temp_path("graph.pt");
  writer.save(path);
  c.impl = "graph";
  c.device = "cuda";
  Maddpg reader(c);
  reader.load(path);
  std::remove(path.c_str());
  const auto start = writer.get_parameters();
  CHECK(reader.get_parameters() == start);
  for (int u = 3; u < 6; ++u) {
    writer.update_batch(batches[size_t(u)].view(false));
    reader.update_batch(batches[size_t(u)].view(false));
  }
  // Adam resumed at step 3 on both: the continuations agree.
  const auto [worst, name] = update_difference(writer, reader.get_parameters(), writer.get_parameters(), start);
  std::cout << "     fused -> graph resume: changes differ by " << worst << " (" << name << ")\n";
  CHECK_MSG(worst <= kParityTolerance, "resumed graph run differs by " << worst << " at " << name);
}
