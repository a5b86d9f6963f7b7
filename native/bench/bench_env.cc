// Env-steps/s of the native Tennis batch (one env-step = both agents, 5 physics ticks) under random
// clipped-normal actions, for several batch sizes and thread counts.
// Usage: bench_env [seconds per row, default 1] [--scripted]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <vector>

#include "env/tennis.h"

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  const bool scripted = argc > 2 && std::strcmp(argv[2], "--scripted") == 0;
  // Distinct action sets cycled through, so action generation stays out of the timing.
  constexpr int kActionSets = 16;
  double best = 0;
  // CPU time shows what the code costs when other processes share the cores (wall rates then drop).
  std::printf("%8s %8s %16s %20s\n", "envs", "threads", "env-steps/s", "env-steps/cpu-s");
  for (int n : {1, 64, 1024, 4096}) {
    for (int threads : {1, 2}) {
      tennis::TennisBatch env(n, /*seed=*/0);
      std::vector<float> obs(n * 48), rewards(n * 2), dones(n * 2);
      std::vector<std::vector<float>> actions(kActionSets, std::vector<float>(n * 4));
      std::mt19937 gen(1);
      std::normal_distribution<float> normal;
      for (auto& set : actions)
        for (float& a : set) a = std::fmin(std::fmax(normal(gen), -1.0f), 1.0f);
      env.reset(obs.data());
      for (int t = 0; t < 50; ++t)  // warm-up
        env.step(actions[t % kActionSets].data(), obs.data(), rewards.data(), dones.data(), threads);
      long steps = 0;
      const std::clock_t cpu_start = std::clock();
      const auto start = std::chrono::steady_clock::now();
      double elapsed = 0;
      do {
        for (int t = 0; t < 64; ++t) {
          if (scripted) tennis::scripted_actions(env, actions[0].data());
          env.step(actions[scripted ? 0 : t % kActionSets].data(), obs.data(), rewards.data(), dones.data(), threads);
        }
        steps += 64L * n;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      } while (elapsed < seconds);
      const double rate = steps / elapsed;
      const double cpu = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
      best = std::fmax(best, rate);
      std::printf("%8d %8d %16.0f %20.0f\n", n, threads, rate, steps / cpu);
    }
  }
  std::printf("best %.0f env-steps/s\n", best);
  return 0;
}
