// The fused update's kernels (native/core/fused/kernels.h) against plain float64 loops, within
// rounding-error bounds derived from each kernel's summation order, and against each other: every
// kernel level this CPU can run gives the portable code's bits.
//
// Bounds (u = 2^-24, the unit roundoff of float): a chain of n FMAs or additions from 0 is within
// rounding_bound(n) = n u / (1 - n u) times the sum of |term| of the exact sum (Higham, "Accuracy and
// Stability of Numerical Algorithms", 2nd ed., sections 3.1 and 4.2); each further rounded operation
// adds a term.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "check.h"
#include "fused/kernels.h"
#include "kernel_levels.h"
#include "noise.h"

namespace {

using namespace tennis::fused;

constexpr double kUnitRoundoff = 1.0 / 16777216.0;  // 2^-24

double rounding_bound(int64_t n) { return double(n) * kUnitRoundoff / (1 - double(n) * kUnitRoundoff); }

std::vector<float> uniform(int64_t n, tennis::Rng& rng, double lo = -1, double hi = 1) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = float(rng.uniform(lo, hi));
  return v;
}

// Runs `fn` at every kernel level; it returns the floats it computed, which must be the same bits at
// every level.
void expect_same_bits_on_every_level(const std::string& what, const std::function<std::vector<float>()>& fn) {
  std::vector<float> portable;
  for (KernelLevel level : kernel_levels()) {
    limit_kernels(level);
    const auto got = fn();
    limit_kernels(KernelLevel::kAvx512);
    if (level == KernelLevel::kPortable) {
      portable = got;
      continue;
    }
    CHECK(got.size() == portable.size());
    size_t differing = 0, first = got.size();
    for (size_t i = 0; i < got.size(); ++i) {
      if (std::memcmp(&got[i], &portable[i], sizeof(float)) != 0) {
        if (differing++ == 0) first = i;
      }
    }
    CHECK_MSG(differing == 0, what << ": " << differing << " of " << got.size() << " floats at level "
                                   << kernel_level_name(level) << " differ from the portable code's (first at " << first
                                   << ": " << got[first] << " vs " << portable[first] << ")");
  }
}

// Shapes (m, n, k) of the products: tile edges of every level (6 x 16, 8 x 32), 1-2 row products
// (wide tiles), k = 0 and k past every block size, and the update's own shapes.
constexpr int64_t kShapes[][3] = {{1, 1, 1},    {5, 7, 3},     {6, 16, 9},   {7, 17, 24},    {13, 8, 52},
                                  {37, 33, 40}, {64, 52, 130}, {37, 2, 128}, {20, 4, 21},    {3, 3, 17},
                                  {1, 128, 64}, {2, 300, 37},  {9, 40, 0},   {70, 129, 700}, {256, 128, 24}};

struct Product {
  int64_t m, n, k;
  bool transposed_a;
  int variant;  // 0 plain, 1 bias + ReLU, 2 mask
  std::vector<float> a, b, bias, mask;

  Product(const int64_t* shape, bool transposed, int kind, tennis::Rng& rng)
      : m(shape[0]), n(shape[1]), k(shape[2]), transposed_a(transposed), variant(kind) {
    a = uniform(m * k, rng);
    b = uniform(k * ldb(), rng);
    bias = uniform(n, rng);
    mask = uniform(m * n, rng);
  }
  int64_t ldb() const { return n + 3; }
  int64_t ldc() const { return n + 2; }
  // A as stored [m][k], or as the transpose of a [k][m] matrix (the weight-gradient case).
  Strided view() const { return transposed_a ? Strided{a.data(), 1, m} : Strided{a.data(), k, 1}; }
  Epilogue epilogue() const {
    Epilogue e;
    if (variant == 1) e.bias = bias.data(), e.relu = true;
    if (variant == 2) e.mask = mask.data(), e.ld_mask = n;
    return e;
  }
  std::vector<float> run(int threads) const {
    std::vector<float> c(size_t(m * ldc()), 7.f);
    gemm(m, n, k, view(), b.data(), ldb(), c.data(), ldc(), epilogue(), threads);
    return c;
  }
};

}  // namespace

