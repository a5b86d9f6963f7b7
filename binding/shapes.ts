// Sizes of the Tennis task shared by every binding (they mirror native/core/batch.h).

/** Agents per env (index 0 = right-hand racket, Unity "AgentB"; index 1 = left, "AgentA"). */
export const AGENTS = 2;
/** Observation floats per agent (8 variables x 3 stacked frames, oldest first). */
export const OBS_SIZE = 24;
/** Slot where the newest of the 3 stacked frames starts in an agent's observation. */
export const OBS_NEWEST_FRAME = 16;
/** Slots within a frame, in the agent's own frame of reference (its side of the net negative x). */
export const FRAME_RACKET_X = 0;
export const FRAME_BALL_X = 4;
/** Action floats per agent: [move toward the net, jump if > 0.5], each clamped to [-1, 1]. */
export const ACTION_SIZE = 2;
/** Floats per env (or batch row) of joint observations: [2][24]. */
export const JOINT_OBS = AGENTS * OBS_SIZE;
/** Floats per env (or batch row) of joint actions: [2][2]. */
export const JOINT_ACTION = AGENTS * ACTION_SIZE;
/** Floats in one joint record: obs, actions, rewards, nextObs, dones. */
export const RECORD_FLOATS = AGENTS * (2 * OBS_SIZE + ACTION_SIZE + 2);
