// Time per call and GFLOP/s of the fused update's kernels on the shapes one update runs (batch 256,
// [128,128] actor and critic, one agent per group), single-threaded, in thread CPU time: where an
// update's time goes, kernel by kernel. One JSON line per kernel and shape.
// Usage: bench_kernels [seconds per row, default 0.3]
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "fused/kernels.h"

namespace {

using namespace tennis::fused;

double thread_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

std::vector<float> normal(int64_t n, std::mt19937& gen) {
  std::normal_distribution<float> d;
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(gen);
  return v;
}

// Calls `run` for about `seconds` of thread CPU time (after a warm-up) and prints one JSON line.
void report(const std::string& kernel, const std::string& shape, double flops, double seconds,
            const std::function<void()>& run) {
  for (int i = 0; i < 20; ++i) run();
  int64_t calls = 0;
  const double start = thread_seconds();
  double elapsed = 0;
  while (elapsed < seconds) {
    for (int i = 0; i < 20; ++i) run();
    calls += 20;
    elapsed = thread_seconds() - start;
  }
  const double per_call = elapsed / double(calls);
  std::printf("{\"kernel\": \"%s\", \"shape\": \"%s\", \"us\": %.3f, \"gflops\": %.1f}\n", kernel.c_str(),
              shape.c_str(), per_call * 1e6, flops / per_call * 1e-9);
}

// C[m][n] = A B (+ epilogue) as the update runs it: "forward" (A row-major, bias + ReLU), "weight"
// (A = dZ^T), "input" (masked input gradient).
void bench_gemm(const std::string& kind, int64_t m, int64_t n, int64_t k, double seconds, std::mt19937& gen) {
  const auto a = normal(m * k, gen), b = normal(k * n, gen), bias = normal(n, gen), mask = normal(m * n, gen);
  std::vector<float> c(size_t(m * n));
  const Strided view = kind == "weight" ? Strided{a.data(), 1, m} : Strided{a.data(), k, 1};
  Epilogue e;
  if (kind == "forward") e.bias = bias.data(), e.relu = true;
  if (kind == "input") e.mask = mask.data(), e.ld_mask = n;
  const std::string shape = std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
  report("gemm " + kind, shape, 2.0 * double(m * n * k), seconds,
         [&] { gemm(m, n, k, view, b.data(), n, c.data(), n, e, 1); });
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 0.3;
  std::printf("{\"kernel_level\": \"%s\"}\n", kernel_level_name(kernel_level()));
  std::mt19937 gen(1);
  constexpr int64_t kRows = 256, kHidden = 128, kObs = 24, kCriticInput = 52, kAction = 2;
  // Layer products: first actor and critic layers, the hidden layer, and the output layers.
  for (int64_t in : {kObs, kCriticInput, kHidden}) bench_gemm("forward", kRows, kHidden, in, seconds, gen);
  bench_gemm("weight", kHidden, kHidden, kRows, seconds, gen);
  for (int64_t in : {kObs, kCriticInput}) bench_gemm("weight", in, kHidden, kRows, seconds, gen);
  for (int64_t out : {int64_t(1), kAction}) bench_gemm("weight", out, kHidden, kRows, seconds, gen);
  for (int64_t out : {kHidden, int64_t(1), kAction}) bench_gemm("input", kRows, kHidden, out, seconds, gen);
  {
    const auto x = normal(kRows * kHidden, gen), w = normal(kAction * kHidden, gen);
    std::vector<float> out(size_t(kRows * kHidden));
    report("column_sums", "256x128", double(kRows * kHidden), seconds,
           [&] { column_sums(kRows, kHidden, x.data(), kHidden, out.data()); });
    // The output layers' forward pass and the actor step's gradient at the own action.
    report("dot_rows", "256x2x128", 2.0 * double(kRows * kAction * kHidden), seconds,
           [&] { dot_rows(kRows, kAction, kHidden, x.data(), kHidden, w.data(), nullptr, out.data(), kAction); });
    report("tanh", "256x2", 0, seconds, [&] { tanh_inplace(kRows * kAction, out.data()); });
    report("transpose", "128x128", 0, seconds, [&] { transpose(kHidden, kHidden, x.data(), out.data()); });
  }
  {
    // One critic's parameters: 52*128 + 128 + 128*128 + 128 + 128 + 1.
    const int64_t n = kCriticInput * kHidden + kHidden + kHidden * kHidden + kHidden + kHidden + 1;
    auto p = normal(n, gen), t = p;
    const auto g = normal(n, gen);
    std::vector<float> m(static_cast<size_t>(n)), v(static_cast<size_t>(n));
    int64_t step = 0;
    const std::string shape = std::to_string(n);
    report("adam_step", shape, 0, seconds, [&] { adam_step(n, p.data(), g.data(), m.data(), v.data(), {}, ++step); });
    report("soft_update", shape, 0, seconds, [&] { soft_update(n, t.data(), p.data(), 0.01); });
    report("vector_norm", shape, 2.0 * double(n), seconds, [&] { p[0] = vector_norm(n, g.data()); });
  }
  return 0;
}
