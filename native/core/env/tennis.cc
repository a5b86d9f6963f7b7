// TennisBatch: construction and the per-env RNG, resets, decisions (kTicksPerStep ticks over blocks of
// envs, optionally on helper threads), observations, state access and checkpoints. The physics tick is
// in env/tick.cc (rules in docs/tennis-env.md; "section N" refers to it).
#include "env/tennis.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "env/block_team.h"
#include "env/physics.h"
#include "env/simd.h"

namespace tennis {

using namespace physics;
using simd::F4;
using simd::load;

// ---- construction and RNG ------------------------------------------------------------------------

TennisBatch::TennisBatch(int num_envs, uint32_t seed, TennisOptions options)
    : n_(num_envs), stride_(0), options_(options) {
  if (num_envs < 1) throw std::invalid_argument("num_envs must be >= 1, got " + std::to_string(num_envs));
  // Padding lanes past n_ exist only so that SIMD groups are whole; they are masked out of every
  // tick and never observed.
  stride_ = (static_cast<size_t>(num_envs) + kLanes - 1) / kLanes * kLanes;
  const size_t n = stride_;
  for (auto* v : {&bx_, &by_, &bvx_, &bvy_}) v->assign(n, 0.0f);
  for (auto* v : {&rx_, &ry_, &rvx_, &rvy_, &rew_, &score_}) v->assign(2 * n, 0.0f);
  act_.assign(4 * n, 0.0f);
  for (auto* v : {&last_hitter_, &last_toucher_}) v->assign(n, kNone);
  for (auto* v : {&inside_, &done_, &max_reached_, &steps_, &academy_ticks_, &started_, &near_, &impulse_, &slow_})
    v->assign(n, 0);
  touching_.assign(2 * n, 0);
  stack_.assign(static_cast<size_t>(n_) * kAgents * kObsSize, 0.0f);
  rng_.resize(4 * n);
  for (int e = 0; e < n_; ++e) {
    // Unity's InitState: w0 = seed, w(i+1) = w(i) * 1812433253 + 1.
    uint32_t w = seed + static_cast<uint32_t>(e);
    for (int k = 0; k < 4; ++k) {
      rng_[k * n + e] = w;
      w = w * 1812433253u + 1u;
    }
    for (int i = 0; i < 2; ++i) ry_[i * n + e] = -1.5f;
    serve(e);  // start-up serve: draws 1-2
  }
}

TennisBatch::~TennisBatch() = default;
TennisBatch::TennisBatch(TennisBatch&&) noexcept = default;
TennisBatch& TennisBatch::operator=(TennisBatch&&) noexcept = default;

uint32_t TennisBatch::next_u32(int e) {
  const size_t n = stride_;
  uint32_t& x = rng_[e];
  uint32_t& y = rng_[n + e];
  uint32_t& z = rng_[2 * n + e];
  uint32_t& w = rng_[3 * n + e];
  const uint32_t t = x ^ (x << 11);
  x = y, y = z, z = w;
  w = w ^ (w >> 19) ^ t ^ (t >> 8);
  return w;
}

float TennisBatch::range_float(int e, float lo, float hi) {
  const float f = 1.0f - static_cast<float>(next_u32(e) & 0x7FFFFFu) / 8388607.0f;
  const float span = hi - lo;
  const float scaled = span * f;  // two float32 operations, never fused
  return lo + scaled;
}

void TennisBatch::serve(int e) {
  const float out = range_float(e, 6.0f, 8.0f);
  const uint32_t flip = next_u32(e) % 2u;  // Random.Range(0, 2); even => side A (negative x)
  bx_[e] = flip == 0 ? -out : out;
  by_[e] = 6.0f;
  bvx_[e] = bvy_[e] = 0.0f;
  last_hitter_[e] = kNone;
  last_toucher_[e] = kNone;
}

void TennisBatch::reset_agent(int e, int agent) {
  const size_t k = static_cast<size_t>(agent) * stride_ + e;
  rx_[k] = -kMirror[agent] * range_float(e, 6.0f, 8.0f);
  ry_[k] = -1.5f;
  rvx_[k] = rvy_[k] = 0.0f;
  act_[(agent * 2 + 0) * stride_ + e] = 0.0f;
  act_[(agent * 2 + 1) * stride_ + e] = 0.0f;
  score_[k] = 0.0f;
  std::fill_n(&stack_[(static_cast<size_t>(e) * kAgents + agent) * kObsSize], kObsSize, 0.0f);
}

void TennisBatch::check_env(int env) const {
  if (env < 0 || env >= n_)
    throw std::out_of_range("env must be in [0, " + std::to_string(n_ - 1) + "], got " + std::to_string(env));
}

// ---- resets ----------------------------------------------------------------------------------------

void TennisBatch::reset_env(int e, float* obs) {
  const size_t n = stride_;
  if (!started_[e]) {
    started_[e] = 1;  // start-up reset: the ball was served at construction
    ++started_count_;
  } else if (options_.clean_reset) {
    serve(e);
    inside_[e] = 0;
  } else {
    tick_one(e);  // the reset message costs one tick with the stored actions (its rewards are dropped)
  }
  reset_agent(e, kB);
  reset_agent(e, kA);
  academy_ticks_[e] = 0;
  steps_[e] = 0;
  done_[e] = max_reached_[e] = 0;
  rew_[e] = rew_[n + e] = 0.0f;
  observe(e, obs);
}

void TennisBatch::reset(float* obs) {
  for (int e = 0; e < n_; ++e) reset_env(e, obs);
}

void TennisBatch::reset_where(const float* mask, float* obs) {
  for (int e = 0; e < n_; ++e)
    if (mask[2 * e] != 0.0f || mask[2 * e + 1] != 0.0f) reset_env(e, obs);
}

// ---- observations ----------------------------------------------------------------------------------

// Pushes the current frame onto both agents' stacks (B then A) and copies them to obs[e]. The stack
// is kept per env (the caller may not keep its obs arrays); moves go through registers.
void TennisBatch::observe(int e, float* obs) {
  const size_t n = stride_;
  const float bx = bx_[e], by = by_[e], bvx = bvx_[e], bvy = bvy_[e];
  for (int i = 0; i < kAgents; ++i) {
    const float m = kMirror[i];
    const float x = rx_[i * n + e], y = ry_[i * n + e], vx = rvx_[i * n + e], vy = rvy_[i * n + e];
    // Slots 6-7: the ML-Agents 0.4 bug observes the agent's own rigidbody, not the ball's.
    const float s6 = options_.observe_ball_velocity ? m * bvx : m * vx;
    const float s7 = options_.observe_ball_velocity ? bvy : vy;
    float* stack = &stack_[(static_cast<size_t>(e) * kAgents + i) * kObsSize];
    F4 rows[6] = {load(stack + 8),          load(stack + 12),
                  load(stack + 16),         load(stack + 20),         // the two newer frames
                  F4{m * x, y, m * vx, vy}, F4{m * bx, by, s6, s7}};  // the current frame
    float* out = obs + (static_cast<size_t>(e) * kAgents + i) * kObsSize;
    std::memcpy(stack, rows, sizeof rows);
    std::memcpy(out, rows, sizeof rows);
  }
}

// ---- decisions -------------------------------------------------------------------------------------

void TennisBatch::step_block(int begin, int end, const float* actions, float* obs, float* rewards, float* dones,
                             float* max_reached) {
  const size_t n = stride_;
  for (int e = begin; e < end; ++e)
    for (int k = 0; k < kAgents * kActionSize; ++k)
      act_[k * n + e] = clampf(actions[static_cast<size_t>(e) * 4 + k], -1.0f, 1.0f);
  for (int t = 0; t < kTicksPerStep; ++t) tick_block(begin, end);
  for (int e = begin; e < end; ++e) {
    // Agent cap: done in the tick whose count is 5000, i.e. the first tick after decision 1000.
    if (steps_[e] * kTicksPerStep >= kAgentMaxTicks) done_[e] = max_reached_[e] = 1;
    ++steps_[e];
    academy_ticks_[e] += kTicksPerStep;
    // Academy cap (section 7): everything done, no re-serve. Unity's academy then resets
    // itself, so its counter restarts here (the prototype keeps counting, which would end every
    // later step; no test of it ever gets there).
    if (academy_ticks_[e] >= kAcademyMaxTicks) {
      done_[e] = max_reached_[e] = 1;
      academy_ticks_[e] = 0;
    }
    for (int i = 0; i < kAgents; ++i) {
      rewards[2 * e + i] = rew_[i * n + e];
      dones[2 * e + i] = done_[e] ? 1.0f : 0.0f;
      if (max_reached) max_reached[2 * e + i] = max_reached_[e] ? 1.0f : 0.0f;
      score_[i * n + e] += rew_[i * n + e];
      rew_[i * n + e] = 0.0f;
    }
    if (done_[e]) {
      reset_agent(e, kB);
      reset_agent(e, kA);
      steps_[e] = 0;
    }
    observe(e, obs);
    done_[e] = max_reached_[e] = 0;
  }
}

void TennisBatch::step(const float* actions, float* obs, float* rewards, float* dones, int threads,
                       float* max_reached) {
  if (threads < 1) throw std::invalid_argument("threads must be >= 1, got " + std::to_string(threads));
  if (started_count_ < n_) throw std::logic_error("step() before reset(): call reset() first");
  if (threads == 1 || n_ <= kThreadBlock) {
    for (int begin = 0; begin < n_; begin += kBlock)
      step_block(begin, std::min(n_, begin + kBlock), actions, obs, rewards, dones, max_reached);
    return;
  }
  if (!team_ || team_->helpers() != threads - 1) team_ = std::make_unique<BlockTeam>(threads - 1);
  auto job = [&](int block) {
    const int begin = block * kThreadBlock;
    step_block(begin, std::min(n_, begin + kThreadBlock), actions, obs, rewards, dones, max_reached);
  };
  team_->run((n_ + kThreadBlock - 1) / kThreadBlock, job);
}

// ---- state access ----------------------------------------------------------------------------------

TennisState TennisBatch::state(int env) const {
  check_env(env);
  const size_t n = stride_, e = static_cast<size_t>(env);
  TennisState s;
  s.ball_x = bx_[e], s.ball_y = by_[e], s.ball_vx = bvx_[e], s.ball_vy = bvy_[e];
  for (int i = 0; i < kAgents; ++i) {
    s.racket_x[i] = rx_[i * n + e], s.racket_y[i] = ry_[i * n + e];
    s.racket_vx[i] = rvx_[i * n + e], s.racket_vy[i] = rvy_[i * n + e];
    s.score[i] = score_[i * n + e];
    s.touching[i] = touching_[i * n + e] != 0;
    for (int k = 0; k < kActionSize; ++k) s.actions[i][k] = act_[(i * 2 + k) * n + e];
  }
  s.last_hitter = last_hitter_[e];
  s.last_toucher = last_toucher_[e];
  s.steps = steps_[e];
  s.ball_in_over = inside_[e] != 0;
  s.academy_ticks = academy_ticks_[e];
  return s;
}

void TennisBatch::set_state(int env, const TennisState& s) {
  check_env(env);
  auto agent = [](int v, const char* name) {
    if (v < kNone || v > kA)
      throw std::invalid_argument(std::string(name) + " must be -1, 0 or 1, got " + std::to_string(v));
    return v;
  };
  const size_t n = stride_, e = static_cast<size_t>(env);
  last_hitter_[e] = agent(s.last_hitter, "last_hitter");
  last_toucher_[e] = agent(s.last_toucher, "last_toucher");
  if (s.steps < 0) throw std::invalid_argument("steps must be >= 0");
  bx_[e] = s.ball_x, by_[e] = s.ball_y, bvx_[e] = s.ball_vx, bvy_[e] = s.ball_vy;
  for (int i = 0; i < kAgents; ++i) {
    rx_[i * n + e] = s.racket_x[i], ry_[i * n + e] = s.racket_y[i];
    rvx_[i * n + e] = s.racket_vx[i], rvy_[i * n + e] = s.racket_vy[i];
    score_[i * n + e] = s.score[i];
    touching_[i * n + e] = s.touching[i];
    for (int k = 0; k < kActionSize; ++k) act_[(i * 2 + k) * n + e] = clampf(s.actions[i][k], -1.0f, 1.0f);
    rew_[i * n + e] = 0.0f;
  }
  steps_[e] = s.steps;
  inside_[e] = s.ball_in_over;
  academy_ticks_[e] = s.academy_ticks;
  done_[e] = max_reached_[e] = 0;
  if (!started_[e]) {
    started_[e] = 1;
    ++started_count_;
  }
}

// ---- checkpoints -------------------------------------------------------------------------------------

namespace {

// Leads a saved state: "TENV" and the layout version.
constexpr uint32_t kStateMagic = 0x564E4554u;
constexpr uint32_t kStateVersion = 1;

struct Header {
  uint32_t magic, version;
  int32_t num_envs, options;
  uint64_t payload;
};

int32_t options_bits(const TennisOptions& o) {
  return (o.clean_reset ? 1 : 0) | (o.observe_ball_velocity ? 2 : 0) | (o.fix_last_hitter ? 4 : 0) |
         (o.mode == TennisMode::kCompetitive ? 8 : 0);
}

}  // namespace

void TennisBatch::observations(float* obs) const { std::memcpy(obs, stack_.data(), stack_.size() * sizeof(float)); }

// Applies f(pointer, bytes) to every saved array, in the file order.
template <typename Self, typename F>
void for_each_array(Self& self, F&& f) {
  auto each = [&](auto&... vectors) { (f(vectors.data(), vectors.size() * sizeof(vectors[0])), ...); };
  each(self.bx_, self.by_, self.bvx_, self.bvy_, self.rx_, self.ry_, self.rvx_, self.rvy_, self.act_, self.rew_,
       self.score_, self.last_hitter_, self.last_toucher_, self.inside_, self.touching_, self.done_, self.max_reached_,
       self.steps_, self.academy_ticks_, self.started_, self.rng_, self.stack_);
}

std::vector<uint8_t> TennisBatch::save_state() const {
  size_t payload = 0;
  for_each_array(*this, [&](const void*, size_t bytes) { payload += bytes; });
  std::vector<uint8_t> out(sizeof(Header) + payload);
  const Header header{kStateMagic, kStateVersion, n_, options_bits(options_), payload};
  std::memcpy(out.data(), &header, sizeof header);
  size_t at = sizeof header;
  for_each_array(*this, [&](const void* data, size_t bytes) {
    std::memcpy(out.data() + at, data, bytes);
    at += bytes;
  });
  return out;
}

void TennisBatch::load_state(const uint8_t* data, size_t size) {
  Header header;
  if (size < sizeof header) throw std::invalid_argument("state: too short for a saved Tennis state");
  std::memcpy(&header, data, sizeof header);
  if (header.magic != kStateMagic || header.version != kStateVersion)
    throw std::invalid_argument("state: not a saved Tennis state (or from another version)");
  if (header.num_envs != n_ || header.options != options_bits(options_))
    throw std::invalid_argument("state: saved with " + std::to_string(header.num_envs) + " envs and options " +
                                std::to_string(header.options) + ", this batch has " + std::to_string(n_) +
                                " envs and options " + std::to_string(options_bits(options_)));
  size_t payload = 0;
  for_each_array(*this, [&](const void*, size_t bytes) { payload += bytes; });
  if (header.payload != payload || size != sizeof header + payload)
    throw std::invalid_argument("state: size does not match a batch of " + std::to_string(n_) + " envs");
  size_t at = sizeof header;
  for_each_array(*this, [&](void* dst, size_t bytes) {
    std::memcpy(dst, data + at, bytes);
    at += bytes;
  });
  started_count_ = 0;
  for (int e = 0; e < n_; ++e) started_count_ += started_[e] != 0;
}

}  // namespace tennis
