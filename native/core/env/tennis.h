// The built-in Tennis environment: a vectorized float32 re-implementation of the Udacity Tennis build
// (Unity ML-Agents 0.4) with the rules and choices described in docs/tennis-env.md (section numbers
// below refer to it). Plain C++17, no LibTorch.
//
// Conventions (as in the Udacity build, seen from Python):
// - agent index 0 is the right-hand racket (Unity "AgentB", mirror m = -1), index 1 the left one
//   ("AgentA", m = +1); world frame = Unity axes, net at x = 0, y up.
// - observations are [env][agent][24] (3 stacked frames of 8, oldest first), actions [env][agent][2],
//   rewards / dones [env][agent].
// - one step = one decision = 5 physics ticks of 0.02 s with the action repeated.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "batch.h"

namespace tennis {

// Pointers into a TennisBatch's state arrays (defined in env/tick.cc).
struct Lanes;
// Helper threads of step() (block_team.h).
class BlockTeam;

// Floats per observation frame (racket x, y, vx, vy, ball x, y, slots 6-7).
constexpr int kFrameSize = 8;
// Physics ticks per decision (action repeat).
constexpr int kTicksPerStep = 5;
// A capped episode returns done on this decision (5000 ticks: the cap fires in tick 5000, counted from 0).
constexpr int kMaxEpisodeSteps = 1001;

enum class TennisMode {
  kCooperative,  // the Udacity rewards: +0.1 per crossing, -0.01 for a miss, with the erase rule
  kCompetitive,  // section 9: one point per episode, winner +1, loser -1, time-out 0 / 0
};

struct TennisOptions {
  // Re-serve the ball (and forget the last hitter) on every reset(), without the extra physics tick:
  // i.i.d. episode starts (section 8). Off = the build's quirks.
  bool clean_reset = false;
  // Observation slots 6-7 hold the true ball velocity (mirrored) instead of the build's copy of the
  // racket velocity (section 6).
  bool observe_ball_velocity = false;
  // A net crossing no longer makes AgentA (index 1) the last hitter (section 7).
  bool fix_last_hitter = false;
  TennisMode mode = TennisMode::kCooperative;
};

// Snapshot of one env for rendering, scripted control and tests (world frame, Unity axes).
struct TennisState {
  float ball_x = 0, ball_y = 0, ball_vx = 0, ball_vy = 0;
  float racket_x[2] = {0, 0}, racket_y[2] = {0, 0}, racket_vx[2] = {0, 0}, racket_vy[2] = {0, 0};
  // Last hitter as the reward logic sees it (-1 none, else agent index; includes the upstream bug that
  // a net crossing sets it to 1 unless fix_last_hitter).
  int last_hitter = -1;
  // Decisions (env steps) since the episode started.
  int steps = 0;
  // Last racket to touch the ball since the serve, never changed by crossings (competitive rules).
  int last_toucher = -1;
  // Rewards summed since the episode started (the notebook's `scores`).
  float score[2] = {0, 0};
  // Stored actions, clamped to [-1, 1] (applied on every tick until the next decision).
  float actions[2][2] = {{0, 0}, {0, 0}};
  // Ball overlapping the `over` trigger after the last tick.
  bool ball_in_over = false;
  // Ball touching racket i after the last tick.
  bool touching[2] = {false, false};
  // Physics ticks since the last reset() of this env (academy cap at 25000).
  int academy_ticks = 0;
};

// N independent envs stored as struct-of-arrays and stepped together; nothing is allocated per step.
// Env i is seeded with seed + i (mod 2^32), so env i's trajectory does not depend on the batch size.
class TennisBatch {
 public:
  // Throws std::invalid_argument for num_envs < 1. Serves the ball in every env (RNG draws 1-2).
  TennisBatch(int num_envs, uint32_t seed, TennisOptions options = {});
  ~TennisBatch();
  TennisBatch(TennisBatch&&) noexcept;
  TennisBatch& operator=(TennisBatch&&) noexcept;

  int num_envs() const { return n_; }
  const TennisOptions& options() const { return options_; }

