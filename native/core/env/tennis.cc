// Vectorized Tennis physics, rewards and resets (rules in docs/tennis-env.md; "section N" below refers
// to it). Arithmetic mirrors the numpy prototype those rules were checked with, operation by operation:
// state is float32, products with dt and the contact solver run in double and are rounded back, so
// trajectories agree with it to float precision up to the first ball-racket contact (the golden
// trajectories of test/fixtures/env, section 11).
//
// Speed: each tick runs as two vectorizable passes over a block of envs (racket scripts, clamp,
// gravity, floor support; then integration) and sends only the envs where something can happen
// (ball near a racket, near a terminal collider, leaving the net trigger) through the scalar contact
// solver and event logic. Conservative broad-phase tests decide that, so skipping is exact.
#include "env/tennis.h"

#include "env/block_team.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

// The SIMD helpers pass 256-bit double vectors between inlined functions; GCC warns that their ABI
// would differ with AVX, which is irrelevant for functions that never cross a translation unit.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace tennis {

// Four float / int32 lanes: one 128-bit SIMD group of envs (GCC / Clang vector extension).
typedef float F4 __attribute__((vector_size(16)));
typedef int32_t I4 __attribute__((vector_size(16)));

// Pointers into a TennisBatch's state arrays, one per field (agent-major fields per agent).
struct Lanes {
  float *bx, *by, *bvx, *bvy;
  float *rx[2], *ry[2], *rvx[2], *rvy[2];
  const float* act[2][2];
  int32_t *near, *impulse, *slow, *inside, *touching[2];
};

