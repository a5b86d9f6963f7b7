// Updates/s of the native MADDPG update on random batches, one JSON line per implementation and thread
// count ("impl": "libtorch" = LibTorch ops + autograd, "fused" = native/core/fused/, "graph" = CUDA
// graphs of k updates sampling on the device from a replay buffer of random records, one line per k):
//   bench_update [--threads 1,2] [--batch 256] [--hidden 128,128] [--actor-hidden W,W] [--critic-hidden W,W] [--seconds
//   3] [--variant maddpg|matd3]
//                [--impl libtorch,fused] [--device cpu|cuda] [--k 1,16] [--shared 0|1]
// --shared 1: one actor and one critic for both agents (the trainer's default) instead of one per agent.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/learner_config.h"
#include "info.h"
#include "maddpg.h"
#include "replay_source.h"

namespace {

// Distinct random batches cycled through, so caches see fresh data as with a replay buffer.
constexpr int kBatchPool = 8;
// Untimed updates before each measurement (allocator and thread-pool warm-up).
constexpr int kWarmupUpdates = 10;
// Random records in the graph rows' replay buffer.
constexpr int64_t kBufferRecords = 20000;

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

// The learner's options other than those set by the flags (the update's speed does not depend on
// their values, and no default of MaddpgConfig stands in for them).

// A buffer of kBufferRecords records cycled from the pool's batches.
std::shared_ptr<tennis::ReplayBuffer> make_buffer(const Pool& pool, int64_t batch) {
  tennis::ReplayBufferOptions options;
  options.capacity = kBufferRecords;
  auto buffer = std::make_shared<tennis::ReplayBuffer>(options);
  for (int64_t added = 0, k = 0; added < kBufferRecords; added += batch, ++k) {
    const size_t b = size_t(k % kBatchPool);
    buffer->add(std::min(batch, kBufferRecords - added), pool.obs[b].data(), pool.actions[b].data(),
                pool.rewards[b].data(), pool.next_obs[b].data(), pool.dones[b].data());
  }
  return buffer;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> threads{1, 2}, hidden{128, 128}, actor_hidden, critic_hidden;
  int64_t batch = 256;
  double seconds = 3.0;
  std::string variant = "maddpg", device = "cpu";
  std::vector<std::string> impls{"libtorch", "fused"};
  std::vector<int64_t> ks{1};
  bool shared = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (!value) {
      std::cerr << "bench_update: " << arg << " needs a value\n";
      return 2;
    }
    if (arg == "--threads")
      threads = parse_ints(value);
    else if (arg == "--batch")
      batch = std::stoll(value);
    else if (arg == "--hidden")
      hidden = parse_ints(value);
    else if (arg == "--actor-hidden")
      actor_hidden = parse_ints(value);
    else if (arg == "--critic-hidden")
      critic_hidden = parse_ints(value);
    else if (arg == "--seconds")
      seconds = std::stod(value);
    else if (arg == "--variant")
      variant = value;
    else if (arg == "--impl")
      impls = parse_list(value);
    else if (arg == "--device")
      device = value;
    else if (arg == "--k")
      ks = parse_ints(value);
    else if (arg == "--shared")
      shared = std::string(value) == "1";
    else {
      std::cerr << "bench_update: unknown option " << arg << "\n";
      return 2;
    }
    ++i;
  }
  const Pool pool = make_pool(batch);
  tennis::ReplayBatchSource source(make_buffer(pool, batch), {});
  const std::string blas = tennis::runtime_info().blas;
  for (int64_t n_threads : threads) {
    for (const std::string& impl : impls) {
      tennis::MaddpgConfig c = learner_config::base_maddpg();
      c.actor_hidden = actor_hidden.empty() ? hidden : actor_hidden;
      c.critic_hidden = critic_hidden.empty() ? hidden : critic_hidden;
      c.batch_size = batch;
      c.threads = int(n_threads);
      c.impl = impl;
      c.device = device;
      c.shared_parameters = shared;
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
      for (int64_t k : impl == "graph" ? ks : std::vector<int64_t>{1}) {
        // One call: update_batch on the next pool batch, or (graph) update(k, source).
        int64_t calls = 0;
        auto run = [&] {
          if (impl == "graph") {
            m.update(k, source);
          } else {
            const size_t b = size_t(calls % kBatchPool);
            tennis::BatchView view{batch,
                                   const_cast<float*>(pool.obs[b].data()),
                                   const_cast<float*>(pool.actions[b].data()),
                                   const_cast<float*>(pool.rewards[b].data()),
                                   const_cast<float*>(pool.next_obs[b].data()),
                                   const_cast<float*>(pool.dones[b].data()),
                                   nullptr,
                                   nullptr};
            m.update_batch(view);
          }
          ++calls;
        };
        for (int u = 0; u < kWarmupUpdates; ++u) run();
        calls = 0;
        const auto start = std::chrono::steady_clock::now();
        double elapsed = 0;
        while (elapsed < seconds) {
          run();
          elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        }
        const int64_t updates = calls * k;
        std::cout << "{\"impl\": \"" << impl << "\", \"device\": \"" << device << "\", \"variant\": \"" << variant
                  << "\", \"shared\": " << (shared ? "true" : "false") << ", \"threads\": " << n_threads
                  << ", \"batch\": " << batch << ", \"k\": " << k << ", \"hidden\": [" << hidden[0];
        for (size_t h = 1; h < hidden.size(); ++h) std::cout << ", " << hidden[h];
        std::cout << "], \"updates\": " << updates << ", \"seconds\": " << elapsed
                  << ", \"updates_per_s\": " << double(updates) / elapsed << ", \"blas\": \"" << blas << "\"}"
                  << std::endl;
      }
    }
  }
  return 0;
}
