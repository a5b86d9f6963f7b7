// The seedable RNG every random draw of the learner comes from: exploration noise, network
// initialisation, target-policy smoothing and the replay buffer's sampler.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tennis {

// xoshiro256** (Blackman & Vigna) seeded through splitmix64, with a Box-Muller normal: its whole state
// is a few integers, so checkpoints restore it exactly, and it does not depend on LibTorch's global
// generator.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { seed_with(seed); }
  // State words = four splitmix64 outputs from `seed`; forgets a kept normal.
  void seed_with(uint64_t seed);

  uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n), n >= 1, without modulo bias (Lemire 2019).
  uint64_t below(uint64_t n) {
    __uint128_t m = static_cast<__uint128_t>(next_u64()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<__uint128_t>(next_u64()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Standard normal (Box-Muller; the second value of each pair is kept for the next call).
  double normal();

  // Number of integers in state().
  static constexpr size_t kStateInts = 6;
  // State as kStateInts integers: s0..s3, has_spare, bits of spare.
  std::vector<int64_t> state() const;
  void set_state(const std::vector<int64_t>& state);
  // The four xoshiro words alone (for formats that store no kept normal).
  void words(uint64_t out[4]) const;
  // Sets the four xoshiro words and forgets a kept normal.
  void set_words(const uint64_t in[4]);

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t s_[4] = {0, 0, 0, 0};
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace tennis
