// The fused update's dense kernels: the portable code (any CPU; the reference for the x86 code, which
// must give the same bits), the AVX2 versions of the elementwise kernels and dot products, and the
// choice of level from the CPU. The SIMD products and column sums are in tiles_x86.cc.
// The core is compiled with -ffp-contract=off: an expression rounds as written, so the same source
// gives the same bits in the portable build and in the AVX2 functions (which could otherwise fuse
// a * b + c into one FMA that the portable build rounds twice).
#include "kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "tiles.h"

#ifdef TENNIS_FUSED_X86
#include <immintrin.h>
#define TENNIS_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace tennis::fused {
namespace {

// Rows per register tile of the portable product, so that gemm's threads split C as at the other
// levels (the split does not change bits; it keeps the work per thread comparable).
constexpr int64_t kPortableTileRows = 8;
// Products below this many multiply-adds run on one thread: a fork/join costs more than it saves.
constexpr int64_t kMinThreadedWork = int64_t(1) << 16;

// tanh: expm1(2|x|) as expm1(2|x| / 2^kTanhHalvings), from its Taylor series up to r^13 / 13! (for
// |x| <= 10, where tanh leaves 1 in float, |r| <= 0.3125 and the next term is below 1e-17 relative),
// doubled back kTanhHalvings times. Coefficients 1/13! .. 1/1! for Horner's rule.
constexpr int kTanhHalvings = 6;
constexpr double kTanhSeries[] = {1.0 / 6227020800.0,
                                  1.0 / 479001600.0,
                                  1.0 / 39916800.0,
                                  1.0 / 3628800.0,
                                  1.0 / 362880.0,
                                  1.0 / 40320.0,
                                  1.0 / 5040.0,
                                  1.0 / 720.0,
                                  1.0 / 120.0,
                                  1.0 / 24.0,
                                  1.0 / 6.0,
                                  1.0 / 2.0,
                                  1.0};

KernelLevel initial_limit() {
  if (std::getenv("TENNIS_FUSED_PORTABLE")) return KernelLevel::kPortable;
  if (std::getenv("TENNIS_FUSED_NO_AVX512")) return KernelLevel::kAvx2;
  return KernelLevel::kAvx512;
}

KernelLevel g_limit = initial_limit();

bool cpu_has_avx512() {
#ifdef TENNIS_FUSED_X86
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
  return has;
#else
  return false;
#endif
}

bool cpu_has_avx2() {
#ifdef TENNIS_FUSED_X86
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
#else
  return false;
#endif
}

bool use_avx2() { return g_limit != KernelLevel::kPortable && cpu_has_avx2(); }
bool use_avx512() { return g_limit == KernelLevel::kAvx512 && cpu_has_avx2() && cpu_has_avx512(); }

// ---- portable code ---------------------------------------------------------------------------------

// v > 0 ? v : 0: a NaN becomes 0, as the x86 max instructions make it.
inline float relu(float v) { return v > 0 ? v : 0.f; }

// Rows [m_begin, m_end) of gemm's C. Each row of C accumulates in place, k outermost, so that each
// element is its chain of FMAs in k order (and the loop over columns vectorises where FMA exists).
void gemm_rows_portable(int64_t m_begin, int64_t m_end, int64_t n, int64_t k, Strided a, const float* b, int64_t ldb,
                        float* c, int64_t ldc, const Epilogue& e) {
  for (int64_t i = m_begin; i < m_end; ++i) {
    float* ci = c + i * ldc;
    std::fill(ci, ci + n, 0.f);
    for (int64_t p = 0; p < k; ++p) {
      const float av = a.data[i * a.row_stride + p * a.col_stride];
      const float* bp = b + p * ldb;
      for (int64_t j = 0; j < n; ++j) ci[j] = std::fma(av, bp[j], ci[j]);
    }
    for (int64_t j = 0; j < n; ++j) {
      float v = e.bias ? e.bias[j] + ci[j] : ci[j];
      if (e.relu) v = relu(v);
      if (e.mask && !(e.mask[i * e.ld_mask + j] > 0)) v = 0;
      ci[j] = v;
    }
  }
}

// The partial sums of a dot product folded by halves (kernels.h).
inline float fold_halves(float* lanes) {
  for (int width = kDotLanes / 2; width >= 1; width /= 2) {
    for (int i = 0; i < width; ++i) lanes[i] = lanes[i + width] + lanes[i];
  }
  return lanes[0];
}

void dot_rows_portable(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx, const float* w, const float* bias,
                       float* out, int64_t ldo) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float lanes[kDotLanes] = {};
      const float* xi = x + i * ldx;
      const float* wj = w + j * k;
      for (int64_t p = 0; p < k; ++p) lanes[p % kDotLanes] = std::fma(xi[p], wj[p], lanes[p % kDotLanes]);
      const float sum = fold_halves(lanes);
      out[i * ldo + j] = bias ? bias[j] + sum : sum;
    }
  }
}