namespace {

// Fixed timestep (s); products v * dt are formed in double and rounded, as in the prototype.
constexpr double kDt = 0.02;
// Gravity velocity increment per tick, formed in float32.
constexpr float kGdt = -9.81f * 0.02f;
// Ball radius.
constexpr double kBallRadius = 0.5;
// Inverse masses: ball 0.75, racket 4.
constexpr double kInvMassBall = 1 / 0.75;
constexpr double kInvMassRacket = 1 / 4.0;
// Ticks after which an agent is done (resetOnDone, agent max step).
constexpr int kAgentMaxTicks = 5000;
// Ticks since the last reset() after which the academy ends every episode.
constexpr int kAcademyMaxTicks = 25000;
// PhysX bounce threshold: slower approaches do not bounce.
constexpr double kBounceThreshold = 2.0;
// Sequential-impulse passes of the contact solver.
constexpr int kSolverIters = 12;
// Pair contact distance (two shapes' contact offsets of 0.01).
constexpr double kContactDist = 0.02;
// Per-axis clamp of the ball velocity, applied by the area script before each tick.
constexpr float kBallVmax = 9.0f;
// Racket horizontal speed at |action| = 1.
constexpr float kRacketSpeed = 30.0f;
// Racket vertical speed set by a jump.
constexpr float kJumpVelocity = 7.0f;
// A jump needs action[1] above this and the racket below kJumpMaxY.
constexpr float kJumpThreshold = 0.5f;
constexpr float kJumpMaxY = -1.5f;
// Rackets may not cross x = -m * this (teleported back before each tick).
constexpr float kRacketXLimit = 1.0f;
// Mirroring multiplier per agent index (0 = right-hand AgentB).
constexpr float kMirror[2] = {-1.0f, 1.0f};
// Racket box half extents along the face normal u and along the face v.
constexpr double kHalfU = 0.5 * 5.5 * 0.2;
constexpr double kHalfV = 0.5 * 0.75 * 2.5;
// Rewards, float32 as in the build.
constexpr float kRewardHit = 0.1f;
constexpr float kRewardMiss = -0.01f;
// Zero-sum rewards of the competitive mode.
constexpr float kRewardWin = 1.0f;
constexpr float kRewardLose = -1.0f;
// Agent indices (Python order) and "nobody".
constexpr int kB = 0, kA = 1, kNone = -1;
// Envs per SIMD group (one 128-bit float vector); state arrays are padded to a multiple of it.
constexpr int kLanes = 4;
// Envs per block: the per-block slices of all state arrays stay in L1 across the 5 ticks.
constexpr int kBlock = 256;
// Envs per block when several threads share a step (finer blocks balance better).
constexpr int kThreadBlock = 128;
// Slack added to the broad-phase radii so float rounding can never make them skip a real contact.
constexpr float kBroadMargin = 0.01f;

// Racket geometry, derived exactly as in the prototype (math.radians(55) = 55 * (pi / 180)).
const double kCos55 = std::cos(55.0 * (M_PI / 180.0));
const double kSin55 = std::sin(55.0 * (M_PI / 180.0));
// Box centre of racket A relative to its position (mirror x for B).
const double kCentreX = -0.5 * kCos55;
const double kCentreY = -0.5 * kSin55;
// Racket y when its bottom corner rests on its floor (-1.85216).
const double kRestY = -3.25 - (kCentreY - kHalfU * kSin55 - kHalfV * kCos55);
const float kRestYf = static_cast<float>(kRestY);
// |x| of a racket whose outer corner touches its wall (10.89979).
const double kWallStop = 12.27 + (kCentreX - kHalfU * kCos55 - kHalfV * kSin55);
// Broad phase: a ball farther than this from the box centre cannot touch the racket box.
const float kReachPost = static_cast<float>(kBallRadius + std::sqrt(kHalfU * kHalfU + kHalfV * kHalfV)) + kBroadMargin;
// ... and cannot get a contact this tick unless closer than this plus dt * |relative velocity|_1.
const float kReachPre = kReachPost + static_cast<float>(kContactDist);

// Colliders that end a rally, in the order their events are processed (section 5).
enum StaticId { kFloorA, kFloorB, kWallA, kWallB, kNet, kNumStatics };
struct Box {
  double x0, x1, y0, y1;
};
constexpr Box kStatics[kNumStatics] = {
    {-12.5, 0.0, -3.75, -3.25}, {0.0, 12.5, -3.75, -3.25}, {-13.73, -12.27, -30.45, 30.45},
    {12.27, 13.73, -30.45, 30.45}, {-0.05, 0.05, -5.0, -1.0}};
// Quick reject for terminal events: the ball can only touch a floor below this y, a wall beyond this
// |x|, or the net inside this |x| and below that y (exact tests follow in the scalar pass).
constexpr float kTermFloorY = -2.75f + kBroadMargin;
constexpr float kTermWallX = 11.77f - kBroadMargin;
constexpr float kTermNetX = 0.55f + kBroadMargin;
constexpr float kTermNetY = -0.5f + kBroadMargin;

inline float clampf(float v, float lo, float hi) { return std::min(std::max(v, lo), hi); }

// Whether the ball is inside the zero-thickness `over` trigger at x = 0 (section 2).
inline bool in_over(float x, float y) { return (std::fabs(x) < 0.5f) & (-1.5f < y) & (y < 9.5f); }

// Contact normal (racket -> ball) and signed separation of the ball sphere and racket box.
struct Separation {
  double nx, ny, s;
};
Separation ball_racket(double bx, double by, double rx, double ry, double m) {
  const double cx = m * kCentreX, cy = kCentreY;
  const double ux = m * kCos55, uy = kSin55, vx = -m * kSin55, vy = kCos55;
  const double dx = bx - rx - cx, dy = by - ry - cy;
  const double du = dx * ux + dy * uy, dv = dx * vx + dy * vy;
  const double cu = std::min(std::max(du, -kHalfU), kHalfU), cv = std::min(std::max(dv, -kHalfV), kHalfV);
  double nu, nv, s;
  if (cu != du || cv != dv) {  // centre outside the box
    const double eu = du - cu, ev = dv - cv, len = std::hypot(eu, ev);
    nu = eu / len, nv = ev / len, s = len - kBallRadius;
  } else if (kHalfU - std::fabs(du) < kHalfV - std::fabs(dv)) {  // inside: least-penetration face
    nu = std::copysign(1.0, du), nv = 0.0, s = -(kHalfU - std::fabs(du)) - kBallRadius;
  } else {
    nu = 0.0, nv = std::copysign(1.0, dv), s = -(kHalfV - std::fabs(dv)) - kBallRadius;
  }
  return {nu * ux + nv * vx, nu * uy + nv * vy, s};
}

// Signed distance of the ball sphere to a static box (negative inside).
double ball_box_dist(double bx, double by, const Box& box) {
  const double dx = std::max(std::max(box.x0 - bx, 0.0), bx - box.x1);
  const double dy = std::max(std::max(box.y0 - by, 0.0), by - box.y1);
  if (dx > 0 || dy > 0) return std::hypot(dx, dy) - kBallRadius;
  return -std::min(std::min(bx - box.x0, box.x1 - bx), std::min(by - box.y0, box.y1 - by)) - kBallRadius;
}

}  // namespace

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

