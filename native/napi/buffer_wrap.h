// N-API class ReplayBuffer over tennis::ReplayBuffer (native/core/replay_buffer.h). JS-facing add and
// sample work on Float32Array views for tools and tests; the learner takes the core buffer itself
// through BufferWrap::Share (or BufferWrap::CoreOf) and samples without going through JS.
//
// JS methods (all validate types and lengths again, naming the argument in a TypeError; core
// rejections become TennisTrainError ERR_INVALID_ARG, other core failures ERR_NATIVE):
//   new ReplayBuffer(options)                       [sync] options: {capacity, shmName, prioritized,
//       alpha, beta0, betaSteps, priorityEps, seed} creates (owner); {attach: shmName} attaches a producer.
//   add(obs, actions, rewards, nextObs, dones)      [sync] n = obs.length / 48 whole transitions; every
//       other length must match n (actions 4n, rewards 2n, nextObs 48n, dones 2n). Returns undefined.
//   sample(batch, options, obs, actions, rewards, nextObs, dones, weights?, indices?)   [sync]
//       fills caller arrays of lengths 48B, 4B, 2B, 48B, 2B, B (Float32Array) and B (Int32Array);
//       options: {earlyTrainingSteps, negSamplingRatio}. Returns undefined.
//   updatePriorities(indices: Int32Array, tdErrors: Float32Array)   [sync] equal lengths >= 1.
//   save(path), load(path)                         [async] Promise<void>; ERR_BUSY for calls meanwhile.
//   readSlot(slot, record: Float32Array(104))       [sync] true if the slot held a committed record.
//   dispose()                                      [sync] releases the buffer (the owner unlinks its
//       segment once no learner holds it); later calls throw ERR_DISPOSED. Idempotent.
//   getters: size, capacity, totalAdded, shmName, isOwner, prioritized, beta, reclaimedStalePid, disposed.
//   statics: ReplayBuffer.uniqueShmName(prefix), ReplayBuffer.sweepStaleSegments(prefix).
// An environment cleanup hook releases the buffer when Node exits, so an owner's shm segment is
// unlinked even when the object was never garbage-collected.
#pragma once
#include <napi.h>

#include <memory>
#include <vector>

#include "replay_buffer.h"

namespace tennis_napi {

class BufferWrap : public Napi::ObjectWrap<BufferWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);

  // The core buffer of a JS ReplayBuffer, for other wraps (e.g. trainer_wrap.cc). Throws a TypeError
  // when value is not a ReplayBuffer and TennisTrainError ERR_DISPOSED after dispose(). The pointer is
  // valid while the JS object lives and is not disposed; to keep it longer (async work), use Share.
  // (Not named Unwrap: node-addon-api calls T::Unwrap(Napi::Object) internally.)
  static tennis::ReplayBuffer* CoreOf(Napi::Value value);
  // Same as CoreOf, as an owning reference: the core stays alive (and its segment mapped) until the
  // last holder lets go, even if JS disposes the ReplayBuffer meanwhile.
  static std::shared_ptr<tennis::ReplayBuffer> Share(Napi::Value value);

  explicit BufferWrap(const Napi::CallbackInfo& info);
  ~BufferWrap() override;

 private:
  static void CleanupHook(void* arg);
  tennis::ReplayBuffer& core(Napi::Env env);  // throws ERR_DISPOSED / ERR_BUSY
  void release();

  Napi::Value Add(const Napi::CallbackInfo& info);
  Napi::Value Sample(const Napi::CallbackInfo& info);
  Napi::Value UpdatePriorities(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value ReadSlot(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value GetSize(const Napi::CallbackInfo& info);
  Napi::Value GetCapacity(const Napi::CallbackInfo& info);
  Napi::Value GetTotalAdded(const Napi::CallbackInfo& info);
  Napi::Value GetShmName(const Napi::CallbackInfo& info);
  Napi::Value GetIsOwner(const Napi::CallbackInfo& info);
  Napi::Value GetPrioritized(const Napi::CallbackInfo& info);
  Napi::Value GetBeta(const Napi::CallbackInfo& info);
  Napi::Value GetReclaimedStalePid(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  static Napi::Value UniqueShmName(const Napi::CallbackInfo& info);
  static Napi::Value SweepStaleSegments(const Napi::CallbackInfo& info);

  std::shared_ptr<tennis::ReplayBuffer> core_;
  napi_env env_ = nullptr;
  bool hook_registered_ = false;
  bool busy_ = false;                   // an async save/load is in flight
  std::vector<int64_t> index_scratch_;  // int64 slots between the core and JS Int32Arrays
};

}  // namespace tennis_napi
