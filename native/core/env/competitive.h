// Scripted controller for the competitive mode (docs/tennis-env.md section 9, strategy in
// docs/competitive.md): it returns every ball it can reach, choosing among the shots its racket speed
// allows the one predicted to land farthest from the opponent's racket, inside the opponent's court.
#pragma once

#include "env/tennis.h"

namespace tennis {

// Actions [n][2][2] for both rackets of every env from its current state (each racket plays its own
// side; a caller that wants one side takes that side's pair). Pure function of the state.
void competitive_actions(const TennisBatch& envs, float* actions);

// One racket's action pair for state s (agent index i, action[0] move, action[1] jump).
void competitive_agent(const TennisState& s, int i, float* action);

}  // namespace tennis