// ---- one physics tick --------------------------------------------------------------------------
// The two cheap passes run on groups of kLanes envs with GCC/Clang vector extensions (explicit SIMD:
// the auto-vectorizer gives up on this much select logic). Every lane performs the same IEEE float /
// double operations as the scalar prototype, so results do not depend on the lane an env sits in.
// reset()'s extra tick runs the same group code with a lane mask, so there is one implementation.

namespace {

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
// x + round32(v * dt): the prototype's position update.
inline F4 vadvance(F4 x, F4 v) { return x + narrow(widen(v) * kDt); }

// The largest float below a double threshold: float y < t  <=>  y <= below(t).
float float_below(double t) {
  float f = static_cast<float>(t);
  while (static_cast<double>(f) >= t) f = std::nextafter(f, -INFINITY);
  return f;
}
// Racket y below its rest height (float test equivalent to the prototype's double comparison).
const float kRestYBelow = float_below(kRestY);
// m * x below -kWallStop, likewise.
const float kWallBelow = float_below(-kWallStop);

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

// Ball centre within `reach` of racket (x, y)'s box centre: a conservative "may touch" test.
inline I4 near_racket(F4 bx, F4 by, F4 x, F4 y, int agent, F4 reach) {
  const F4 dx = bx - (x + splat(kMirror[agent] * static_cast<float>(kCentreX)));
  const F4 dy = by - (y + splat(static_cast<float>(kCentreY)));
  return dx * dx + dy * dy <= reach * reach;
}

// Racket velocity after the racket-floor contact alone (restitution 0). This is the prototype's
// sequential-impulse result for a single contact (its first pass reaches it):
//   target = min(-(y - rest) / dt, 0); vy' = target > vy ? round32(vy + (target - vy)) : vy,
// rewritten so that every select is on floats: round32(vy + (target - vy)) >= vy exactly when
// target > vy, and target = 0 (giving +0) when the racket is at or below its rest height.
inline F4 floor_support(F4 y, F4 vy) {
  const D4 q = -(widen(y) - kRestY) / kDt;
  const D4 v = widen(vy);
  const F4 r = sel(y > splat(kRestYBelow), narrow(v + (q - v)), splat(0.0f));
  return sel(r > vy, r, vy);
}

// Racket scripts (section 4), ball clamp, gravity, and the broad phase that decides whether the
// contact solver must run; envs that need no solver get their racket-floor support here.
template <bool Masked>
inline void pass_forces(const Lanes& l, size_t e, I4 keep) {
  F4 bvx = vclamp(load(l.bvx + e), -kBallVmax, kBallVmax);
  F4 bvy = vclamp(load(l.bvy + e), -kBallVmax, kBallVmax) + splat(kGdt);
  const F4 bx = load(l.bx + e), by = load(l.by + e);
  I4 near = splati(0), near_bits = splati(0);
  F4 x[2], vx[2], vy[2];
  const F4 y[2] = {load(l.ry[0] + e), load(l.ry[1] + e)};
  for (int i = 0; i < kAgents; ++i) {
    const F4 m = splat(kMirror[i]);
    const F4 a0 = load(l.act[i][0] + e), a1 = load(l.act[i][1] + e);
    x[i] = load(l.rx[i] + e);
    vy[i] = load(l.rvy[i] + e);
    vy[i] = sel((a1 > splat(kJumpThreshold)) & (y[i] < splat(kJumpMaxY)), splat(kJumpVelocity), vy[i]);
    vx[i] = (splat(kRacketSpeed) * a0) * m;
    x[i] = sel(m * x[i] > splat(-kRacketXLimit), splat(-kMirror[i] * kRacketXLimit), x[i]);
    vy[i] = vy[i] + splat(kGdt);
    const F4 reach = splat(kReachPre) + splat(static_cast<float>(kDt)) * (vabs(bvx - vx[i]) + vabs(bvy - vy[i]));
    const I4 near_i = near_racket(bx, by, x[i], y[i], i, reach);
    near = near | near_i;
    near_bits = near_bits | (near_i & splati(1 << i));
  }
  for (int i = 0; i < kAgents; ++i) {
    put<Masked>(l.rx[i] + e, x[i], keep);
    put<Masked>(l.rvx[i] + e, vx[i], keep);
    put<Masked>(l.rvy[i] + e, sel(near, vy[i], floor_support(y[i], vy[i])), keep);
  }
  put<Masked>(l.bvx + e, bvx, keep);
  put<Masked>(l.bvy + e, bvy, keep);
  puti<false>(l.near + e, near_bits, keep);  // scratch, bit i: racket i may get a contact
  puti<false>(l.impulse + e, splati(0), keep);
}

// Integration, floor projection, wall stop (section 5); then flags the envs whose events need
// the scalar pass: ball near a racket (touch / push-out), leaving the trigger, or near a terminal
// collider. The others cannot touch anything this tick: their touching flags clear, inside updates.
template <bool Masked>
inline void pass_integrate(const Lanes& l, size_t e, I4 keep) {
  const F4 bx = vadvance(load(l.bx + e), load(l.bvx + e));
  const F4 by = vadvance(load(l.by + e), load(l.bvy + e));
  put<Masked>(l.bx + e, bx, keep);
  put<Masked>(l.by + e, by, keep);
  I4 touchable = splati(0);
  for (int i = 0; i < kAgents; ++i) {
    const F4 m = splat(kMirror[i]);
    F4 x = vadvance(load(l.rx[i] + e), load(l.rvx[i] + e));
    F4 y = vadvance(load(l.ry[i] + e), load(l.rvy[i] + e));
    y = sel(y <= splat(kRestYBelow), splat(kRestYf), y);  // projection on the floor
    const I4 walled = m * x <= splat(kWallBelow);
    x = sel(walled, splat(static_cast<float>(-kMirror[i] * kWallStop)), x);
    put<Masked>(l.rx[i] + e, x, keep);
    put<Masked>(l.ry[i] + e, y, keep);
    put<Masked>(l.rvx[i] + e, sel(walled, splat(0.0f), load(l.rvx[i] + e)), keep);
    touchable = touchable | (near_racket(bx, by, x, y, i, splat(kReachPost)) & splati(2 << i));
  }
  const F4 ax = vabs(bx);
  const I4 inside = (ax < splat(0.5f)) & (splat(-1.5f) < by) & (by < splat(9.5f));  // as in_over()
  const I4 was_inside = loadi(l.inside + e) != splati(0);
  const I4 terminal = (by <= splat(kTermFloorY)) | (ax >= splat(kTermWallX)) |
                      ((ax <= splat(kTermNetX)) & (by <= splat(kTermNetY)));
  const I4 slow = (loadi(l.near + e) != splati(0)) | (touchable != splati(0)) | (was_inside & ~inside) | terminal;
  puti<Masked>(l.inside + e, seli(slow, loadi(l.inside + e), inside & splati(1)), keep);
  for (int i = 0; i < kAgents; ++i)
    puti<Masked>(l.touching[i] + e, seli(slow, loadi(l.touching[i] + e), splati(0)), keep);
  puti<false>(l.slow + e, (slow & splati(1)) | touchable, keep);  // scratch: bit 0 slow, bit 1 + i touchable
}

}  // namespace