void column_sums_portable(int64_t rows, int64_t cols, const float* x, int64_t ldx, float* out) {
  std::fill(out, out + cols, 0.f);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) out[c] += x[r * ldx + c];
  }
}

// Loop bodies shared by the portable and the AVX2 builds: the compiler vectorises each copy for its
// target, with the same operations per element.
// magnitude with the sign bit of x.
__attribute__((always_inline)) inline float with_sign_of(float magnitude, float x) {
  uint32_t m, s;
  std::memcpy(&m, &magnitude, sizeof m);
  std::memcpy(&s, &x, sizeof s);
  m |= s & 0x80000000u;
  std::memcpy(&magnitude, &m, sizeof m);
  return magnitude;
}

// tanh|x| = 1 / (1 + 2 / e) with e = expm1(2|x|), in double, then the sign of x. Branch-free, so it
// vectorises: e = 0 gives 0, e = inf (|x| > ~350) gives 1, and past |x| = 10 the truncated series
// still grows with |x| and gives 1 in float.
__attribute__((always_inline)) inline float tanh_of(float x) {
  const double r = std::fabs(double(x)) * (2.0 / double(1 << kTanhHalvings));
  double series = kTanhSeries[0];  // not 0 * r + ...: 0 * inf would be NaN
  for (size_t c = 1; c < std::size(kTanhSeries); ++c) series = series * r + kTanhSeries[c];
  double e = series * r;                                      // expm1(r)
  for (int h = 0; h < kTanhHalvings; ++h) e = e * (e + 2.0);  // expm1(2a) = expm1(a) (expm1(a) + 2)
  return with_sign_of(float(1.0 / (1.0 + 2.0 / e)), x);
}

__attribute__((always_inline)) inline void tanh_body(int64_t n, float* __restrict x) {
  for (int64_t i = 0; i < n; ++i) x[i] = tanh_of(x[i]);
}

__attribute__((always_inline)) inline void adam_body(int64_t n, float* __restrict p, const float* __restrict g,
                                                     float* __restrict m, float* __restrict v, float beta1,
                                                     float one_minus_beta1, float beta2, float one_minus_beta2,
                                                     float bias_correction2_sqrt, float eps, float neg_step_size,
                                                     float weight_decay) {
  for (int64_t i = 0; i < n; ++i) {
    const float grad = weight_decay != 0 ? std::fma(p[i], weight_decay, g[i]) : g[i];
    const float exp_avg = std::fma(grad, one_minus_beta1, m[i] * beta1);
    const float exp_avg_sq = std::fma(one_minus_beta2 * grad, grad, v[i] * beta2);
    m[i] = exp_avg;
    v[i] = exp_avg_sq;
    const float denom = std::sqrt(exp_avg_sq) / bias_correction2_sqrt + eps;
    p[i] = p[i] + (neg_step_size * exp_avg) / denom;
  }
}

