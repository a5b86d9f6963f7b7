// The hand-written Tennis controller (a port of the numpy prototype's, docs/tennis-env.md section 11).
#include <algorithm>
#include <cstddef>

#include "env/physics.h"
#include "env/tennis.h"

namespace tennis {

using namespace physics;

namespace {

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
  const double vr = vx_in + (lambda / kFloorExchange + kSin55 * vy_in) / kCos55;      // racket speed giving it
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