// Ball-racket and racket-floor contacts of one env, solved like the prototype (double precision,
// 12 sequential-impulse passes, restitution 1 above the bounce threshold for pairs that touch within
// the tick, speculative contacts that only cap the approach speed otherwise).
void TennisBatch::solve_contacts(int e) {
  const size_t n = stride_;
  double vel[3][2] = {{bvx_[e], bvy_[e]}, {rvx_[e], rvy_[e]}, {rvx_[n + e], rvy_[n + e]}};
  const double inv_mass[3] = {kInvMassBall, kInvMassRacket, kInvMassRacket};
  struct Contact {
    int b1, b2;  // bodies (0 ball, 1 + agent racket); b2 < 0 = static floor
    double nx, ny, target, w, lambda;
  };
  Contact contacts[4];
  int count = 0;
  auto rel_vn = [&](const Contact& c) {
    const double v2x = c.b2 >= 0 ? vel[c.b2][0] : 0.0, v2y = c.b2 >= 0 ? vel[c.b2][1] : 0.0;
    return (vel[c.b1][0] - v2x) * c.nx + (vel[c.b1][1] - v2y) * c.ny;
  };
  for (int i = 0; i < kAgents; ++i) {
    if (!((near_[e] >> i) & 1)) continue;  // the broad phase proved the contact test below fails
    const Separation sep = ball_racket(bx_[e], by_[e], rx_[i * n + e], ry_[i * n + e], kMirror[i]);
    Contact c{0, 1 + i, sep.nx, sep.ny, 0.0, kInvMassBall + kInvMassRacket, 0.0};
    const double vn0 = rel_vn(c);
    const double vrel = std::hypot(vel[0][0] - vel[1 + i][0], vel[0][1] - vel[1 + i][1]);
    if (sep.s > kContactDist + vrel * kDt) continue;  // cannot touch this tick
    const bool bounce = sep.s + vn0 * kDt <= 0 && vn0 < -kBounceThreshold;
    c.target = bounce ? -vn0 : std::min(-sep.s / kDt, 0.0);
    contacts[count++] = c;
  }
  for (int i = 0; i < kAgents; ++i) {  // racket-floor, restitution 0
    const double s = static_cast<double>(ry_[i * n + e]) - kRestY;
    contacts[count++] = Contact{1 + i, -1, 0.0, 1.0, std::min(-s / kDt, 0.0), kInvMassRacket, 0.0};
  }
  for (int iter = 0; iter < kSolverIters; ++iter) {
    for (int k = 0; k < count; ++k) {
      Contact& c = contacts[k];
      const double updated = std::max(c.lambda + (c.target - rel_vn(c)) / c.w, 0.0);
      const double d = updated - c.lambda;
      c.lambda = updated;
      vel[c.b1][0] += d * c.nx * inv_mass[c.b1];
      vel[c.b1][1] += d * c.ny * inv_mass[c.b1];
      if (c.b2 >= 0) {
        vel[c.b2][0] -= d * c.nx * inv_mass[c.b2];
        vel[c.b2][1] -= d * c.ny * inv_mass[c.b2];
      }
    }
  }
  int32_t impulse = 0;
  for (int k = 0; k < count; ++k)
    if (contacts[k].b1 == 0 && contacts[k].lambda > 0) impulse |= 1 << (contacts[k].b2 - 1);
  impulse_[e] = impulse;
  bvx_[e] = static_cast<float>(vel[0][0]);
  bvy_[e] = static_cast<float>(vel[0][1]);
  for (int i = 0; i < kAgents; ++i) {
    rvx_[i * n + e] = static_cast<float>(vel[1 + i][0]);
    rvy_[i * n + e] = static_cast<float>(vel[1 + i][1]);
  }
}

