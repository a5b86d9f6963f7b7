// Updates/s of the native MADDPG update on random batches, one JSON line per implementation and thread
// count ("impl": "libtorch" = LibTorch ops + autograd, "fused" = native/core/fused/):
//   bench_update [--threads 1,2] [--batch 256] [--hidden 128,128] [--seconds 3] [--variant maddpg|matd3]
//                [--impl libtorch,fused] [--device cpu|cuda]
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "info.h"
#include "maddpg.h"

namespace {

// Distinct random batches cycled through, so caches see fresh data as with a replay buffer.
constexpr int kBatchPool = 8;
// Untimed updates before each measurement (allocator and thread-pool warm-up).
constexpr int kWarmupUpdates = 10;

std::vector<std::string> parse_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(item);
  return out;
}

std::vector<int64_t> parse_ints(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stoll(item));
  return out;
}

struct Pool {
  std::vector<std::vector<float>> obs, actions, rewards, next_obs, dones;
};

Pool make_pool(int64_t batch) {
  tennis::Rng rng(123);
  Pool pool;
  auto random = [&](int64_t n, double lo, double hi) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = float(rng.uniform(lo, hi));
    return v;
  };
  for (int k = 0; k < kBatchPool; ++k) {
    pool.obs.push_back(random(batch * 48, -1, 1));
    pool.actions.push_back(random(batch * 4, -1, 1));
    pool.rewards.push_back(random(batch * 2, -0.1, 0.1));
    pool.next_obs.push_back(random(batch * 48, -1, 1));
    std::vector<float> dones(size_t(batch * 2));
    for (auto& d : dones) d = rng.uniform() < 0.05 ? 1.f : 0.f;
    pool.dones.push_back(dones);
  }
  return pool;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> threads{1, 2}, hidden{128, 128};
  int64_t batch = 256;
  double seconds = 3.0;
  std::string variant = "maddpg", device = "cpu";
  std::vector<std::string> impls{"libtorch", "fused"};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (!value) {
      std::cerr << "bench_update: " << arg << " needs a value\n";
      return 2;
    }
    if (arg == "--threads") threads = parse_ints(value);
    else if (arg == "--batch") batch = std::stoll(value);
    else if (arg == "--hidden") hidden = parse_ints(value);
    else if (arg == "--seconds") seconds = std::stod(value);
    else if (arg == "--variant") variant = value;
    else if (arg == "--impl") impls = parse_list(value);
    else if (arg == "--device") device = value;
    else {
      std::cerr << "bench_update: unknown option " << arg << "\n";
      return 2;
    }
    ++i;
  }
  const Pool pool = make_pool(batch);
  const std::string blas = tennis::runtime_info().blas;
  for (int64_t n_threads : threads) {
    for (const std::string& impl : impls) {
      tennis::MaddpgConfig c;
      c.actor_hidden = hidden;
      c.critic_hidden = hidden;
      c.batch_size = batch;
      c.threads = int(n_threads);
      c.impl = impl;
      c.device = device;
      if (variant == "matd3") {
        c.twin_critics = true;
        c.target_noise = 0.2;
        c.policy_delay = 2;
      } else if (variant != "maddpg") {
        std::cerr << "bench_update: --variant must be maddpg or matd3\n";
        return 2;
      }
      std::unique_ptr<tennis::Maddpg> learner;
      try {
        learner = std::make_unique<tennis::Maddpg>(c);
      } catch (const std::exception& e) {
        std::cerr << "bench_update: " << impl << " on " << device << ": " << e.what() << "\n";
        return 2;
      }
      auto& m = *learner;
      auto run = [&](int64_t u) {
        const int k = int(u % kBatchPool);
        tennis::BatchView view{batch,
                               const_cast<float*>(pool.obs[k].data()),
                               const_cast<float*>(pool.actions[k].data()),
                               const_cast<float*>(pool.rewards[k].data()),
                               const_cast<float*>(pool.next_obs[k].data()),
                               const_cast<float*>(pool.dones[k].data()),
                               nullptr,
                               nullptr};
        m.update_batch(view);
      };
      for (int u = 0; u < kWarmupUpdates; ++u) run(u);
      const auto start = std::chrono::steady_clock::now();
      int64_t updates = 0;
      double elapsed = 0;
      while (elapsed < seconds) {
        run(updates++);
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
      std::cout << "{\"impl\": \"" << impl << "\", \"device\": \"" << device << "\", \"variant\": \"" << variant
                << "\", \"threads\": " << n_threads << ", \"batch\": " << batch << ", \"hidden\": [" << hidden[0];
      for (size_t h = 1; h < hidden.size(); ++h) std::cout << ", " << hidden[h];
      std::cout << "], \"updates\": " << updates << ", \"seconds\": " << elapsed
                << ", \"updates_per_s\": " << double(updates) / elapsed << ", \"blas\": \"" << blas << "\"}"
                << std::endl;
    }
  }
  return 0;
}
