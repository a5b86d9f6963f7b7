// The fused update's dense kernels. The product is a register-tiled "broadcast A, stream B" kernel
// (6 rows x 16 columns of C in 12 AVX2 accumulators) so that one code path serves the forward pass
// (X . W^T with W^T packed), the input gradient (dZ . W) and the weight gradient (dZ^T . X) without
// copying operands; bias, ReLU and the ReLU-backward mask are applied while C is still in registers.
// The core is built for x86-64-v2, so AVX2 code carries a target attribute and is chosen at run time.
// The rounding orders copied from OpenBLAS and LibTorch are named where they are used (see kernels.h).
#include "kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TENNIS_FUSED_X86 1
#define TENNIS_AVX2 __attribute__((target("avx2,fma")))
#define TENNIS_AVX512 __attribute__((target("avx512f,avx2,fma")))
#endif

namespace tennis::fused {
namespace {

// Rows of C per register tile.
constexpr int kTileRows = 6;
// Columns of C per register tile (two 8-float vectors).
constexpr int kTileCols = 16;
// OpenBLAS 0.3.21 sgemm (SkylakeX/Cooperlake kernels) sums k in blocks of at most GEMM_Q = 320,
// halving a remainder between 320 and 640 rounded up to GEMM_UNROLL_M = 16; each block's sum is
// added to C. Measured against LibTorch's mm (native/tests/test_fused.cc).
constexpr int64_t kBlasQ = 320;
constexpr int64_t kBlasUnrollM = 16;
// Interleaved partial sums of OpenBLAS's small-matrix "dot" kernels (one AVX-512 vector).
constexpr int kDotLanes = 16;
// LibTorch's CPU kernels here use AVX2 vectors: 8 floats (the cascade sum's lane count).
constexpr int kSumLanes = 8;
// The cascade sum's accumulator levels and its rows per inner sum (SumKernel.cpp).
constexpr int64_t kSumLevels = 4;
constexpr int64_t kSumIlp = 4;

// The widest kernels allowed (test hook; TENNIS_FUSED_NO_AVX512 caps it at AVX2 for measurements).
KernelLevel g_limit = std::getenv("TENNIS_FUSED_NO_AVX512") ? KernelLevel::kAvx2 : KernelLevel::kAvx512;

// Rows of C per AVX-512 register tile: 8 x 32 (16 accumulators) ran the update's products at 94-98%
// of the FMA peak here, 12 x 32 at 88-93% (unmasked loads in both).
constexpr int kTileRows512 = 8;
// 16-float vectors per AVX-512 tile row, and the columns of C they cover.
constexpr int kTileVectors512 = 2;
constexpr int kTileCols512 = 16 * kTileVectors512;
// Products with at most this many columns of C run with rows in the vector lanes (gemm_narrow_avx512).
constexpr int64_t kNarrowColumns = 4;

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

// ---- portable versions (any CPU; also the tests' second opinion) ---------------------------------

// The length of the k block starting at `done` of `k` (OpenBLAS level3.c).
int64_t k_block(int64_t k, int64_t done) {
  int64_t len = k - done;
  if (len >= 2 * kBlasQ) {
    len = kBlasQ;
  } else if (len > kBlasQ) {
    len = ((len / 2 + kBlasUnrollM - 1) / kBlasUnrollM) * kBlasUnrollM;
  }
  return len;
}

// One k block of C: C = start + sum over the block (start = bias or 0 for the first block, C after).
void gemm_block_portable(int64_t m_begin, int64_t m_end, int64_t n, int64_t k0, int64_t k1, Strided a,
                         const float* b, int64_t ldb, float* c, int64_t ldc, const Epilogue& e, bool first, bool last) {
  for (int64_t i = m_begin; i < m_end; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0;
      for (int64_t p = k0; p < k1; ++p) acc = std::fma(a.data[i * a.row_stride + p * a.col_stride], b[p * ldb + j], acc);
      float v = first ? (e.bias ? e.bias[j] + acc : acc) : c[i * ldc + j] + acc;
      if (last && e.relu) v = std::max(v, 0.f);
      if (last && e.mask && !(e.mask[i * e.ld_mask + j] > 0)) v = 0;
      c[i * ldc + j] = v;
    }
  }
}

// block(k0, k1) for each k block of a k-long sum, in order: OpenBLAS's blocks with split_k, else one
// (an empty one when k == 0, so that C still gets its start value and epilogue).
template <typename Block>
inline void for_each_k_block(int64_t k, bool split_k, const Block& block) {
  int64_t k0 = 0;
  do {
    const int64_t k1 = split_k && k > 0 ? k0 + k_block(k, k0) : k;
    block(k0, k1);
    k0 = k1;
  } while (k0 < k);
}

void gemm_rows_portable(int64_t m_begin, int64_t m_end, int64_t n, int64_t k, Strided a, const float* b,
                        int64_t ldb, float* c, int64_t ldc, const Epilogue& e, bool split_k) {
  for_each_k_block(k, split_k, [&](int64_t k0, int64_t k1) {
    gemm_block_portable(m_begin, m_end, n, k0, k1, a, b, ldb, c, ldc, e, k0 == 0, k1 == k);
  });
}

// The two folds of 16 partial sums in OpenBLAS's small kernels: REDUCE_4's unpack/shuffle tree adds
// neighbours, (0+1), (2+3), ... then again; _mm512_reduce_add_ps (GCC) adds halves, (i + 8), (i + 4)...
inline float fold_pairwise(float* lanes) {
  for (int width = kDotLanes; width > 1; width /= 2) {
    for (int i = 0; i < width / 2; ++i) lanes[i] = lanes[2 * i] + lanes[2 * i + 1];
  }
  return lanes[0];
}

inline float fold_halves(float* lanes) {
  for (int width = kDotLanes / 2; width >= 2; width /= 2) {
    for (int i = 0; i < width; ++i) lanes[i] = lanes[i + width] + lanes[i];
  }
  return lanes[0] + lanes[1];
}

void dot_rows_portable(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx, const float* w,
                       const float* bias, float* out, int64_t ldo, int64_t pairwise_rows, int64_t pairwise_cols) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float lanes[kDotLanes] = {};
      for (int64_t p = 0; p < k; ++p) lanes[p % kDotLanes] = std::fma(x[i * ldx + p], w[j * k + p], lanes[p % kDotLanes]);
      const bool pairwise = i < pairwise_rows || j < pairwise_cols;
      const float sum = pairwise ? fold_pairwise(lanes) : fold_halves(lanes);
      out[i * ldo + j] = bias ? bias[j] + sum : sum;
    }
  }
}