// Ball-racket projection and touches, the `over` trigger, and the first terminal event (sections 5
// and 7), for one env after integration.
void TennisBatch::resolve_events(int e) {
  const size_t n = stride_;
  bool touch[2];
  for (int i = 0; i < kAgents; ++i) {
    touch[i] = (impulse_[e] >> i) & 1;
    if (!((slow_[e] >> (1 + i)) & 1)) continue;  // the broad phase proved separation > 0
    const Separation sep = ball_racket(bx_[e], by_[e], rx_[i * n + e], ry_[i * n + e], kMirror[i]);
    touch[i] = touch[i] || sep.s <= 0.0;
    if (sep.s < 0) {  // a ball found inside a racket is pushed out; only the ball moves
      bx_[e] = static_cast<float>(bx_[e] - sep.s * sep.nx);
      by_[e] = static_cast<float>(by_[e] - sep.s * sep.ny);
    }
  }
  for (int i = 0; i < kAgents; ++i) {
    if (touch[i] && !touching_[i * n + e]) {
      last_hitter_[e] = i;
      last_toucher_[e] = i;
    }
    touching_[i * n + e] = touch[i];
  }
  const bool cooperative = options_.mode == TennisMode::kCooperative;
  const int32_t inside = in_over(bx_[e], by_[e]) ? 1 : 0;
  if (inside_[e] && !inside) {  // the ball left the trigger, in either direction
    const int k = last_hitter_[e] == kA ? kA : kB;
    if (cooperative) rew_[k * n + e] += kRewardHit;
    if (!options_.fix_last_hitter) last_hitter_[e] = kA;  // upstream bug: HitWall believes A hit last
  }
  inside_[e] = inside;
  for (int id = 0; id < kNumStatics; ++id) {
    if (ball_box_dist(bx_[e], by_[e], kStatics[id]) > 0.0) continue;
    if (cooperative) {
      const int loser = id == kFloorA ? kA : id == kFloorB ? kB : last_hitter_[e] == kA ? kA : kB;
      rew_[loser * n + e] += kRewardMiss;
      rew_[(1 - loser) * n + e] = 0.0f;  // SetReward(0) erases the window's earnings
    } else {
      // Zero-sum point: the side it lands on loses; walls and net charge the last racket to touch
      // (or, untouched, the side the ball is on).
      const int side = bx_[e] < 0.0f ? kA : kB;
      const int toucher = last_toucher_[e];
      const int loser = id == kFloorA ? kA : id == kFloorB ? kB : toucher != kNone ? toucher : side;
      rew_[loser * n + e] = kRewardLose;
      rew_[(1 - loser) * n + e] = kRewardWin;
    }
    done_[e] = 1;
    serve(e);
    break;
  }
}

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
    F4 rows[6] = {load(stack + 8), load(stack + 12), load(stack + 16), load(stack + 20),
                  F4{m * x, y, m * vx, vy}, F4{m * bx, by, s6, s7}};
    float* out = obs + (static_cast<size_t>(e) * kAgents + i) * kObsSize;
    std::memcpy(stack, rows, sizeof rows);
    std::memcpy(out, rows, sizeof rows);
  }
}