__attribute__((always_inline)) inline void soft_update_body(int64_t n, float* __restrict t, const float* __restrict o,
                                                            float keep, float tau) {
  for (int64_t i = 0; i < n; ++i) t[i] = std::fma(o[i], tau, t[i] * keep);
}

__attribute__((always_inline)) inline void scale_body(int64_t n, float* __restrict x, float s) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

__attribute__((always_inline)) inline void tanh_backward_body(int64_t n, float* __restrict g,
                                                              const float* __restrict y) {
  for (int64_t i = 0; i < n; ++i) g[i] = g[i] * std::fma(-y[i], y[i], 1.f);
}

void transpose_portable(int64_t rows, int64_t cols, const float* __restrict src, float* __restrict dst) {
  // 8 x 8 blocks keep both sides within a few cache lines.
  constexpr int64_t kBlock = 8;
  for (int64_t r0 = 0; r0 < rows; r0 += kBlock) {
    const int64_t r1 = std::min(rows, r0 + kBlock);
    for (int64_t c0 = 0; c0 < cols; c0 += kBlock) {
      const int64_t c1 = std::min(cols, c0 + kBlock);
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t c = c0; c < c1; ++c) dst[c * rows + r] = src[r * cols + c];
      }
    }
  }
}

#ifdef TENNIS_FUSED_X86

// ---- AVX2 + FMA (also what the AVX-512 level uses outside the products) -----------------------------

TENNIS_AVX2 void tanh_backward_avx2(int64_t n, float* g, const float* y) { tanh_backward_body(n, g, y); }
TENNIS_AVX2 void tanh_avx2(int64_t n, float* x) { tanh_body(n, x); }
TENNIS_AVX2 void soft_update_avx2(int64_t n, float* t, const float* o, float keep, float tau) {
  soft_update_body(n, t, o, keep, tau);
}
TENNIS_AVX2 void scale_avx2(int64_t n, float* x, float s) { scale_body(n, x, s); }

// fold_halves of the 16 partial sums lo (0-7), hi (8-15) in registers: the same additions.
TENNIS_AVX2 inline float fold_halves_avx2(__m256 lo, __m256 hi) {
  const __m256 eight = _mm256_add_ps(hi, lo);  // lane i + 8 plus lane i
  const __m128 four = _mm_add_ps(_mm256_extractf128_ps(eight, 1), _mm256_castps256_ps128(eight));
  const __m128 two = _mm_add_ps(_mm_movehl_ps(four, four), four);
  return _mm_cvtss_f32(_mm_add_ss(_mm_movehdup_ps(two), two));
}

// Dot products of R rows of x with row j of w: partial sums 0-7 and 8-15 in two vectors, the k tail
// masked in; the R rows share each load of w and keep 2R FMA chains in flight.
template <int R>
TENNIS_AVX2 void dot_block_avx2(int64_t n, int64_t k, const float* x, int64_t ldx, const float* w, const float* bias,
                                float* out, int64_t ldo) {
  static_assert(kDotLanes == 16, "two 8-float vectors of partial sums");
  const int64_t full = k / kDotLanes * kDotLanes;
  const int rest = int(k - full);
  const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i mask_lo = _mm256_cmpgt_epi32(_mm256_set1_epi32(rest), index);
  const __m256i mask_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32(rest - 8), index);
  for (int64_t j = 0; j < n; ++j) {
    const float* wj = w + j * k;
    __m256 lo[R], hi[R];
    for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
    for (int64_t p = 0; p < full; p += kDotLanes) {
      const __m256 w_lo = _mm256_loadu_ps(wj + p), w_hi = _mm256_loadu_ps(wj + p + 8);
      for (int r = 0; r < R; ++r) {
        lo[r] = _mm256_fmadd_ps(_mm256_loadu_ps(x + r * ldx + p), w_lo, lo[r]);
        hi[r] = _mm256_fmadd_ps(_mm256_loadu_ps(x + r * ldx + p + 8), w_hi, hi[r]);
      }
    }
    if (rest) {
      const __m256 w_lo = _mm256_maskload_ps(wj + full, mask_lo), w_hi = _mm256_maskload_ps(wj + full + 8, mask_hi);
      for (int r = 0; r < R; ++r) {
        lo[r] = _mm256_fmadd_ps(_mm256_maskload_ps(x + r * ldx + full, mask_lo), w_lo, lo[r]);
        hi[r] = _mm256_fmadd_ps(_mm256_maskload_ps(x + r * ldx + full + 8, mask_hi), w_hi, hi[r]);
      }
    }
    for (int r = 0; r < R; ++r) {
      const float dot = fold_halves_avx2(lo[r], hi[r]);
      out[r * ldo + j] = bias ? bias[j] + dot : dot;
    }
  }
}