// ---- LibTorch's cascade sum (ATen/native/cpu/SumKernel.cpp), lane for lane ----------------------

// kSumLanes floats summed lane-wise: LibTorch's Vectorized<float>, or one lane of it.
template <int W>
struct Lanes {
  float v[W];
};

template <int W>
__attribute__((always_inline)) inline void add_into(Lanes<W>& acc, const Lanes<W>& x) {
  for (int l = 0; l < W; ++l) acc.v[l] += x.v[l];
}

inline int64_t ceil_log2(int64_t x) {
  if (x <= 2) return 1;
  int64_t bits = 0;
  for (uint64_t v = uint64_t(x - 1); v; v >>= 1) ++bits;
  return bits;
}

// multi_row_sum: NR running sums over `size` rows, each added in chunks of >= 16 rows to a next level.
template <int W, int NR, typename Load>
__attribute__((always_inline)) inline void multi_row_sum(const Load& load, int64_t size, Lanes<W>* out) {
  const int64_t level_power = std::max<int64_t>(4, ceil_log2(size) / kSumLevels);
  const int64_t level_step = int64_t(1) << level_power;
  const int64_t level_mask = level_step - 1;
  Lanes<W> acc[kSumLevels][NR];
  for (auto& level : acc) {
    for (auto& a : level) std::fill(a.v, a.v + W, 0.f);
  }
  int64_t i = 0;
  for (; i + level_step <= size;) {
    for (int64_t j = 0; j < level_step; ++j, ++i) {
      for (int r = 0; r < NR; ++r) add_into(acc[0][r], load(i, r));
    }
    for (int64_t j = 1; j < kSumLevels; ++j) {
      for (int r = 0; r < NR; ++r) {
        add_into(acc[j][r], acc[j - 1][r]);
        std::fill(acc[j - 1][r].v, acc[j - 1][r].v + W, 0.f);
      }
      if ((i & (level_mask << (j * level_power))) != 0) break;
    }
  }
  for (; i < size; ++i) {
    for (int r = 0; r < NR; ++r) add_into(acc[0][r], load(i, r));
  }
  for (int64_t j = 1; j < kSumLevels; ++j) {
    for (int r = 0; r < NR; ++r) add_into(acc[0][r], acc[j][r]);
  }
  for (int r = 0; r < NR; ++r) out[r] = acc[0][r];
}

// row_sum: one sum over `size` rows as kSumIlp interleaved running sums, then folded.
template <int W, typename Load>
__attribute__((always_inline)) inline Lanes<W> row_sum(const Load& load, int64_t size) {
  const int64_t size_ilp = size / kSumIlp;
  Lanes<W> partial[kSumIlp];
  multi_row_sum<W, kSumIlp>([&](int64_t i, int r) { return load(i * kSumIlp + r); }, size_ilp, partial);
  for (int64_t i = size_ilp * kSumIlp; i < size; ++i) add_into(partial[0], load(i));
  for (int r = 1; r < kSumIlp; ++r) add_into(partial[0], partial[r]);
  return partial[0];
}

template <int W>
__attribute__((always_inline)) inline Lanes<W> load_lanes(const float* p) {
  Lanes<W> out;
  for (int l = 0; l < W; ++l) out.v[l] = p[l];
  return out;
}

// `done`: leading columns, whole blocks of 4 vectors, that a wider kernel has summed already.
__attribute__((always_inline)) inline void column_sums_body(int64_t rows, int64_t cols, const float* x, int64_t ldx,
                                                            float* out, int64_t done = 0) {
  constexpr int W = kSumLanes;
  if (cols == 1 && ldx == 1) {
    // A contiguous column: vectorized_inner_sum (W-wide loads along the rows, lanes folded last).
    const int64_t vectors = rows / W;
    const Lanes<W> acc = row_sum<W>([&](int64_t i) { return load_lanes<W>(x + i * W); }, vectors);
    float total = 0;
    for (int64_t r = vectors * W; r < rows; ++r) total += x[r];
    for (int l = 0; l < W; ++l) total += acc.v[l];
    out[0] = total;
    return;
  }
  int64_t j = done;
  if (cols >= W) {
    // vectorized_outer_sum: blocks of 4 vectors of columns, then single vectors, then single columns.
    for (; j + 4 * W <= cols; j += 4 * W) {
      Lanes<W> sums[4];
      multi_row_sum<W, 4>([&](int64_t i, int r) { return load_lanes<W>(x + i * ldx + j + r * W); }, rows, sums);
      for (int r = 0; r < 4; ++r) std::copy(sums[r].v, sums[r].v + W, out + j + r * W);
    }
    for (; j + W <= cols; j += W) {
      const Lanes<W> s = row_sum<W>([&](int64_t i) { return load_lanes<W>(x + i * ldx + j); }, rows);
      std::copy(s.v, s.v + W, out + j);
    }
  } else {
    // scalar_outer_sum: four columns at a time.
    for (; j + 3 < cols; j += 4) {
      Lanes<1> sums[4];
      multi_row_sum<1, 4>([&](int64_t i, int r) { return Lanes<1>{{x[i * ldx + j + r]}}; }, rows, sums);
      for (int r = 0; r < 4; ++r) out[j + r] = sums[r].v[0];
    }
  }
  for (; j < cols; ++j) out[j] = row_sum<1>([&](int64_t i) { return Lanes<1>{{x[i * ldx + j]}}; }, rows).v[0];
}

