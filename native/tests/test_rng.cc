// Rng (rng.h): the first outputs for fixed seeds, pinned from the two generators it replaced (the
// learner's in noise.h and the replay sampler's), so the streams of saved runs and seeds stay the same.
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "rng.h"

namespace {

struct Pinned {
  uint64_t seed;
  uint64_t next[4];  // next_u64() x 4 after seeding
  // The learner's draws after those four: uniform(), then normal() x 3, then state().
  double uniform;
  double normal[3];
  int64_t state[6];
  // The replay sampler's draws after the four words: below(10), below(1000003), below(2^63 + 5),
  // uniform(), then the words.
  uint64_t below[3];
  double sampler_uniform;
  uint64_t words[4];
};

const Pinned kPinned[] = {
    {0,
     {0x99ec5f36cb75f2b4ULL, 0xbf6e1f784956452aULL, 0x1a5f849d4933e6e0ULL, 0x6aa594f1262d2d2cULL},
     0x1.774b5a943f085p-1,
     {-0x1.447e474349b72p-6, 0x1.5920d3ab6a9fcp-7, 0x1.601bf32a5dd4fp-1},
     {-7693747035206013930, -6764066022421493025, 5498936472291364860, 5045631534720113164, 1, -4617264440427749576},
     {7, 999751, 7890752973899942812ULL},
     0x1.d6748eb47ce93p-1,
     {0x711ecb3a3813fcc5ULL, 0x7b4b4189a7ce6935ULL, 0xb2fee4cdfa3763eaULL, 0xea1a7c84935df2d8ULL}},
    {42,
     {0x15780b2e0c2ec716ULL, 0x6104d9866d113a7eULL, 0xae17533239e499a1ULL, 0xecb8ad4703b360a1ULL},
     0x1.fbcdb8ffc5d8bp-1,
     {-0x1.1c69b9dff0b85p-3, -0x1.6b870364534a1p-1, 0x1.4d7d2f8e25744p-5},
     {-6438311944810027304, -6758735389614333773, -5849604398116503973, -2356100402695376470, 1, -4620074889790676801},
     {9, 769741, 6633989454467100380ULL},
     0x1.b3344e87d7ccp-1,
     {0x3ff3541a55275cb3ULL, 0x05b904af934edee8ULL, 0x987e754d3544a2e8ULL, 0x9cecd5d01e182483ULL}},
    {0xffffffffffffffffULL,
     {0x8f5520d52a7ead08ULL, 0xc476a018caa1802dULL, 0x81de31c0d260469eULL, 0xbf658d7e065f3c2fULL},
     0x1.226b27fb43794p-1,
     {-0x1.159c98431cb6p-1, 0x1.266b073782b4p-1, -0x1.04a2c70210e98p-1},
     {6372364487381628503, 9055603629623455657, -1923127802869474144, 2648628159634661323, 1, -4620519951720247599},
     {5, 731743, 3415648311588384752ULL},
     0x1.890e731f93bd3p-1,
     {0xd256874bcfeb1059ULL, 0xeda0baa2702a3309ULL, 0x425dca6c7db08cf9ULL, 0x679912548e731507ULL}},
};

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST(rng_learner_stream_is_pinned) {
  for (const Pinned& p : kPinned) {
    tennis::Rng rng(p.seed);
    for (uint64_t word : p.next) CHECK(rng.next_u64() == word);
    CHECK(same_bits(rng.uniform(), p.uniform));
    for (double value : p.normal) CHECK(same_bits(rng.normal(), value));
    CHECK(rng.state() == std::vector<int64_t>(p.state, p.state + 6));
  }
}

TEST(rng_sampler_stream_is_pinned) {
  for (const Pinned& p : kPinned) {
    tennis::Rng rng;
    rng.seed_with(p.seed);
    for (uint64_t word : p.next) CHECK(rng.next_u64() == word);
    CHECK(rng.below(10) == p.below[0]);
    CHECK(rng.below(1000003) == p.below[1]);
    CHECK(rng.below((uint64_t(1) << 63) + 5) == p.below[2]);
    CHECK(same_bits(rng.uniform(), p.sampler_uniform));
    uint64_t words[4];
    rng.words(words);
    for (int i = 0; i < 4; ++i) CHECK(words[i] == p.words[i]);
  }
}

TEST(rng_state_round_trips) {
  tennis::Rng a(7);
  a.normal();  // leaves a kept normal in the state
  tennis::Rng b(99);
  b.set_state(a.state());
  for (int i = 0; i < 5; ++i) CHECK(same_bits(a.normal(), b.normal()));
  uint64_t words[4];
  a.words(words);
  tennis::Rng c;
  c.set_words(words);
  for (int i = 0; i < 5; ++i) CHECK(a.next_u64() == c.next_u64());
  CHECK_THROWS(b.set_state({1, 2, 3}), std::invalid_argument);
}
