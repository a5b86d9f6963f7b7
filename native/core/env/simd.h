// Four-lane SIMD groups of envs for the Tennis env's vectorized passes (GCC / Clang vector
// extensions): lane types, loads, selects and masked stores. Internal to native/core/env.
#pragma once
#include <cstdint>
#include <cstring>

// The helpers pass 256-bit double vectors between inlined functions; GCC warns that their ABI would
// differ with AVX, which is irrelevant for functions that never cross a translation unit.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace tennis {
namespace simd {

// Four float / int32 lanes: one 128-bit SIMD group of envs (GCC / Clang vector extension).
typedef float F4 __attribute__((vector_size(16)));
typedef int32_t I4 __attribute__((vector_size(16)));
// Four double lanes: a group of products formed in double precision.
typedef double D4 __attribute__((vector_size(32)));

inline F4 splat(float x) { return F4{x, x, x, x}; }
inline I4 splati(int32_t x) { return I4{x, x, x, x}; }
inline F4 load(const float* p) {
  F4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline I4 loadi(const int32_t* p) {
  I4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline F4 sel(I4 mask, F4 a, F4 b) { return mask ? a : b; }
inline I4 seli(I4 mask, I4 a, I4 b) { return mask ? a : b; }
// Whether any lane is non-zero.
inline bool any(I4 v) {
  int64_t halves[2];
  std::memcpy(halves, &v, sizeof halves);
  return (halves[0] | halves[1]) != 0;
}
inline F4 vabs(F4 v) { return reinterpret_cast<F4>(reinterpret_cast<I4>(v) & splati(0x7FFFFFFF)); }
// std::min(std::max(v, lo), hi), lane by lane.
inline F4 vclamp(F4 v, float lo, float hi) {
  v = sel(v < splat(lo), splat(lo), v);
  return sel(splat(hi) < v, splat(hi), v);
}
inline D4 widen(F4 v) { return __builtin_convertvector(v, D4); }
inline F4 narrow(D4 v) { return __builtin_convertvector(v, F4); }

// Writes v to p for every lane (Masked = false) or only the lanes set in keep.
template <bool Masked>
inline void put(float* p, F4 v, I4 keep) {
  if (Masked) v = sel(keep, v, load(p));
  std::memcpy(p, &v, sizeof v);
}
template <bool Masked>
inline void puti(int32_t* p, I4 v, I4 keep) {
  if (Masked) v = seli(keep, v, loadi(p));
  std::memcpy(p, &v, sizeof v);
}

}  // namespace simd
}  // namespace tennis