// Loop bodies shared by the portable and the AVX2 builds: the compiler vectorises each copy for its target.
__attribute__((always_inline)) inline float vector_norm_body(int64_t n, const float* __restrict x) {
  // LibTorch's norm kernel (binary_kernel_reduce_lastdim): 8 FMA lanes folded in order, then a
  // scalar tail that its compiler turned into rounded products added in fours, then FMAs.
  float lanes[kSumLanes] = {};
  int64_t i = 0;
  for (; i + kSumLanes <= n; i += kSumLanes) {
    for (int l = 0; l < kSumLanes; ++l) lanes[l] = std::fma(x[i + l], x[i + l], lanes[l]);
  }
  float total = lanes[0];
  for (int l = 1; l < kSumLanes; ++l) total = total + lanes[l];
  for (; i + 4 <= n; i += 4) {
    for (int l = 0; l < 4; ++l) total = total + std::fma(x[i + l], x[i + l], 0.f);  // fma(x, x, 0): x * x, never fused
  }
  for (; i < n; ++i) total = std::fma(x[i], x[i], total);
  return std::sqrt(total);
}

__attribute__((always_inline)) inline void adam_body(int64_t n, float* __restrict p, const float* __restrict g,
                                                     float* __restrict m, float* __restrict v, float beta1,
                                                     float one_minus_beta1, float beta2, float one_minus_beta2,
                                                     float bias_correction2_sqrt, float eps, float neg_step_size,
                                                     float weight_decay) {
  for (int64_t i = 0; i < n; ++i) {
    // LibTorch's kernels: add(alpha) and addcmul are FMAs, mul and addcdiv are not.
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
  for (int64_t i = 0; i < n; ++i) t[i] = std::fma(o[i], tau, t[i] * keep);  // mul_ then add_(alpha)
}

__attribute__((always_inline)) inline void scale_body(int64_t n, float* __restrict x, float s) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

__attribute__((always_inline)) inline void tanh_backward_body(int64_t n, float* __restrict g, const float* __restrict y) {
  for (int64_t i = 0; i < n; ++i) g[i] = g[i] * std::fma(-y[i], y[i], 1.f);  // as LibTorch's tanh_backward
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

// ---- AVX2 + FMA ----------------------------------------------------------------------------------

// What a tile does with its sums when it computes the whole of C in one k block, fixed at compile
// time for the full tiles (a run-time choice among them costs ~5% on short k here).
enum class Finish { kRuntime, kStore, kBias, kBiasRelu, kMask };

// The fixed finish that does what `e` asks of a product summed in one k block (kRuntime: none does).
Finish finish_of(const Epilogue& e) {
  if (e.mask) return e.bias || e.relu ? Finish::kRuntime : Finish::kMask;
  if (e.bias) return e.relu ? Finish::kBiasRelu : Finish::kBias;
  return e.relu ? Finish::kRuntime : Finish::kStore;
}

// One MR x (8 NV) tile of C over k; the last vector is partial (kTail) at the right edge. F other
// than kRuntime: the tile is C's only k block and finishes as F says.
template <int MR, int NV, bool kTail, Finish F = Finish::kRuntime>
TENNIS_AVX2 void tile_avx2(int64_t k, const float* a, int64_t am, int64_t ak, const float* b, int64_t ldb, float* c,
                           int64_t ldc, const Epilogue& e, int64_t row, int64_t col, int tail_count, bool first,
                           bool last) {
  const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail_count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256 acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) acc[i][j] = _mm256_setzero_ps();
  }
  for (int64_t p = 0; p < k; ++p) {
    __m256 bv[NV];
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) {
      bv[j] = (kTail && j == NV - 1) ? _mm256_maskload_ps(b + 8 * j, tail) : _mm256_loadu_ps(b + 8 * j);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m256 av = _mm256_broadcast_ss(a + i * am);
#pragma GCC unroll 2
      for (int j = 0; j < NV; ++j) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
    }
    a += ak;
    b += ldb;
  }
  constexpr bool fixed = F != Finish::kRuntime;
  const bool add_bias = fixed ? F == Finish::kBias || F == Finish::kBiasRelu : first && e.bias;
  const bool relu = fixed ? F == Finish::kBiasRelu : last && e.relu;
  const bool mask = fixed ? F == Finish::kMask : last && e.mask;
  const __m256 zero = _mm256_setzero_ps();
  // Loaded once: the stores below may alias them as far as the compiler knows.
  __m256 bias[NV];
  if (add_bias) {
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) {
      const float* bp = e.bias + col + 8 * j;
      bias[j] = kTail && j == NV - 1 ? _mm256_maskload_ps(bp, tail) : _mm256_loadu_ps(bp);
    }
  }
  const float* mask_row = mask ? e.mask + row * e.ld_mask + col : nullptr;
  const int64_t ld_mask = e.ld_mask;
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) {
      const bool partial = kTail && j == NV - 1;
      __m256 v = acc[i][j];
      float* cp = c + i * ldc + 8 * j;
      if (!fixed && !first) {
        v = _mm256_add_ps(partial ? _mm256_maskload_ps(cp, tail) : _mm256_loadu_ps(cp), v);
      } else if (add_bias) {
        v = _mm256_add_ps(bias[j], v);
      }
      if (relu) v = _mm256_max_ps(v, zero);
      if (mask) {
        const float* mp = mask_row + i * ld_mask + 8 * j;
        const __m256 mv = partial ? _mm256_maskload_ps(mp, tail) : _mm256_loadu_ps(mp);
        v = _mm256_and_ps(v, _mm256_cmp_ps(mv, zero, _CMP_GT_OQ));
      }
      if (partial) {
        _mm256_maskstore_ps(cp, tail, v);
      } else {
        _mm256_storeu_ps(cp, v);
      }
    }
  }
}