TENNIS_AVX2 void dot_rows_avx2(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx, const float* w,
                               const float* bias, float* out, int64_t ldo) {
  constexpr int kRows = 4;
  int64_t i = 0;
  for (; i + kRows <= m; i += kRows) dot_block_avx2<kRows>(n, k, x + i * ldx, ldx, w, bias, out + i * ldo, ldo);
  for (; i < m; ++i) dot_block_avx2<1>(n, k, x + i * ldx, ldx, w, bias, out + i * ldo, ldo);
}

TENNIS_AVX2 void adam_avx2(int64_t n, float* p, const float* g, float* m, float* v, float b1, float omb1, float b2,
                           float omb2, float bc2, float eps, float neg_step, float wd) {
  // adam_body with explicit vectors: std::sqrt keeps errno semantics, which stops the vectoriser.
  const __m256 vb1 = _mm256_set1_ps(b1), vomb1 = _mm256_set1_ps(omb1), vb2 = _mm256_set1_ps(b2);
  const __m256 vomb2 = _mm256_set1_ps(omb2), vbc2 = _mm256_set1_ps(bc2), veps = _mm256_set1_ps(eps);
  const __m256 vstep = _mm256_set1_ps(neg_step), vwd = _mm256_set1_ps(wd);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 param = _mm256_loadu_ps(p + i);
    __m256 grad = _mm256_loadu_ps(g + i);
    if (wd != 0) grad = _mm256_fmadd_ps(param, vwd, grad);
    const __m256 exp_avg = _mm256_fmadd_ps(grad, vomb1, _mm256_mul_ps(_mm256_loadu_ps(m + i), vb1));
    const __m256 exp_avg_sq =
        _mm256_fmadd_ps(_mm256_mul_ps(vomb2, grad), grad, _mm256_mul_ps(_mm256_loadu_ps(v + i), vb2));
    _mm256_storeu_ps(m + i, exp_avg);
    _mm256_storeu_ps(v + i, exp_avg_sq);
    const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(exp_avg_sq), vbc2), veps);
    _mm256_storeu_ps(p + i, _mm256_add_ps(param, _mm256_div_ps(_mm256_mul_ps(vstep, exp_avg), denom)));
  }
  adam_body(n - i, p + i, g + i, m + i, v + i, b1, omb1, b2, omb2, bc2, eps, neg_step, wd);
}

