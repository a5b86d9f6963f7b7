// The x86 SIMD products and column sums (tiles_x86.cc): one tile template (tile.inc) compiled once
// for AVX2+FMA and once for AVX-512. kernels.cc calls these only on a CPU that has the instructions.
#pragma once
#include <cstdint>

#include "kernels.h"

#if defined(__x86_64__)
#define TENNIS_FUSED_X86 1

namespace tennis::fused {

#define TENNIS_FUSED_TILE_ENTRY_POINTS                                                                         \
  /* Rows [m_begin, m_end) of gemm's C, one thread's share. */                                                 \
  void gemm_rows(int64_t m_begin, int64_t m_end, int64_t n, int64_t k, Strided a, const float* b, int64_t ldb, \
                 float* c, int64_t ldc, const Epilogue& e);                                                    \
  /* column_sums of kernels.h. */                                                                              \
  void column_sums(int64_t rows, int64_t cols, const float* x, int64_t ldx, float* out);                       \
  /* Rows of C per register tile: gemm's threads split C at multiples of it. */                                \
  int64_t tile_rows();

namespace avx2 {
TENNIS_FUSED_TILE_ENTRY_POINTS
}  // namespace avx2

namespace avx512 {
TENNIS_FUSED_TILE_ENTRY_POINTS
}  // namespace avx512

#undef TENNIS_FUSED_TILE_ENTRY_POINTS

}  // namespace tennis::fused

#endif