Lanes TennisBatch::lanes() {
  const size_t n = stride_;
  Lanes l;
  l.bx = bx_.data(), l.by = by_.data(), l.bvx = bvx_.data(), l.bvy = bvy_.data();
  for (int i = 0; i < kAgents; ++i) {
    l.rx[i] = rx_.data() + i * n, l.ry[i] = ry_.data() + i * n;
    l.rvx[i] = rvx_.data() + i * n, l.rvy[i] = rvy_.data() + i * n;
    l.touching[i] = touching_.data() + i * n;
    for (int k = 0; k < kActionSize; ++k) l.act[i][k] = act_.data() + (i * 2 + k) * n;
  }
  l.near = near_.data(), l.impulse = impulse_.data(), l.slow = slow_.data(), l.inside = inside_.data();
  return l;
}

void TennisBatch::tick_one(int e) {
  const Lanes l = lanes();
  const size_t group = static_cast<size_t>(e) / kLanes * kLanes;
  I4 keep = splati(0);
  keep[e - group] = -1;
  pass_forces<true>(l, group, keep);
  if (near_[e]) solve_contacts(e);
  pass_integrate<true>(l, group, keep);
  if (slow_[e] & 1) resolve_events(e);
}

// One tick of envs [begin, end); begin is a multiple of kLanes.
void TennisBatch::tick_block(int begin, int end) {
  const Lanes l = lanes();
  const int whole = begin + (end - begin) / kLanes * kLanes;
  I4 tail = splati(0);  // lanes of the last, partial group that hold real envs
  for (int k = 0; k < end - whole; ++k) tail[k] = -1;
  for (int g = begin; g < whole; g += kLanes) pass_forces<false>(l, g, tail);
  if (whole < end) pass_forces<true>(l, whole, tail);
  for (int g = begin; g < end; g += kLanes) {
    if (!any(loadi(&near_[g]))) continue;
    for (int e = g; e < std::min(g + kLanes, end); ++e)
      if (near_[e]) solve_contacts(e);
  }
  for (int g = begin; g < whole; g += kLanes) pass_integrate<false>(l, g, tail);
  if (whole < end) pass_integrate<true>(l, whole, tail);
  for (int g = begin; g < end; g += kLanes) {
    if (!any(loadi(&slow_[g]) & splati(1))) continue;
    for (int e = g; e < std::min(g + kLanes, end); ++e)
      if (slow_[e] & 1) resolve_events(e);
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
    if (v < kNone || v > kA) throw std::invalid_argument(std::string(name) + " must be -1, 0 or 1, got " + std::to_string(v));
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
       self.score_, self.last_hitter_, self.last_toucher_, self.inside_, self.touching_, self.done_,
       self.max_reached_, self.steps_, self.academy_ticks_, self.started_, self.rng_, self.stack_);
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

// ---- scripted controller ---------------------------------------------------------------------------

namespace {

// Ball centre when it sits on the centre of racket A's hitting face, relative to the racket position.
const double kFaceOffX = kCentreX + kHalfU * kCos55 + kBallRadius * kCos55;
const double kFaceOffY = kCentreY + kHalfU * kSin55 + kBallRadius * kSin55;
// Ball velocity change per unit of approach speed along the face normal for a racket on its floor.
const double kFloorExchange = 2 * kInvMassBall / (kInvMassBall + kCos55 * kCos55 * kInvMassRacket);
// Controller aims: landing x on the far side, flight time (s), waiting x (own frame).
constexpr double kAimLand = 6.0, kAimFlight = 1.84, kHomeX = -7.0;
// Ticks of free flight predicted.
constexpr int kPredictTicks = 250;

double clampd(double v) { return std::min(std::max(v, -1.0), 1.0); }

// Action of agent i for the state s (the prototype's `controller`, same arithmetic).
void scripted_agent(const TennisState& s, int i, float* action) {
  const double m = kMirror[i], rx = m * s.racket_x[i];
  action[1] = 0.0f;
  const double yc = kRestY + kFaceOffY;
  // Free flight with the per-tick clamp until the ball falls to the face-centre height.
  double x = s.ball_x, y = s.ball_y, vx = s.ball_vx, vy = s.ball_vy;
  int k = -1;
  for (int t = 0; t < kPredictTicks; ++t) {
    vx = std::min(std::max(vx, -9.0), 9.0);
    vy = static_cast<float>(std::min(std::max(vy, -9.0), 9.0) + kGdt);
    x = x + vx * kDt, y = y + vy * kDt;
    if (y <= yc && vy < 0) {
      k = t;
      break;
    }
  }
  if (k < 0 || m * x > -0.6 || s.racket_y[i] > kRestY + 1e-3) {  // not ours (or airborne): go home
    action[0] = static_cast<float>(clampd((kHomeX - rx) / (kRacketSpeed * 0.1)));
    return;
  }
  const double xb = m * x, vx_in = m * vx, vy_in = vy;
  const double vx_out = (kAimLand - xb) / kAimFlight;
  const double lambda = std::max((vx_out - vx_in) / kCos55, (9.5 - vy_in) / kSin55);  // ball dv along the normal
  const double vr = vx_in + (lambda / kFloorExchange + kSin55 * vy_in) / kCos55;    // racket speed giving it
  const double x_hit = xb - kFaceOffX;
  const int w = k / 5;
  if (w == 0) {
    action[0] = static_cast<float>(clampd(vr / kRacketSpeed));
    return;
  }
  const double x_pre = x_hit - vr * kDt * (k - 5 * w + 1);
  action[0] = static_cast<float>(clampd((x_pre - rx) / (kRacketSpeed * kDt * 5 * w)));
}

}  // namespace

void scripted_actions(const TennisBatch& envs, float* actions) {
  for (int e = 0; e < envs.num_envs(); ++e) {
    const TennisState s = envs.state(e);
    for (int i = 0; i < kAgents; ++i) scripted_agent(s, i, actions + static_cast<size_t>(e) * 4 + i * 2);
  }
}

}  // namespace tennis