TEST(kernels_gemm_within_its_rounding_bound) {
  tennis::Rng rng(3);
  for (const auto& shape : kShapes) {
    for (bool transposed_a : {false, true}) {
      for (int variant = 0; variant < 3; ++variant) {
        const Product p(shape, transposed_a, variant, rng);
        for (KernelLevel level : kernel_levels()) {
          limit_kernels(level);
          for (int threads : {1, 2}) {
            const auto c = p.run(threads);
            const Strided a = p.view();
            for (int64_t i = 0; i < p.m; ++i) {
              for (int64_t j = 0; j < p.n; ++j) {
                double exact = 0, magnitude = 0;
                for (int64_t q = 0; q < p.k; ++q) {
                  const double term =
                      double(a.data[i * a.row_stride + q * a.col_stride]) * p.b[size_t(q * p.ldb() + j)];
                  exact += term;
                  magnitude += std::fabs(term);
                }
                if (variant == 1) {
                  exact = std::max(0.0, exact + p.bias[size_t(j)]);
                  magnitude += std::fabs(p.bias[size_t(j)]);
                }
                if (variant == 2 && !(p.mask[size_t(i * p.n + j)] > 0)) exact = 0;
                const double bound = rounding_bound(p.k + 1) * magnitude;
                const double got = c[size_t(i * p.ldc() + j)];
                CHECK_MSG(std::fabs(got - exact) <= bound, "gemm " << p.m << "x" << p.n << "x" << p.k << " variant "
                                                                   << variant << " level " << kernel_level_name(level)
                                                                   << " at " << i << "," << j << ": " << got << " vs "
                                                                   << exact << " (bound " << bound << ")");
              }
              // The padding between rows of C is left alone.
              for (int64_t j = p.n; j < p.ldc(); ++j) CHECK(c[size_t(i * p.ldc() + j)] == 7.f);
            }
          }
        }
        limit_kernels(KernelLevel::kAvx512);
      }
    }
  }
}

TEST(kernels_dot_rows_column_sums_and_norm_within_their_rounding_bounds) {
  tennis::Rng rng(5);
  for (KernelLevel level : kernel_levels()) {
    limit_kernels(level);
    for (int64_t k : {0, 1, 7, 16, 17, 52, 128, 301}) {
      const int64_t m = 9, n = 3, ldx = k + 5, ldo = n + 1;
      const auto x = uniform(m * ldx, rng), w = uniform(n * k, rng), bias = uniform(n, rng);
      for (bool with_bias : {false, true}) {
        std::vector<float> out(size_t(m * ldo), 7.f);
        dot_rows(m, n, k, x.data(), ldx, w.data(), with_bias ? bias.data() : nullptr, out.data(), ldo);
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            double exact = with_bias ? bias[size_t(j)] : 0, magnitude = std::fabs(exact);
            for (int64_t q = 0; q < k; ++q) {
              const double term = double(x[size_t(i * ldx + q)]) * w[size_t(j * k + q)];
              exact += term;
              magnitude += std::fabs(term);
            }
            // Chains of at most ceil(k / 16) FMAs, four levels of folding, the bias: within rounding_bound(k + 5).
            const double bound = rounding_bound(k + 5) * magnitude;
            CHECK_MSG(std::fabs(out[size_t(i * ldo + j)] - exact) <= bound,
                      "dot_rows k " << k << " level " << kernel_level_name(level) << " at " << i << "," << j << ": "
                                    << out[size_t(i * ldo + j)] << " vs " << exact);
          }
          CHECK(out[size_t(i * ldo + n)] == 7.f);
        }
      }
    }
    for (int64_t rows : {1, 5, 37, 256}) {
      for (int64_t cols : {1, 3, 8, 17, 64, 130, 300}) {
        const int64_t ldx = cols + 2;
        const auto x = uniform(rows * ldx, rng);
        std::vector<float> out(size_t(cols + 1), 7.f);
        column_sums(rows, cols, x.data(), ldx, out.data());
        for (int64_t c = 0; c < cols; ++c) {
          double exact = 0, magnitude = 0;
          for (int64_t r = 0; r < rows; ++r)
            exact += x[size_t(r * ldx + c)], magnitude += std::fabs(x[size_t(r * ldx + c)]);
          CHECK_MSG(std::fabs(out[size_t(c)] - exact) <= rounding_bound(rows) * magnitude,
                    "column_sums " << rows << "x" << cols << " level " << kernel_level_name(level) << " column " << c);
        }
        CHECK(out[size_t(cols)] == 7.f);
      }
    }
    for (int64_t n : {1, 7, 52, 129, 16384}) {
      const auto x = uniform(n, rng);
      double exact = 0;
      for (float v : x) exact += double(v) * v;
      exact = std::sqrt(exact);
      // Squares summed within rounding_bound(n + 4) (all terms positive), then one square root.
      CHECK_MSG(std::fabs(vector_norm(n, x.data()) - exact) <= (rounding_bound(n + 4) / 2 + kUnitRoundoff) * exact,
                "vector_norm of " << n << " level " << kernel_level_name(level));
    }
  }
  limit_kernels(KernelLevel::kAvx512);
}