using TileFn = void (*)(int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t,
                        const Epilogue&, int64_t, int64_t, int, bool, bool);

// [rows - 1][shape]: shape 0 = one partial vector, 1 = one full, 2 = full + partial, 3 = two full.
template <int MR>
constexpr TileFn kTilesOf[4] = {&tile_avx2<MR, 1, true>, &tile_avx2<MR, 1, false>, &tile_avx2<MR, 2, true>,
                                &tile_avx2<MR, 2, false>};
const TileFn* const kTiles[kTileRows] = {kTilesOf<1>, kTilesOf<2>, kTilesOf<3>, kTilesOf<4>, kTilesOf<5>, kTilesOf<6>};
// Full 6 x 16 tiles of one-block products, [Finish].
constexpr TileFn kFullTiles[] = {&tile_avx2<kTileRows, 2, false, Finish::kRuntime>,
                                 &tile_avx2<kTileRows, 2, false, Finish::kStore>,
                                 &tile_avx2<kTileRows, 2, false, Finish::kBias>,
                                 &tile_avx2<kTileRows, 2, false, Finish::kBiasRelu>,
                                 &tile_avx2<kTileRows, 2, false, Finish::kMask>};

TENNIS_AVX2 void gemm_rows_avx2(int64_t m_begin, int64_t m_end, int64_t n, int64_t k, Strided a, const float* b,
                                int64_t ldb, float* c, int64_t ldc, const Epilogue& e, bool split_k) {
  const bool one_block = !split_k || k_block(k, 0) == k;
  const TileFn full = kFullTiles[int(one_block ? finish_of(e) : Finish::kRuntime)];
  // Column panels outermost: a k x 16 panel of B stays in L1 while the row tiles stream past it.
  for (int64_t col = 0; col < n; col += kTileCols) {
    const int width = int(std::min<int64_t>(kTileCols, n - col));
    int shape, tail_count;
    if (width == 16) {
      shape = 3, tail_count = 8;
    } else if (width > 8) {
      shape = 2, tail_count = width - 8;
    } else if (width == 8) {
      shape = 1, tail_count = 8;
    } else {
      shape = 0, tail_count = width;
    }
    for (int64_t row = m_begin; row < m_end; row += kTileRows) {
      const int rows = int(std::min<int64_t>(kTileRows, m_end - row));
      const TileFn tile = rows == kTileRows && shape == 3 ? full : kTiles[rows - 1][shape];
      for_each_k_block(k, split_k, [&](int64_t k0, int64_t k1) {
        tile(k1 - k0, a.data + row * a.row_stride + k0 * a.col_stride, a.row_stride, a.col_stride, b + k0 * ldb + col,
             ldb, c + row * ldc + col, ldc, e, row, col, tail_count, k0 == 0, k1 == k);
      });
    }
  }
}

// ---- AVX-512: the same FMA chains in wider tiles (fewer instructions per FMA; same bits) -------

// GCC 12's AVX-512 intrinsics hand _mm512_undefined_ps() to their builtins, which it then reports
// as maybe-uninitialized wherever they inline (GCC bug 105593); nothing here reads such a value.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

// Vector j of a tile row of NV vectors at p; with kTail the last one loads only the `tail` columns.
template <int NV, bool kTail>
TENNIS_AVX512 __attribute__((always_inline)) inline __m512 load_vector(int j, __mmask16 tail, const float* p) {
  return kTail && j == NV - 1 ? _mm512_maskz_loadu_ps(tail, p) : _mm512_loadu_ps(p);
}

