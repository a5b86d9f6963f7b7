// tile.inc compiled twice: for AVX2+FMA (8-float vectors, 6 x 16 tiles: 12 accumulators, 2 B vectors
// and a broadcast of the 16 registers) and for AVX-512 (16-float vectors, 8 x 32 tiles: 16
// accumulators of 32 registers; with plain loads and stores for full vectors, which cost less than
// masked ones). The core is built for x86-64-v2, so each instruction set's code sits in a
// `#pragma GCC target` region and runs only where kernels.cc found the CPU to have it.
#include "tiles.h"

#ifdef TENNIS_FUSED_X86

#include <immintrin.h>

#include <algorithm>
#include <utility>

namespace tennis::fused {

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {

struct Vec {
  using Reg = __m256;
  using Mask = __m256i;  // lanes to load or store: all bits set
  static constexpr int kLanes = 8;
  static constexpr int kTileRows = 6;
  static constexpr int kTileVectors = 2;
  static constexpr int kWideVectors = 4;  // 1-2 row products: 4-8 chains in flight
  static constexpr int kSumVectors = 8;   // column sums: 64 columns per pass over the rows

  static Mask first(int count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static Reg load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, Reg v) { _mm256_storeu_ps(p, v); }
  static void store(float* p, Reg v, Mask m) { _mm256_maskstore_ps(p, m, v); }
  static Reg broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Reg fmadd(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  // v > 0 ? v : 0 (a NaN becomes 0, as in the portable code).
  static Reg relu(Reg v) { return _mm256_max_ps(v, zero()); }
  // v where m > 0, else 0.
  static Reg keep_where_positive(Reg v, Reg m) { return _mm256_and_ps(v, _mm256_cmp_ps(m, zero(), _CMP_GT_OQ)); }
};

#include "tile.inc"

}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
// GCC 12's AVX-512 intrinsics hand _mm512_undefined_ps() to their builtins, which it then reports as
// maybe-uninitialized wherever they inline (GCC bug 105593); nothing here reads such a value.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
namespace avx512 {

struct Vec {
  using Reg = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  static constexpr int kTileRows = 8;
  static constexpr int kTileVectors = 2;
  static constexpr int kWideVectors = 8;  // 1-2 row products: whole 128-column rows, 8-16 chains
  static constexpr int kSumVectors = 8;   // column sums: 128 columns per pass over the rows

  static Mask first(int count) { return Mask((1u << count) - 1u); }
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static Reg load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, Reg v) { _mm512_storeu_ps(p, v); }
  static void store(float* p, Reg v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static Reg broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static Reg fmadd(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg relu(Reg v) { return _mm512_max_ps(v, zero()); }
  static Reg keep_where_positive(Reg v, Reg m) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(m, zero(), _CMP_GT_OQ), v);
  }
};

#include "tile.inc"

}  // namespace avx512
#pragma GCC diagnostic pop
#pragma GCC pop_options

}  // namespace tennis::fused

#endif  // TENNIS_FUSED_X86