TEST(kernels_tanh_within_one_unit_in_the_last_place) {
  tennis::Rng rng(6);
  std::vector<float> x = uniform(4000, rng, -12, 12);
  for (float v : {0.f, 1e-30f, 1e-7f, 1e-3f, 0.5493f, 1.f, 8.9f, 9.01f, 10.f, 20.f, 88.f, 1e30f}) {
    x.push_back(v);
    x.push_back(-v);
  }
  for (KernelLevel level : kernel_levels()) {
    limit_kernels(level);
    std::vector<float> y = x;
    tanh_inplace(int64_t(y.size()), y.data());
    for (size_t i = 0; i < x.size(); ++i) {
      const double exact = std::tanh(double(x[i]));
      const float rounded = float(exact);
      const double ulp = double(std::nextafter(std::fabs(rounded), 2.f)) - std::fabs(rounded);
      CHECK_MSG(std::fabs(y[i] - exact) <= ulp, "tanh(" << x[i] << ") = " << y[i] << ", exact " << exact << " (level "
                                                        << kernel_level_name(level) << ")");
      CHECK(std::signbit(y[i]) == std::signbit(x[i]));  // odd, -0 included
      CHECK(std::fabs(y[i]) <= 1.f);
    }
    float special[] = {NAN, INFINITY, -INFINITY, 0.f, -0.f};
    tanh_inplace(5, special);
    CHECK(std::isnan(special[0]) && special[1] == 1.f && special[2] == -1.f);
    CHECK(special[3] == 0.f && !std::signbit(special[3]) && std::signbit(special[4]));
  }
  limit_kernels(KernelLevel::kAvx512);
}