// One MR x (16 NV) tile of C over k. With kTail the last vector is partial: `tail` selects its valid
// columns (masked loads and stores cost more than plain ones here, so full vectors use plain ones).
// F other than kRuntime: the tile is C's only k block (first and last) and finishes as F says.
template <int MR, int NV, bool kTail, Finish F = Finish::kRuntime>
TENNIS_AVX512 void tile_avx512(int64_t k, const float* a, int64_t am, int64_t ak, const float* b, int64_t ldb,
                               float* c, int64_t ldc, const Epilogue& e, int64_t row, int64_t col, __mmask16 tail,
                               bool first, bool last) {
  __m512 acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < k; ++p) {
    __m512 bv[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) bv[j] = load_vector<NV, kTail>(j, tail, b + 16 * j);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 av = _mm512_set1_ps(a[i * am]);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
    }
    a += ak;
    b += ldb;
  }
  constexpr bool fixed = F != Finish::kRuntime;
  const bool add_bias = fixed ? F == Finish::kBias || F == Finish::kBiasRelu : first && e.bias;
  const bool relu = fixed ? F == Finish::kBiasRelu : last && e.relu;
  const bool mask = fixed ? F == Finish::kMask : last && e.mask;
  const __m512 zero = _mm512_setzero_ps();
  // Loaded once: the stores below may alias them as far as the compiler knows.
  __m512 bias[NV];
  if (add_bias) {
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) bias[j] = load_vector<NV, kTail>(j, tail, e.bias + col + 16 * j);
  }
  const float* mask_row = mask ? e.mask + row * e.ld_mask + col : nullptr;
  const int64_t ld_mask = e.ld_mask;
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      __m512 v = acc[i][j];
      float* cp = c + i * ldc + 16 * j;
      if (!fixed && !first) {
        v = _mm512_add_ps(load_vector<NV, kTail>(j, tail, cp), v);
      } else if (add_bias) {
        v = _mm512_add_ps(bias[j], v);
      }
      if (relu) v = _mm512_max_ps(v, zero);
      if (mask) {
        const __m512 mv = load_vector<NV, kTail>(j, tail, mask_row + i * ld_mask + 16 * j);
        v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(mv, zero, _CMP_GT_OQ), v);
      }
      if (kTail && j == NV - 1) {
        _mm512_mask_storeu_ps(cp, tail, v);
      } else {
        _mm512_storeu_ps(cp, v);
      }
    }
  }
}

using TileFn512 = void (*)(int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t,
                           const Epilogue&, int64_t, int64_t, __mmask16, bool, bool);

// [vectors - 1 + kTileVectors512 * tail] for one row count.
template <int MR, int... NV>
constexpr TileFn512 kTiles512Of[2 * sizeof...(NV)] = {&tile_avx512<MR, NV, false>..., &tile_avx512<MR, NV, true>...};

template <int... MR>
constexpr const TileFn512* kTiles512Table[sizeof...(MR)] = {kTiles512Of<MR + 1, 1, 2>...};
static_assert(kTileVectors512 == 2 && kTileRows512 == 8, "the tile tables below list 1-8 rows of 1-2 vectors");
// [rows - 1][vectors - 1 + kTileVectors512 * tail]
const TileFn512* const* const kTiles512 = kTiles512Table<0, 1, 2, 3, 4, 5, 6, 7>;
// Full 8 x 32 tiles of one-block products, [Finish].
constexpr TileFn512 kFullTiles512[] = {
    &tile_avx512<8, 2, false, Finish::kRuntime>, &tile_avx512<8, 2, false, Finish::kStore>,
    &tile_avx512<8, 2, false, Finish::kBias>, &tile_avx512<8, 2, false, Finish::kBiasRelu>,
    &tile_avx512<8, 2, false, Finish::kMask>};

// The 16 x 16 block in r transposed in place: r[q] lane i <- r[i] lane q.
TENNIS_AVX512 inline void transpose16_avx512(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {  // pairs of rows interleaved by element
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // then by pairs of elements
    for (int h = 0; h < 2; ++h) {
      const __m512d lo = _mm512_castps_pd(t[i + h]), hi = _mm512_castps_pd(t[i + h + 2]);
      r[i + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo, hi));
      r[i + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo, hi));
    }
  }
  for (int i = 0; i < 16; i += 8) {  // then 128-bit lanes of row groups 4 apart
    for (int q = 0; q < 4; ++q) {
      t[i + q] = _mm512_shuffle_f32x4(r[i + q], r[i + q + 4], 0x88);
      t[i + q + 4] = _mm512_shuffle_f32x4(r[i + q], r[i + q + 4], 0xdd);
    }
  }
  for (int q = 0; q < 8; ++q) {  // and of the two halves
    r[q] = _mm512_shuffle_f32x4(t[q], t[q + 8], 0x88);
    r[q + 8] = _mm512_shuffle_f32x4(t[q], t[q + 8], 0xdd);
  }
}

// C = A B for N <= kNarrowColumns columns of C, in one k block, with A row-major (col_stride 1) and
// no epilogue: 16 rows of C at a time in the lanes of one vector per column, A transposed 16 x 16 in
// registers. Each element is the tile's chain (FMAs in k order from 0), so the bits are the tile's,
// where a tile would fill only N of its lanes (the own-action gradient of the actor step: N = 2).
template <int N>
TENNIS_AVX512 void gemm_narrow_avx512(int64_t m_begin, int64_t m_end, int64_t k, const float* a, int64_t lda,
                                      const float* b, int64_t ldb, float* c, int64_t ldc) {
  for (int64_t r0 = m_begin; r0 < m_end; r0 += 16) {
    const int64_t rows = std::min<int64_t>(16, m_end - r0);
    __m512 acc[N];
#pragma GCC unroll 4
    for (int j = 0; j < N; ++j) acc[j] = _mm512_setzero_ps();
    for (int64_t k0 = 0; k0 < k; k0 += 16) {
      const int64_t width = std::min<int64_t>(16, k - k0);
      const __mmask16 valid = __mmask16((1u << width) - 1u);
      __m512 t[16];
      // Rows past the end repeat the last one; their lanes are not stored.
#pragma GCC unroll 16
      for (int64_t i = 0; i < 16; ++i) t[i] = _mm512_maskz_loadu_ps(valid, a + (r0 + std::min(i, rows - 1)) * lda + k0);
      transpose16_avx512(t);
      const float* bk = b + k0 * ldb;
      if (width == 16) {
#pragma GCC unroll 16
        for (int q = 0; q < 16; ++q) {
#pragma GCC unroll 4
          for (int j = 0; j < N; ++j) acc[j] = _mm512_fmadd_ps(t[q], _mm512_set1_ps(bk[q * ldb + j]), acc[j]);
        }
      } else {
        for (int64_t q = 0; q < width; ++q) {
#pragma GCC unroll 4
          for (int j = 0; j < N; ++j) acc[j] = _mm512_fmadd_ps(t[q], _mm512_set1_ps(bk[q * ldb + j]), acc[j]);
        }
      }
    }
    alignas(64) float lanes[N][16];
#pragma GCC unroll 4
    for (int j = 0; j < N; ++j) _mm512_store_ps(lanes[j], acc[j]);
    for (int64_t i = 0; i < rows; ++i) {
      for (int j = 0; j < N; ++j) c[(r0 + i) * ldc + j] = lanes[j][i];
    }
  }
}

