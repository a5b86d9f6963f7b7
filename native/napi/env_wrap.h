// N-API class TennisEnv over tennis::TennisBatch (native/core/env/tennis.h): N envs stepped in one
// native call, outputs written into caller-provided Float32Arrays.
//
// JS methods (each rechecks types and lengths, naming the argument in a TypeError; wrong ranges are
// RangeErrors; a disposed env throws TennisTrainError ERR_DISPOSED, one with a stepAsync in flight
// ERR_BUSY; nothing is changed when a check fails):
//   new TennisEnv(numEnvs, seed, options?)            [sync] numEnvs integer in [1, 2^20], seed integer in
//       [0, 2^32-1] (env i is seeded seed + i), options {cleanReset, observeBallVelocity, fixLastHitter:
//       boolean, mode: "cooperative" | "competitive"}, all optional.
//   reset(obs)                                        [sync] obs Float32Array(n*48). Unity env.reset().
//   resetWhere(mask, obs)                             [sync] mask Float32Array(n*2): resets env e where
//       mask[2e] or mask[2e+1] != 0 and writes only those rows of obs (n*48).
//   step(actions, obs, rewards, dones, threads?, maxReached?)   [sync] actions Float32Array(n*4), finite
//       (clamped to [-1, 1] natively); outputs obs (n*48), rewards (n*2), dones (n*2, 1/0), optional
//       maxReached (n*2, 1 where the step cap ended the episode); threads integer in [1, 256], default 1.
//   stepAsync(same arguments)                         [async] Promise<void>; the actions are copied before
//       the call returns, the output arrays are written off the main thread and must not be read,
//       changed or transferred until the promise settles.
//   state(env)                                        [sync] plain object (see StateObject in env_wrap.cc).
//   setState(env, state)                              [sync] test and tooling hook, same fields as state().
//   scriptedActions(actions)                          [sync] writes the hand-written controller's actions
//       for every env into actions (n*4).
//   competitiveActions(actions)                       [sync] writes the competitive controller's actions
//       (env/competitive.h) for every env into actions (n*4).
//   saveState()                                       [sync] Buffer with the whole batch state (checkpoints).
//   loadState(bytes, obs)                             [sync] bytes Uint8Array / Buffer from saveState() of a
//       batch with the same numEnvs and options (else TennisTrainError ERR_INVALID_ARG, nothing
//       changed); writes the restored latest observations to obs (n*48).
//   dispose()                                         [sync] frees the envs; idempotent.
//   getters: numEnvs, disposed.
#pragma once
#include <napi.h>

#include <memory>

#include "env/tennis.h"

namespace tennis_napi {

class EnvWrap : public Napi::ObjectWrap<EnvWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);

  // The core batch of a JS TennisEnv, shared (it stays alive while any holder keeps it, even if JS
  // disposes the env). Throws a TypeError for other values, ERR_DISPOSED after dispose().
  static std::shared_ptr<tennis::TennisBatch> Share(Napi::Value value);

  explicit EnvWrap(const Napi::CallbackInfo& info);

 private:
  tennis::TennisBatch& core(Napi::Env env);  // throws ERR_DISPOSED / ERR_BUSY

  Napi::Value Reset(const Napi::CallbackInfo& info);
  Napi::Value ResetWhere(const Napi::CallbackInfo& info);
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value StepAsync(const Napi::CallbackInfo& info);
  Napi::Value State(const Napi::CallbackInfo& info);
  Napi::Value SetState(const Napi::CallbackInfo& info);
  Napi::Value ScriptedActions(const Napi::CallbackInfo& info);
  Napi::Value CompetitiveActions(const Napi::CallbackInfo& info);
  Napi::Value SaveState(const Napi::CallbackInfo& info);
  Napi::Value LoadState(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value GetNumEnvs(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);

  std::shared_ptr<tennis::TennisBatch> core_;
  int num_envs_ = 0;
  bool busy_ = false;  // a stepAsync is in flight
};

}  // namespace tennis_napi
