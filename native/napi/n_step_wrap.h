// N-API class NStepAccumulator over tennis::NStepAccumulator (native/core/n_step.h): n-step returns
// assembled natively between the env step and the replay buffer, so JS never loops per transition.
//
// JS methods (each rechecks types and lengths, naming the argument in a TypeError; ranges are
// RangeErrors; core rejections become TennisTrainError ERR_INVALID_ARG):
//   new NStepAccumulator(numEnvs, n, gamma)            [sync] numEnvs integer in [1, 2^20], n integer in
//       [1, 1000], gamma number in [0, 1].
//   add(buffer, obs, actions, rewards, nextObs, dones, lost?)   [sync] buffer a ReplayBuffer; one
//       vectorized step: obs (numEnvs*48), actions (numEnvs*4), rewards (numEnvs*2), nextObs
//       (numEnvs*48), dones (numEnvs*2), lost (numEnvs*2, optional) Float32Arrays, all finite. Appends
//       the completed n-step records to buffer in one add() and returns how many.
//   saveState(out)                                     [sync] out Float32Array(stateFloats): the pending
//       steps, for checkpoints.
//   loadState(state)                                   [sync] state Float32Array(stateFloats) from
//       saveState() of an accumulator with the same numEnvs and n.
//   getters: numEnvs, n, gamma, stateFloats.
#pragma once
#include <napi.h>

#include <memory>

#include "n_step.h"

namespace tennis_napi {

class NStepWrap : public Napi::ObjectWrap<NStepWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);

  explicit NStepWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Add(const Napi::CallbackInfo& info);
  Napi::Value SaveState(const Napi::CallbackInfo& info);
  Napi::Value LoadState(const Napi::CallbackInfo& info);
  Napi::Value GetNumEnvs(const Napi::CallbackInfo& info);
  Napi::Value GetN(const Napi::CallbackInfo& info);
  Napi::Value GetGamma(const Napi::CallbackInfo& info);
  Napi::Value GetStateFloats(const Napi::CallbackInfo& info);

  std::unique_ptr<tennis::NStepAccumulator> core_;
};

}  // namespace tennis_napi