using NarrowFn = void (*)(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t);
// [columns - 1]
constexpr NarrowFn kNarrow512[] = {&gemm_narrow_avx512<1>, &gemm_narrow_avx512<2>, &gemm_narrow_avx512<3>,
                                   &gemm_narrow_avx512<4>};
static_assert(sizeof(kNarrow512) / sizeof(kNarrow512[0]) == kNarrowColumns, "one narrow kernel per column count");

// acc[v] += the v-th 16 floats of row.
template <int NV>
TENNIS_AVX512 inline void add_row_avx512(__m512* acc, const float* row) {
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_add_ps(acc[v], _mm512_loadu_ps(row + 16 * v));
}

// column_sums_body's blocks of 4 x kSumLanes columns (multi_row_sum), NV 16-column vectors at a
// time: the same additions per column (the level flushes depend on the row only), several blocks'
// running sums in flight where LibTorch's 8-lane code keeps four.
template <int NV>
TENNIS_AVX512 void outer_sums_avx512(int64_t rows, const float* x, int64_t ldx, float* out) {
  const int64_t level_power = std::max<int64_t>(4, ceil_log2(rows) / kSumLevels);
  const int64_t level_step = int64_t(1) << level_power;
  const int64_t level_mask = level_step - 1;
  __m512 acc[kSumLevels][NV];
  for (auto& level : acc) {
    for (auto& a : level) a = _mm512_setzero_ps();
  }
  int64_t i = 0;
  while (i + level_step <= rows) {
    for (int64_t j = 0; j < level_step; ++j, ++i) add_row_avx512<NV>(acc[0], x + i * ldx);
    for (int64_t j = 1; j < kSumLevels; ++j) {
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        acc[j][v] = _mm512_add_ps(acc[j][v], acc[j - 1][v]);
        acc[j - 1][v] = _mm512_setzero_ps();
      }
      if ((i & (level_mask << (j * level_power))) != 0) break;
    }
  }
  for (; i < rows; ++i) add_row_avx512<NV>(acc[0], x + i * ldx);
  for (int64_t j = 1; j < kSumLevels; ++j) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[0][v] = _mm512_add_ps(acc[0][v], acc[j][v]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) _mm512_storeu_ps(out + 16 * v, acc[0][v]);
}

// For cols >= 4 * kSumLanes: the blocks four (then one) at a time, the rest as column_sums_body.
TENNIS_AVX512 void column_sums_avx512(int64_t rows, int64_t cols, const float* x, int64_t ldx, float* out) {
  constexpr int64_t kBlock = 4 * kSumLanes;  // columns per multi_row_sum block
  static_assert(kBlock == 32, "two 16-column vectors per block");
  int64_t done = 0;
  for (; done + 4 * kBlock <= cols; done += 4 * kBlock) outer_sums_avx512<8>(rows, x + done, ldx, out + done);
  for (; done + kBlock <= cols; done += kBlock) outer_sums_avx512<2>(rows, x + done, ldx, out + done);
  column_sums_body(rows, cols, x, ldx, out, done);
}

// Products of one or two rows (the output layers' weight gradients) in tiles of whole 128-column
// rows: 8-16 FMA chains in flight where an 8 x 32 tile would keep 2-4.
constexpr int64_t kWideRows = 2;
constexpr int kWideVectors = 8;
constexpr int64_t kWideCols = 16 * kWideVectors;
constexpr TileFn512 kWideTiles512[kWideRows] = {&tile_avx512<1, kWideVectors, false>, &tile_avx512<2, kWideVectors, false>};

TENNIS_AVX512 void gemm_rows_avx512(int64_t m_begin, int64_t m_end, int64_t n, int64_t k, Strided a, const float* b,
                                    int64_t ldb, float* c, int64_t ldc, const Epilogue& e, bool split_k) {
  const bool one_block = !split_k || k_block(k, 0) == k;
  if (n <= kNarrowColumns && one_block && a.col_stride == 1 && finish_of(e) == Finish::kStore) {
    return kNarrow512[n - 1](m_begin, m_end, k, a.data, a.row_stride, b, ldb, c, ldc);
  }
  const TileFn512 full = kFullTiles512[int(one_block ? finish_of(e) : Finish::kRuntime)];
  // One tile over every k block.
  auto run = [&](TileFn512 tile, int64_t row, int64_t col, __mmask16 tail) {
    for_each_k_block(k, split_k, [&](int64_t k0, int64_t k1) {
      tile(k1 - k0, a.data + row * a.row_stride + k0 * a.col_stride, a.row_stride, a.col_stride, b + k0 * ldb + col,
           ldb, c + row * ldc + col, ldc, e, row, col, tail, k0 == 0, k1 == k);
    });
  };
  int64_t col = 0;
  if (m_end - m_begin <= kWideRows) {
    for (; col + kWideCols <= n; col += kWideCols) run(kWideTiles512[m_end - m_begin - 1], m_begin, col, 0);
  }
  for (; col < n; col += kTileCols512) {
    const int width = int(std::min<int64_t>(kTileCols512, n - col));
    const int vectors = (width + 15) / 16;
    const int valid = width - 16 * (vectors - 1);  // columns of the last vector
    const __mmask16 tail = __mmask16((1u << valid) - 1u);
    const int shape = vectors - 1 + (valid < 16 ? kTileVectors512 : 0);
    for (int64_t row = m_begin; row < m_end; row += kTileRows512) {
      const int rows = int(std::min<int64_t>(kTileRows512, m_end - row));
      run(rows == kTileRows512 && width == kTileCols512 ? full : kTiles512[rows - 1][shape], row, col, tail);
    }
  }
}