TEST(kernels_elementwise_within_their_rounding_bounds) {
  constexpr double u = kUnitRoundoff;
  tennis::Rng rng(7);
  const int64_t n = 1003;  // not a multiple of any vector width
  for (KernelLevel level : kernel_levels()) {
    limit_kernels(level);
    const std::string at = std::string(" (level ") + kernel_level_name(level) + ")";
    // tanh backward: g (1 - y^2), one FMA and one product.
    const auto g = uniform(n, rng, -3, 3), y = uniform(n, rng);
    std::vector<float> got = g;
    tanh_backward(n, got.data(), y.data());
    for (int64_t i = 0; i < n; ++i) {
      const double exact = double(g[size_t(i)]) * (1 - double(y[size_t(i)]) * y[size_t(i)]);
      CHECK_MSG(std::fabs(got[size_t(i)] - exact) <= rounding_bound(2) * std::fabs(exact), "tanh_backward" << at);
    }
    // Soft update: fma(o, tau, t * keep).
    const auto online = uniform(n, rng);
    auto target = uniform(n, rng);
    const auto before = target;
    const double tau = 0.01;
    soft_update(n, target.data(), online.data(), tau);
    for (int64_t i = 0; i < n; ++i) {
      const double keep = double(float(1 - tau)), t = double(float(tau));
      const double kept = before[size_t(i)] * keep, moved = online[size_t(i)] * t;
      CHECK_MSG(
          std::fabs(target[size_t(i)] - (kept + moved)) <= rounding_bound(2) * (std::fabs(kept) + std::fabs(moved)),
          "soft_update" << at);
    }
    // Scale: one product each.
    auto scaled = g;
    scale(n, scaled.data(), 0.3f);
    for (int64_t i = 0; i < n; ++i) {
      CHECK(std::fabs(scaled[size_t(i)] - double(g[size_t(i)]) * double(0.3f)) <= u * std::fabs(scaled[size_t(i)]));
    }
    // Transpose: exact.
    const int64_t rows = 19, cols = 37;
    const auto src = uniform(rows * cols, rng);
    std::vector<float> dst(src.size());
    transpose(rows, cols, src.data(), dst.data());
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) CHECK(dst[size_t(c * rows + r)] == src[size_t(r * cols + c)]);
    }
    // Adam: six steps, each checked from the same state against the formula in float64 with the
    // hyperparameters rounded to float as the kernel applies them; small and large gradients.
    AdamParams adam;
    adam.lr = 3e-3;
    adam.weight_decay = 1e-4;
    auto p = uniform(n, rng, -0.3, 0.3);
    std::vector<float> m(size_t(n), 0.f), v(size_t(n), 0.f);
    for (int step = 1; step <= 6; ++step) {
      const auto grad = uniform(n, rng, step % 2 ? -1e-3 : -1, step % 2 ? 1e-3 : 1);
      const auto p0 = p, m0 = m, v0 = v;
      adam_step(n, p.data(), grad.data(), m.data(), v.data(), adam, step);
      const double b1 = float(adam.beta1), b2 = float(adam.beta2), omb1 = float(1 - adam.beta1),
                   omb2 = float(1 - adam.beta2), wd = float(adam.weight_decay), eps = float(adam.eps);
      const double bc2 = float(std::sqrt(1 - std::pow(adam.beta2, step)));
      const double step_size = float(adam.lr / (1 - std::pow(adam.beta1, step)));
      for (int64_t i = 0; i < n; ++i) {
        const double gi = grad[size_t(i)] + wd * p0[size_t(i)];
        const double mi = b1 * m0[size_t(i)] + omb1 * gi, vi = b2 * v0[size_t(i)] + omb2 * gi * gi;
        const double denom = std::sqrt(vi) / bc2 + eps, update = step_size * mi / denom;
        // m may cancel (its terms have either sign), so its error counts against its terms' magnitude;
        // v, the square root, eps and the two divisions are sums and products of positive terms (a few
        // roundings relative to the update), and the new parameter is one more rounding.
        const double m_terms = b1 * std::fabs(m0[size_t(i)]) + omb1 * std::fabs(gi);
        const double bound = u * std::fabs(p0[size_t(i)] - update) + rounding_bound(8) * std::fabs(update) +
                             rounding_bound(4) * step_size * m_terms / denom;
        CHECK_MSG(std::fabs(p[size_t(i)] - (p0[size_t(i)] - update)) <= bound,
                  "adam step " << step << " at " << i << at);
        CHECK(std::fabs(m[size_t(i)] - mi) <=
              rounding_bound(4) * (b1 * std::fabs(m0[size_t(i)]) + omb1 * std::fabs(gi)));
        CHECK(std::fabs(v[size_t(i)] - vi) <= rounding_bound(4) * (b2 * v0[size_t(i)] + omb2 * gi * gi));
      }
    }
  }
  limit_kernels(KernelLevel::kAvx512);
}

