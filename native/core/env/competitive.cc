// Scripted controller for the competitive mode: the rally controller's way of meeting the ball
// (scripted_actions: wait on the floor, meet the falling ball with the face centre), with the shot
// chosen to win the point instead of keeping the rally alive. For each racket speed on a grid it
// predicts the ball's exchange with the face and its free flight to the floor, drops the shots that
// would touch the net, fall short of kMinLand or land beyond kMaxLand (too near the far wall, which
// would lose the point for the hitter), and plays the shot landing farthest from the opponent's racket.
// docs/competitive.md describes the strategy and its measured results.
#include "env/competitive.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "env/physics.h"

namespace tennis {

using namespace physics;

namespace {

// Ball centre height when it touches a floor.
constexpr double kFloorBallY = -3.25 + kBallRadius;

// Shot choice: predicted landings (own frame, opponent's side positive) allowed in [kMinLand, kMaxLand].
// The far wall's face is at 12.27, so the ball centre touches it at 11.77; a ball coming down beyond
// about 11.2 is out of reach of a racket standing at its wall stop (kWallStop) with the face centre, and
// kMaxLand = 11.3 is where the rally controller stops returning the deep shots (docs/competitive.md:
// 10.8 wins 80% of its points against it, 11.3 all; 11.5 sends more into the wall).
constexpr double kMinLand = 1.5, kMaxLand = 11.3;
// Within |x| < kNetClearX (the net's half width 0.05, the ball radius 0.5 and a margin) the ball centre
// must stay above kNetClearY (the net top -1 plus the ball radius, and a margin for the prediction).
constexpr double kNetClearX = 0.8, kNetClearY = -0.1;
// Racket speeds tried, evenly spaced in [-kMaxShotSpeed, kMaxShotSpeed].
constexpr int kShotGrid = 61;
constexpr double kMaxShotSpeed = 0.95 * double{kRacketSpeed};
// Waiting x (own frame) while the ball is not ours.
constexpr double kHomeX = -6.5;
// Ticks of free flight predicted (to the face height, and for a shot to the floor).
constexpr int kPredictTicks = 250;

double clamp1(double v) { return std::min(std::max(v, -1.0), 1.0); }
double clampv(double v) { return std::min(std::max(v, -double{kBallVmax}), double{kBallVmax}); }

// Predicted landing x of a ball leaving (x, y) with velocity (vx, vy) in the hitter's frame (the
// env's free flight: per-tick clamp, gravity, integration), or NaN when it would touch the net, come
// back over it, or not land within kPredictTicks.
double landing_x(double x, double y, double vx, double vy) {
  for (int t = 0; t < kPredictTicks; ++t) {
    vx = clampv(vx);
    vy = static_cast<float>(clampv(vy) + kGdt);
    x += vx * kDt, y += vy * kDt;
    if (std::fabs(x) < kNetClearX && y < kNetClearY) return NAN;
    if (y <= kFloorBallY) return x > 0 ? x : NAN;
  }
  return NAN;
}

}  // namespace

void competitive_agent(const TennisState& s, int i, float* action) {
  const double m = kMirror[i], rx = m * s.racket_x[i];
  action[1] = 0.0f;
  const double yc = kRestY + kFaceOffY;
  // Free flight until the ball falls to the face-centre height (as the rally controller predicts it).
  double x = s.ball_x, y = s.ball_y, vx = s.ball_vx, vy = s.ball_vy;
  int k = -1;
  for (int t = 0; t < kPredictTicks; ++t) {
    vx = clampv(vx);
    vy = static_cast<float>(clampv(vy) + kGdt);
    x = x + vx * kDt, y = y + vy * kDt;
    if (y <= yc && vy < 0) {
      k = t;
      break;
    }
  }
  if (k < 0 || m * x > -0.6 || s.racket_y[i] > kRestY + 1e-3) {  // not ours (or airborne): wait
    action[0] = static_cast<float>(clamp1((kHomeX - rx) / (kRacketSpeed * 0.1)));
    return;
  }
  const double xb = m * x, vx_in = m * vx, vy_in = vy;
  const double opponent = m * s.racket_x[1 - i];
  // The shot: the racket speed whose predicted landing is farthest from the opponent's racket.
  double best_vr = NAN, best_gap = -1;
  for (int g = 0; g < kShotGrid; ++g) {
    const double vr = -kMaxShotSpeed + 2 * kMaxShotSpeed * g / (kShotGrid - 1);
    // Velocity change along the face normal for this racket speed (inverse of the rally controller's vr).
    const double lambda = kFloorExchange * ((vr - vx_in) * kCos55 - kSin55 * vy_in);
    if (lambda <= 0) continue;
    const double land = landing_x(xb, y, vx_in + lambda * kCos55, vy_in + lambda * kSin55);
    if (!(land >= kMinLand && land <= kMaxLand)) continue;
    const double gap = std::fabs(land - opponent);
    if (gap > best_gap) best_gap = gap, best_vr = vr;
  }
  if (std::isnan(best_vr)) {  // no safe shot predicted: the rally controller's lob to x = 6
    const double vx_out = (6.0 - xb) / 1.84;
    const double lambda = std::max((vx_out - vx_in) / kCos55, (9.5 - vy_in) / kSin55);
    best_vr = vx_in + (lambda / kFloorExchange + kSin55 * vy_in) / kCos55;
  }
  const double x_hit = xb - kFaceOffX;
  const int w = k / 5;
  if (w == 0) {
    action[0] = static_cast<float>(clamp1(best_vr / kRacketSpeed));
    return;
  }
  const double x_pre = x_hit - best_vr * kDt * (k - 5 * w + 1);
  action[0] = static_cast<float>(clamp1((x_pre - rx) / (kRacketSpeed * kDt * 5 * w)));
}

void competitive_actions(const TennisBatch& envs, float* actions) {
  for (int e = 0; e < envs.num_envs(); ++e) {
    const TennisState s = envs.state(e);
    for (int i = 0; i < kAgents; ++i) competitive_agent(s, i, actions + static_cast<size_t>(e) * 4 + i * 2);
  }
}

}  // namespace tennis
