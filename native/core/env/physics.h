// Tennis world constants and the ball-racket / ball-box geometry shared by the env's source files
// (rules in docs/tennis-env.md; "section N" refers to it). Every value is derived exactly as in the numpy
// prototype the rules were checked with. Internal to native/core/env.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "batch.h"

namespace tennis {
namespace physics {

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
// Ball centre when it sits on the centre of racket A's hitting face, relative to the racket position.
const double kFaceOffX = kCentreX + kHalfU * kCos55 + kBallRadius * kCos55;
const double kFaceOffY = kCentreY + kHalfU * kSin55 + kBallRadius * kSin55;
// Ball velocity change per unit of approach speed along the face normal for a racket on its floor.
const double kFloorExchange = 2 * kInvMassBall / (kInvMassBall + kCos55 * kCos55 * kInvMassRacket);
// Broad phase: a ball farther than this from the box centre cannot touch the racket box.
const float kReachPost = static_cast<float>(kBallRadius + std::sqrt(kHalfU * kHalfU + kHalfV * kHalfV)) + kBroadMargin;
// ... and cannot get a contact this tick unless closer than this plus dt * |relative velocity|_1.
const float kReachPre = kReachPost + static_cast<float>(kContactDist);

// Colliders that end a rally, in the order their events are processed (section 5).
enum StaticId { kFloorA, kFloorB, kWallA, kWallB, kNet, kNumStatics };
struct Box {
  double x0, x1, y0, y1;
};
constexpr Box kStatics[kNumStatics] = {{-12.5, 0.0, -3.75, -3.25},
                                       {0.0, 12.5, -3.75, -3.25},
                                       {-13.73, -12.27, -30.45, 30.45},
                                       {12.27, 13.73, -30.45, 30.45},
                                       {-0.05, 0.05, -5.0, -1.0}};
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
inline Separation ball_racket(double bx, double by, double rx, double ry, double m) {
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
inline double ball_box_dist(double bx, double by, const Box& box) {
  const double dx = std::max(std::max(box.x0 - bx, 0.0), bx - box.x1);
  const double dy = std::max(std::max(box.y0 - by, 0.0), by - box.y1);
  if (dx > 0 || dy > 0) return std::hypot(dx, dy) - kBallRadius;
  return -std::min(std::min(bx - box.x0, box.x1 - bx), std::min(by - box.y0, box.y1 - by)) - kBallRadius;
}

}  // namespace physics
}  // namespace tennis