#pragma GCC diagnostic pop

TENNIS_AVX2 void column_sums_avx2(int64_t rows, int64_t cols, const float* x, int64_t ldx, float* out) {
  column_sums_body(rows, cols, x, ldx, out);
}

TENNIS_AVX2 void tanh_backward_avx2(int64_t n, float* g, const float* y) { tanh_backward_body(n, g, y); }

// fold_pairwise and fold_halves of the 16 lanes lo (0-7), hi (8-15) in registers: the same additions.
TENNIS_AVX2 inline float fold_pairwise_avx2(__m256 lo, __m256 hi) {
  const __m256 pairs = _mm256_hadd_ps(lo, hi);      // lanes (0+1), (2+3), (8+9), (10+11) | (4+5), ...
  const __m256 quads = _mm256_hadd_ps(pairs, pairs);  // quads 0, 2 in the low half, 1, 3 in the high
  const __m128 eights = _mm_add_ps(_mm256_castps256_ps128(quads), _mm256_extractf128_ps(quads, 1));
  return _mm_cvtss_f32(eights) + _mm_cvtss_f32(_mm_movehdup_ps(eights));
}

TENNIS_AVX2 inline float fold_halves_avx2(__m256 lo, __m256 hi) {
  const __m256 eight = _mm256_add_ps(hi, lo);  // lane i + 8 plus lane i
  const __m128 four = _mm_add_ps(_mm256_extractf128_ps(eight, 1), _mm256_castps256_ps128(eight));
  const __m128 two = _mm_add_ps(_mm_movehl_ps(four, four), four);
  return _mm_cvtss_f32(two) + _mm_cvtss_f32(_mm_movehdup_ps(two));
}

TENNIS_AVX2 void dot_rows_avx2(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx, const float* w,
                               const float* bias, float* out, int64_t ldo, int64_t pairwise_rows,
                               int64_t pairwise_cols) {
  // Lanes 0-7 and 8-15 of the 16 partial sums (k % 16) in two vectors; the k tail is masked in. Four
  // rows at a time share each load of w and keep eight FMA chains in flight (a short last block
  // repeats its last row and drops the copies).
  constexpr int kRows = 4;
  const int64_t full = k / kDotLanes * kDotLanes;
  const int rest = int(k - full);
  const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i mask_lo = _mm256_cmpgt_epi32(_mm256_set1_epi32(rest), index);
  const __m256i mask_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32(rest - 8), index);
  for (int64_t i0 = 0; i0 < m; i0 += kRows) {
    const float* xr[kRows];
    for (int r = 0; r < kRows; ++r) xr[r] = x + std::min(i0 + r, m - 1) * ldx;
    for (int64_t j = 0; j < n; ++j) {
      const float* wr = w + j * k;
      __m256 lo[kRows], hi[kRows];
      for (int r = 0; r < kRows; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
      for (int64_t p = 0; p < full; p += kDotLanes) {
        const __m256 w_lo = _mm256_loadu_ps(wr + p), w_hi = _mm256_loadu_ps(wr + p + 8);
        for (int r = 0; r < kRows; ++r) {
          lo[r] = _mm256_fmadd_ps(_mm256_loadu_ps(xr[r] + p), w_lo, lo[r]);
          hi[r] = _mm256_fmadd_ps(_mm256_loadu_ps(xr[r] + p + 8), w_hi, hi[r]);
        }
      }
      if (rest) {
        const __m256 w_lo = _mm256_maskload_ps(wr + full, mask_lo), w_hi = _mm256_maskload_ps(wr + full + 8, mask_hi);
        for (int r = 0; r < kRows; ++r) {
          lo[r] = _mm256_fmadd_ps(_mm256_maskload_ps(xr[r] + full, mask_lo), w_lo, lo[r]);
          hi[r] = _mm256_fmadd_ps(_mm256_maskload_ps(xr[r] + full + 8, mask_hi), w_hi, hi[r]);
        }
      }
      for (int64_t i = i0; i < std::min(m, i0 + kRows); ++i) {
        const bool pairwise = i < pairwise_rows || j < pairwise_cols;
        const float dot = pairwise ? fold_pairwise_avx2(lo[i - i0], hi[i - i0]) : fold_halves_avx2(lo[i - i0], hi[i - i0]);
        out[i * ldo + j] = bias ? bias[j] + dot : dot;
      }
    }
  }
}
TENNIS_AVX2 float vector_norm_avx2(int64_t n, const float* x) { return vector_norm_body(n, x); }
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
// consecutive blocks then store consecutive pieces of the same 8 rows of dst (1.8x faster on 128 x 128
// here than row blocks outermost).
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

TENNIS_AVX2 void soft_update_avx2(int64_t n, float* t, const float* o, float keep, float tau) {
  soft_update_body(n, t, o, keep, tau);
}
TENNIS_AVX2 void scale_avx2(int64_t n, float* x, float s) { scale_body(n, x, s); }

#endif  // TENNIS_FUSED_X86

