// N-API class `Maddpg` over tennis::Maddpg (native/core/maddpg.h). Typed and validated for JS users by
// binding/maddpg.ts; every method re-checks its arguments cheaply (TypeError naming the argument).
// While an [async] call runs, every other call throws ERR_BUSY; after dispose(), ERR_DISPOSED.
#pragma once
#include <napi.h>

#include <memory>

#include "maddpg.h"

namespace tennis_napi {

class MaddpgWrap : public Napi::ObjectWrap<MaddpgWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);

  // new Maddpg(config): [sync] config object with camelCase keys of tennis::MaddpgConfig (actorHidden,
  // lrActor, ..., noise: {type, ouMu, ...}); unknown keys and wrong types are TypeErrors, bad values
  // ERR_INVALID_ARG naming the field.
  explicit MaddpgWrap(const Napi::CallbackInfo& info);

 private:
  // act(obs: Float32Array[n*48], actions: Float32Array[n*4], explore: boolean): [sync] writes the
  // actions of n envs into `actions`; returns it.
  Napi::Value Act(const Napi::CallbackInfo& info);
  // updateBatch({obs, actions, rewards, nextObs, dones, weights?, targetNoise?}): [async] one update;
  // resolves to the stats object. The arrays are pinned and must not change until it settles.
  Napi::Value UpdateBatch(const Napi::CallbackInfo& info);
  // update(buffer: ReplayBuffer, k: number, sampleOptions?): [async] k updates sampling straight from
  // the native buffer (priorities fed back when it is prioritized); resolves to the stats object.
  Napi::Value Update(const Napi::CallbackInfo& info);
  // getParameters(out?: Float32Array): [sync] every trainable parameter, flat, in parameterLayout() order.
  Napi::Value GetParameters(const Napi::CallbackInfo& info);
  // setParameters(params: Float32Array[parameterCount]): [sync]
  Napi::Value SetParameters(const Napi::CallbackInfo& info);
  // parameterLayout(): [sync] [{name, shape, offset, numel}]
  Napi::Value ParameterLayout(const Napi::CallbackInfo& info);
  // save(path) / load(path): [async] checkpoint of networks, targets, optimizers, noise and RNG.
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  // exportActor(path, agent): [sync] TorchScript actor for Python's torch.jit.load.
  Napi::Value ExportActor(const Napi::CallbackInfo& info);
  // resetNoise(envMask?: Uint8Array[nEnvs]): [sync] resets the noise of masked envs (all when omitted).
  Napi::Value ResetNoise(const Napi::CallbackInfo& info);
  // resetActors(seed: uint32): [sync] fresh actor weights, target actors and actor Adam state.
  Napi::Value ResetActors(const Napi::CallbackInfo& info);
  // stats(): [sync] {updates, parameterCount, noiseScale, noiseSteps, noiseEpisodes, nEnvs, busy, architecture}
  Napi::Value Stats(const Napi::CallbackInfo& info);
  // dispose(): [sync] frees the networks; later calls throw ERR_DISPOSED.
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  // The learner, checked usable (not disposed, not busy).
  tennis::Maddpg& ready(Napi::Env env);
  // Runs `body` off the main thread with the busy flag held; resolves with `result`.
  Napi::Value run_async(const Napi::CallbackInfo& info, std::function<void()> body,
                        std::function<Napi::Value(Napi::Env)> result, std::vector<Napi::Value> keep_alive);

  std::unique_ptr<tennis::Maddpg> maddpg_;
  bool busy_ = false;
};

}  // namespace tennis_napi