// Full 8 x 8 blocks by register shuffles, the edges by the portable loop. Column blocks outermost:
// consecutive blocks then store consecutive pieces of the same 8 rows of dst.
TENNIS_AVX2 void transpose_avx2(int64_t rows, int64_t cols, const float* src, float* dst) {
  const int64_t rows8 = rows & ~int64_t(7), cols8 = cols & ~int64_t(7);
  for (int64_t c0 = 0; c0 < cols8; c0 += 8) {
    for (int64_t r0 = 0; r0 < rows8; r0 += 8) {
      __m256 x[8], t[8];
      for (int i = 0; i < 8; ++i) x[i] = _mm256_loadu_ps(src + (r0 + i) * cols + c0);
      t[0] = _mm256_unpacklo_ps(x[0], x[1]);
      t[1] = _mm256_unpackhi_ps(x[0], x[1]);
      t[2] = _mm256_unpacklo_ps(x[2], x[3]);
      t[3] = _mm256_unpackhi_ps(x[2], x[3]);
      t[4] = _mm256_unpacklo_ps(x[4], x[5]);
      t[5] = _mm256_unpackhi_ps(x[4], x[5]);
      t[6] = _mm256_unpacklo_ps(x[6], x[7]);
      t[7] = _mm256_unpackhi_ps(x[6], x[7]);
      x[0] = _mm256_shuffle_ps(t[0], t[2], _MM_SHUFFLE(1, 0, 1, 0));
      x[1] = _mm256_shuffle_ps(t[0], t[2], _MM_SHUFFLE(3, 2, 3, 2));
      x[2] = _mm256_shuffle_ps(t[1], t[3], _MM_SHUFFLE(1, 0, 1, 0));
      x[3] = _mm256_shuffle_ps(t[1], t[3], _MM_SHUFFLE(3, 2, 3, 2));
      x[4] = _mm256_shuffle_ps(t[4], t[6], _MM_SHUFFLE(1, 0, 1, 0));
      x[5] = _mm256_shuffle_ps(t[4], t[6], _MM_SHUFFLE(3, 2, 3, 2));
      x[6] = _mm256_shuffle_ps(t[5], t[7], _MM_SHUFFLE(1, 0, 1, 0));
      x[7] = _mm256_shuffle_ps(t[5], t[7], _MM_SHUFFLE(3, 2, 3, 2));
      for (int i = 0; i < 4; ++i) {
        _mm256_storeu_ps(dst + (c0 + i) * rows + r0, _mm256_permute2f128_ps(x[i], x[i + 4], 0x20));
        _mm256_storeu_ps(dst + (c0 + i + 4) * rows + r0, _mm256_permute2f128_ps(x[i], x[i + 4], 0x31));
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = (r < rows8 ? cols8 : 0); c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
  }
}

#endif  // TENNIS_FUSED_X86

void gemm_rows(int64_t m_begin, int64_t m_end, int64_t n, int64_t k, Strided a, const float* b, int64_t ldb, float* c,
               int64_t ldc, const Epilogue& e) {
#ifdef TENNIS_FUSED_X86
  if (use_avx512()) return avx512::gemm_rows(m_begin, m_end, n, k, a, b, ldb, c, ldc, e);
  if (use_avx2()) return avx2::gemm_rows(m_begin, m_end, n, k, a, b, ldb, c, ldc, e);
#endif
  gemm_rows_portable(m_begin, m_end, n, k, a, b, ldb, c, ldc, e);
}

int64_t tile_rows() {
#ifdef TENNIS_FUSED_X86
  if (use_avx512()) return avx512::tile_rows();
  if (use_avx2()) return avx2::tile_rows();
#endif
  return kPortableTileRows;
}

}  // namespace

void gemm(int64_t m, int64_t n, int64_t k, Strided a, const float* b, int64_t ldb, float* c, int64_t ldc,
          const Epilogue& epilogue, int threads) {
  if (m <= 0 || n <= 0) return;
  // Threads split the rows at whole register tiles of the kernel in use.
  const int64_t rows_per_tile = tile_rows();
  const int64_t tiles = (m + rows_per_tile - 1) / rows_per_tile;
  const bool split = threads > 1 && tiles > 1 && m * n * k >= kMinThreadedWork && !omp_in_parallel();
  if (!split) return gemm_rows(0, m, n, k, a, b, ldb, c, ldc, epilogue);
  const int teams = int(std::min<int64_t>(threads, tiles));
#pragma omp parallel num_threads(teams)
  {
    const int64_t id = omp_get_thread_num(), count = omp_get_num_threads();
    const int64_t first = tiles * id / count, last = tiles * (id + 1) / count;
    gemm_rows(first * rows_per_tile, std::min(m, last * rows_per_tile), n, k, a, b, ldb, c, ldc, epilogue);
  }
}

void dot_rows(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx, const float* w, const float* bias,
              float* out, int64_t ldo) {
#ifdef TENNIS_FUSED_X86
  if (use_avx2()) return dot_rows_avx2(m, n, k, x, ldx, w, bias, out, ldo);
#endif
  dot_rows_portable(m, n, k, x, ldx, w, bias, out, ldo);
}

void column_sums(int64_t rows, int64_t cols, const float* x, int64_t ldx, float* out) {
#ifdef TENNIS_FUSED_X86
  if (use_avx512()) return avx512::column_sums(rows, cols, x, ldx, out);
  if (use_avx2()) return avx2::column_sums(rows, cols, x, ldx, out);
#endif
  column_sums_portable(rows, cols, x, ldx, out);
}

float vector_norm(int64_t n, const float* x) {
  float sum_of_squares = 0;
  dot_rows(1, 1, n, x, n, x, nullptr, &sum_of_squares, 1);
  return std::sqrt(sum_of_squares);
}

void tanh_inplace(int64_t n, float* x) {
#ifdef TENNIS_FUSED_X86
  if (use_avx2()) return tanh_avx2(n, x);
#endif
  tanh_body(n, x);
}

void tanh_backward(int64_t n, float* grad, const float* y) {
#ifdef TENNIS_FUSED_X86
  if (use_avx2()) return tanh_backward_avx2(n, grad, y);
#endif
  tanh_backward_body(n, grad, y);
}

void transpose(int64_t rows, int64_t cols, const float* src, float* dst) {
#ifdef TENNIS_FUSED_X86
  if (use_avx2()) return transpose_avx2(rows, cols, src, dst);
#endif
  transpose_portable(rows, cols, src, dst);
}

void scale(int64_t n, float* x, float s) {
#ifdef TENNIS_FUSED_X86
  if (use_avx2()) return scale_avx2(n, x, s);
#endif
  scale_body(n, x, s);
}

void adam_step(int64_t n, float* params, const float* grad, float* exp_avg, float* exp_avg_sq, const AdamParams& adam,
               int64_t step) {
  // The scalars in float, as torch.optim.Adam applies its double hyperparameters to float tensors.
  const double bias_correction1 = 1 - std::pow(adam.beta1, double(step));
  const double bias_correction2 = 1 - std::pow(adam.beta2, double(step));
  const float b1 = float(adam.beta1), omb1 = float(1 - adam.beta1);
  const float b2 = float(adam.beta2), omb2 = float(1 - adam.beta2);
  const float bc2 = float(std::sqrt(bias_correction2));
  const float eps = float(adam.eps), neg_step = float(-(adam.lr / bias_correction1));
  const float wd = float(adam.weight_decay);
#ifdef TENNIS_FUSED_X86
  if (use_avx2()) return adam_avx2(n, params, grad, exp_avg, exp_avg_sq, b1, omb1, b2, omb2, bc2, eps, neg_step, wd);
#endif
  adam_body(n, params, grad, exp_avg, exp_avg_sq, b1, omb1, b2, omb2, bc2, eps, neg_step, wd);
}

void soft_update(int64_t n, float* target, const float* online, double tau) {
  const float keep = float(1.0 - tau), t = float(tau);
#ifdef TENNIS_FUSED_X86
  if (use_avx2()) return soft_update_avx2(n, target, online, keep, t);
#endif
  soft_update_body(n, target, online, keep, t);
}

KernelLevel kernel_level() {
  return use_avx512() ? KernelLevel::kAvx512 : use_avx2() ? KernelLevel::kAvx2 : KernelLevel::kPortable;
}

const char* kernel_level_name(KernelLevel level) {
  switch (level) {
    case KernelLevel::kAvx512:
      return "avx512";
    case KernelLevel::kAvx2:
      return "avx2";
    default:
      return "portable";
  }
}

void limit_kernels(KernelLevel level) { g_limit = level; }

}  // namespace tennis::fused
