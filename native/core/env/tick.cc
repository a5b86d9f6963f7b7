// One physics tick of a TennisBatch (rules in docs/tennis-env.md; "section N" refers to it).
// Arithmetic mirrors the numpy prototype those rules were checked with, operation by operation: state
// is float32, products with dt and the contact solver run in double and are rounded back, so
// trajectories agree with it to float precision up to the first ball-racket contact (the golden
// trajectories of test/fixtures/env, section 11).
//
// Each tick runs as two vectorizable passes over a block of envs (racket scripts, clamp, gravity, floor
// support; then integration) and sends only the envs where something can happen (ball near a racket,
// near a terminal collider, leaving the net trigger) through the scalar contact solver and event logic.
// Conservative broad-phase tests decide that, so skipping is exact.
//
// The two cheap passes run on groups of kLanes envs with GCC/Clang vector extensions (explicit SIMD:
// the auto-vectorizer gives up on this much select logic). Every lane performs the same IEEE float /
// double operations as the scalar prototype, so results do not depend on the lane an env sits in.
// reset()'s extra tick runs the same group code with a lane mask, so there is one implementation.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "env/physics.h"
#include "env/simd.h"
#include "env/tennis.h"

namespace tennis {

using namespace physics;
using namespace simd;

// Pointers into a TennisBatch's state arrays, one per field (agent-major fields per agent).
struct Lanes {
  float *bx, *by, *bvx, *bvy;
  float *rx[2], *ry[2], *rvx[2], *rvy[2];
  const float* act[2][2];
  int32_t *near, *impulse, *slow, *inside, *touching[2];
};

namespace {

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
  const I4 terminal =
      (by <= splat(kTermFloorY)) | (ax >= splat(kTermWallX)) | ((ax <= splat(kTermNetX)) & (by <= splat(kTermNetY)));
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

}  // namespace tennis