bool avx2() { return g_limit != KernelLevel::kPortable && cpu_has_avx2(); }
bool avx512() { return g_limit == KernelLevel::kAvx512 && cpu_has_avx2() && cpu_has_avx512(); }

void gemm_rows(int64_t m_begin, int64_t m_end, int64_t n, int64_t k, Strided a, const float* b, int64_t ldb, float* c,
               int64_t ldc, const Epilogue& e, bool split_k) {
#ifdef TENNIS_FUSED_X86
  if (avx512()) return gemm_rows_avx512(m_begin, m_end, n, k, a, b, ldb, c, ldc, e, split_k);
  if (avx2()) return gemm_rows_avx2(m_begin, m_end, n, k, a, b, ldb, c, ldc, e, split_k);
#endif
  gemm_rows_portable(m_begin, m_end, n, k, a, b, ldb, c, ldc, e, split_k);
}

}  // namespace

void gemm(int64_t m, int64_t n, int64_t k, Strided a, const float* b, int64_t ldb, float* c, int64_t ldc,
          const Epilogue& epilogue, int threads, bool split_k) {
  if (m <= 0 || n <= 0) return;
  // Threads split the rows at whole register tiles of the kernel in use.
  const int64_t tile_rows = avx512() ? kTileRows512 : kTileRows;
  const int64_t tiles = (m + tile_rows - 1) / tile_rows;
  // Below ~64k multiply-adds a fork/join costs more than it saves.
  const bool split = threads > 1 && tiles > 1 && m * n * k >= (int64_t(1) << 16) && !omp_in_parallel();
  if (!split) return gemm_rows(0, m, n, k, a, b, ldb, c, ldc, epilogue, split_k);
  const int teams = int(std::min<int64_t>(threads, tiles));
#pragma omp parallel num_threads(teams)
  {
    const int64_t id = omp_get_thread_num(), count = omp_get_num_threads();
    const int64_t first = tiles * id / count, last = tiles * (id + 1) / count;
    gemm_rows(first * tile_rows, std::min(m, last * tile_rows), n, k, a, b, ldb, c, ldc, epilogue, split_k);
  }
}

void dot_rows(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx, const float* w, const float* bias,
              float* out, int64_t ldo, int64_t pairwise_rows, int64_t pairwise_cols) {
#ifdef TENNIS_FUSED_X86
  if (avx2()) return dot_rows_avx2(m, n, k, x, ldx, w, bias, out, ldo, pairwise_rows, pairwise_cols);
#endif
  dot_rows_portable(m, n, k, x, ldx, w, bias, out, ldo, pairwise_rows, pairwise_cols);
}

void tanh_backward(int64_t n, float* grad, const float* y) {
#ifdef TENNIS_FUSED_X86
  if (avx2()) return tanh_backward_avx2(n, grad, y);
#endif
  tanh_backward_body(n, grad, y);
}

void column_sums(int64_t rows, int64_t cols, const float* x, int64_t ldx, float* out) {
#ifdef TENNIS_FUSED_X86
  if (avx512() && cols >= 4 * kSumLanes) return column_sums_avx512(rows, cols, x, ldx, out);
  if (avx2()) return column_sums_avx2(rows, cols, x, ldx, out);
#endif
  column_sums_body(rows, cols, x, ldx, out);
}

void transpose(int64_t rows, int64_t cols, const float* src, float* dst) {
#ifdef TENNIS_FUSED_X86
  if (avx2()) return transpose_avx2(rows, cols, src, dst);
#endif
  transpose_portable(rows, cols, src, dst);
}

float vector_norm(int64_t n, const float* x) {
#ifdef TENNIS_FUSED_X86
  if (avx2()) return vector_norm_avx2(n, x);
#endif
  return vector_norm_body(n, x);
}

void scale(int64_t n, float* x, float s) {
#ifdef TENNIS_FUSED_X86
  if (avx2()) return scale_avx2(n, x, s);
#endif
  scale_body(n, x, s);
}

void adam_step(int64_t n, float* params, const float* grad, float* exp_avg, float* exp_avg_sq, const AdamParams& adam,
               int64_t step) {
  // Scalars rounded to float as LibTorch/PyTorch do when they apply a double to a float tensor.
  const double bias_correction1 = 1 - std::pow(adam.beta1, double(step));
  const double bias_correction2 = 1 - std::pow(adam.beta2, double(step));
  const float b1 = float(adam.beta1), omb1 = float(1 - adam.beta1);
  const float b2 = float(adam.beta2), omb2 = float(1 - adam.beta2);
  const float bc2 = float(std::sqrt(bias_correction2));
  const float eps = float(adam.eps), neg_step = float(-(adam.lr / bias_correction1));
  const float wd = float(adam.weight_decay);
#ifdef TENNIS_FUSED_X86
  if (avx2()) return adam_avx2(n, params, grad, exp_avg, exp_avg_sq, b1, omb1, b2, omb2, bc2, eps, neg_step, wd);
#endif
  adam_body(n, params, grad, exp_avg, exp_avg_sq, b1, omb1, b2, omb2, bc2, eps, neg_step, wd);
}

void soft_update(int64_t n, float* target, const float* online, double tau) {
  const float keep = float(1.0 - tau), t = float(tau);
#ifdef TENNIS_FUSED_X86
  if (avx2()) return soft_update_avx2(n, target, online, keep, t);
#endif
  soft_update_body(n, target, online, keep, t);
}

KernelLevel kernel_level() {
  return avx512() ? KernelLevel::kAvx512 : avx2() ? KernelLevel::kAvx2 : KernelLevel::kPortable;
}

void limit_kernels(KernelLevel level) { g_limit = level; }

}  // namespace tennis::fused
