// Seeding, the Box-Muller normal and the checkpoint form of Rng.
#include "rng.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tennis {
namespace {

// splitmix64, used only to expand the seed into the generator state.
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

void Rng::seed_with(uint64_t seed) {
  uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
  has_spare_ = false;
  spare_ = 0.0;
}

double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();
  const double u2 = uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * M_PI * u2;
  spare_ = radius * std::sin(angle);
  has_spare_ = true;
  return radius * std::cos(angle);
}

std::vector<int64_t> Rng::state() const {
  int64_t spare_bits = 0;
  std::memcpy(&spare_bits, &spare_, sizeof spare_);
  return {int64_t(s_[0]), int64_t(s_[1]), int64_t(s_[2]), int64_t(s_[3]), has_spare_ ? 1 : 0, spare_bits};
}

void Rng::set_state(const std::vector<int64_t>& state) {
  if (state.size() != kStateInts) {
    throw std::invalid_argument("rng state must have " + std::to_string(kStateInts) + " integers, got " +
                                std::to_string(state.size()));
  }
  for (int i = 0; i < 4; ++i) s_[i] = uint64_t(state[i]);
  has_spare_ = state[4] != 0;
  std::memcpy(&spare_, &state[5], sizeof spare_);
}

void Rng::words(uint64_t out[4]) const { std::memcpy(out, s_, sizeof s_); }

void Rng::set_words(const uint64_t in[4]) {
  std::memcpy(s_, in, sizeof s_);
  has_spare_ = false;
  spare_ = 0.0;
}

}  // namespace tennis