  // Unity env.reset() on every env; obs [n][2][24]. The first reset of an env is the start-up reset
  // (rackets placed, ball untouched); later ones first run one physics tick with the stored actions
  // (or, with clean_reset, re-serve the ball instead), then place both rackets again.
  void reset(float* obs);
  // env.reset() only on envs e with mask[e*2+0] != 0 or mask[e*2+1] != 0 (mask [n][2], e.g. the dones
  // of the last step: the notebook's per-episode reset); writes only those envs' rows of obs.
  void reset_where(const float* mask, float* obs);
  // One decision in every env: actions [n][2][2] (clamped to [-1, 1] here; must be finite: the N-API
  // layer rejects NaN / infinity before calling, NaN would pass the clamp), outputs obs [n][2][24],
  // rewards [n][2], dones [n][2] (1.0f / 0.0f) and, if not null, max_reached [n][2] (1.0f where the
  // 1001-step or academy cap ended the episode). Unity semantics: an env that reports done has
  // already reset its rackets, so the obs returned with done is the first frame of the next episode.
  // `threads` > 1 splits the envs over that many threads (the caller and threads - 1 helpers kept
  // for later steps); results do not depend on it, and a helper the OS does not schedule in time
  // just gets no work, so a loaded machine degrades to the one-thread speed.
  // Throws std::logic_error if some env was never reset, std::invalid_argument for threads < 1.
  void step(const float* actions, float* obs, float* rewards, float* dones, int threads = 1,
            float* max_reached = nullptr);

  // Throws std::out_of_range for a bad env index.
  TennisState state(int env) const;
  // Test and tooling hook: overwrites env's physical and bookkeeping state (not its RNG, not its
  // observation stack) and marks it reset. Actions are clamped to [-1, 1].
  void set_state(int env, const TennisState& state);

  // The latest observations of every env, [n][2][24] (what the last reset / step returned per env).
  void observations(float* obs) const;
  // Everything that determines the future of the batch (RNG words, physics, rewards not yet
  // reported, counters, observation stacks), as bytes for checkpoints.
  std::vector<uint8_t> save_state() const;
  // Restores save_state() bytes of a batch with the same num_envs and options; the continuation is
  // then bit-identical. Throws std::invalid_argument (and changes nothing) for other bytes.
  void load_state(const uint8_t* data, size_t size);

 private:
  template <typename Self, typename F>
  friend void for_each_array(Self& self, F&& f);
  void check_env(int env) const;
  Lanes lanes();
  uint32_t next_u32(int e);
  float range_float(int e, float lo, float hi);
  void serve(int e);
  void reset_agent(int e, int agent);
  void reset_env(int e, float* obs);
  void observe(int e, float* obs);
  void tick_one(int e);
  void step_block(int begin, int end, const float* actions, float* obs, float* rewards, float* dones,
                  float* max_reached);
  void tick_block(int begin, int end);
  void solve_contacts(int e);
  void resolve_events(int e);

  int n_;
  // Length of the per-env arrays: n_ rounded up to whole SIMD groups.
  size_t stride_;
  TennisOptions options_;
  // Ball state [n].
  std::vector<float> bx_, by_, bvx_, bvy_;
  // Racket state [2][n] (agent-major).
  std::vector<float> rx_, ry_, rvx_, rvy_;
  // Stored clamped actions [2 agents][2 components][n]: index (agent*2 + component)*n + e.
  std::vector<float> act_;
  // Reward accumulators [2][n] since the last decision, episode scores [2][n].
  std::vector<float> rew_, score_;
  // Per-env flags and counters [n] (int32 so the vectorized loops keep one lane width).
  std::vector<int32_t> last_hitter_, last_toucher_, inside_, touching_, done_, max_reached_;
  std::vector<int32_t> steps_, academy_ticks_, started_;
  // Per-tick scratch [n]: ball near a racket before the tick's contacts (run the solver), bitmask of
  // rackets that received a contact impulse, env needs the scalar event pass.
  std::vector<int32_t> near_, impulse_, slow_;
  // xorshift128 words [4][n].
  std::vector<uint32_t> rng_;
  // Observation stacks [n][2][24], oldest frame first.
  std::vector<float> stack_;
  int started_count_ = 0;
  std::unique_ptr<BlockTeam> team_;
};

// Hand-written controller (env/scripted.cc, a port of the numpy prototype's, section 11): each racket
// waits on its floor, meets the falling ball with its face centre and moves so that the ball is lobbed
// to about x = 6 on the other side. Writes actions [n][2][2] for every env from its current state.
void scripted_actions(const TennisBatch& envs, float* actions);

}  // namespace tennis