TEST(kernels_give_the_same_bits_on_every_level) {
  tennis::Rng rng(8);
  for (const auto& shape : kShapes) {
    for (bool transposed_a : {false, true}) {
      for (int variant = 0; variant < 3; ++variant) {
        const Product p(shape, transposed_a, variant, rng);
        for (int threads : {1, 2}) {
          expect_same_bits_on_every_level("gemm " + std::to_string(p.m) + "x" + std::to_string(p.n) + "x" +
                                              std::to_string(p.k) + " variant " + std::to_string(variant),
                                          [&] { return p.run(threads); });
        }
      }
    }
  }
  const int64_t m = 37, n = 3, k = 131, rows = 256, cols = 200;
  const auto x = uniform(m * k, rng), w = uniform(n * k, rng), bias = uniform(n, rng);
  expect_same_bits_on_every_level("dot_rows", [&] {
    std::vector<float> out(size_t(m * n));
    dot_rows(m, n, k, x.data(), k, w.data(), bias.data(), out.data(), n);
    return out;
  });
  const auto big = uniform(rows * cols, rng, -2, 2);
  expect_same_bits_on_every_level("column_sums, vector_norm, tanh, tanh_backward, transpose", [&] {
    std::vector<float> out(static_cast<size_t>(cols));
    column_sums(rows, cols, big.data(), cols, out.data());
    out.push_back(vector_norm(rows * cols, big.data()));
    std::vector<float> t = big;
    tanh_inplace(int64_t(t.size()), t.data());
    out.insert(out.end(), t.begin(), t.end());
    std::vector<float> g = big;
    tanh_backward(int64_t(g.size()), g.data(), t.data());
    out.insert(out.end(), g.begin(), g.end());
    std::vector<float> transposed(big.size());
    transpose(rows, cols, big.data(), transposed.data());
    out.insert(out.end(), transposed.begin(), transposed.end());
    return out;
  });
  expect_same_bits_on_every_level("adam_step, soft_update, scale", [&] {
    std::vector<float> p(big.begin(), big.begin() + 1003), mo(1003, 0.f), v(1003, 0.f), target(1003, 0.5f);
    AdamParams adam;
    adam.weight_decay = 1e-4;
    for (int step = 1; step <= 3; ++step) {
      adam_step(1003, p.data(), big.data() + 2000 * step, mo.data(), v.data(), adam, step);
      soft_update(1003, target.data(), p.data(), 0.01);
    }
    scale(1003, p.data(), 0.7f);
    std::vector<float> out = p;
    out.insert(out.end(), mo.begin(), mo.end());
    out.insert(out.end(), v.begin(), v.end());
    out.insert(out.end(), target.begin(), target.end());
    return out;
  });
}

// The kernels' outputs for fixed inputs, as one FNV-1a checksum of their bytes: the same on every CPU
// (x86-64 at each level, arm64 with the portable code), since each kernel's arithmetic is defined in
// IEEE operations alone. A change of a kernel's summation order changes it; then update kExpected.
TEST(kernels_checksum_is_the_same_on_every_machine) {
  constexpr uint64_t kExpected = 0x392c3a4cf69f3eb6ull;
  tennis::Rng rng(2026);
  std::vector<float> out;
  const Product p(kShapes[13], /*transposed=*/true, /*kind=*/1, rng);
  out = p.run(2);
  const auto x = uniform(37 * 131, rng), w = uniform(3 * 131, rng);
  std::vector<float> dots(37 * 3);
  dot_rows(37, 3, 131, x.data(), 131, w.data(), nullptr, dots.data(), 3);
  out.insert(out.end(), dots.begin(), dots.end());
  std::vector<float> sums(131);
  column_sums(37, 131, x.data(), 131, sums.data());
  out.insert(out.end(), sums.begin(), sums.end());
  out.push_back(vector_norm(37 * 131, x.data()));
  std::vector<float> t(x.begin(), x.end());
  for (auto& v : t) v *= 4;
  tanh_inplace(int64_t(t.size()), t.data());
  out.insert(out.end(), t.begin(), t.end());
  std::vector<float> params(w), m(w.size(), 0.f), v(w.size(), 0.f);
  AdamParams adam;
  adam.weight_decay = 1e-4;
  for (int step = 1; step <= 3; ++step)
    adam_step(int64_t(params.size()), params.data(), x.data() + step * 500, m.data(), v.data(), adam, step);
  out.insert(out.end(), params.begin(), params.end());
  uint64_t checksum = 1469598103934665603ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(out.data());
  for (size_t i = 0; i < out.size() * sizeof(float); ++i) checksum = (checksum ^ bytes[i]) * 1099511628211ull;
  std::cout << "     kernel checksum " << std::hex << checksum << std::dec << " at level "
            << kernel_level_name(kernel_level()) << "\n";
  CHECK_MSG(checksum == kExpected, "kernel checksum " << std::hex << checksum << " expected " << kExpected << std::dec);
}
