// N-API class TorchScriptPolicy over tennis::TorchScriptPolicy and the function writeTorchScriptPolicy
// (native/core/export/torchscript_policy.h): an exported greedy policy written from plain layer data and
// played back on batches of one racket's observations.
//
// JS exports (each rechecks types and lengths, naming the argument in a TypeError; file problems and
// core rejections become TennisTrainError, ERR_NATIVE naming the file or ERR_INVALID_ARG naming the field):
//   writeTorchScriptPolicy(path, layers, obsNorm, metadata)   [sync] path non-empty string; layers an
//       Array of {inputs, outputs: integers in [1, 2^20], weight: Float32Array(outputs*inputs), bias:
//       Float32Array(outputs), norm: {weight, bias: Float32Array(outputs)} | null}, the last one the
//       output layer; obsNorm {mean, std: Float32Array(layers[0].inputs), clip: number} | null; metadata
//       a string stored as the extra file "tennis_train.json". Writes the module to path.
//   new TorchScriptPolicy(path)                      [sync] path non-empty string; loads the file and
//       checks that forward maps obs [N, 24] float32 to actions [N, 2] float32.
//   act(obs, actions)                                [sync] obs Float32Array of rows*24 floats (rows >= 1,
//       finite, read in place), actions Float32Array(rows*2), written.
//   dispose()                                        [sync] frees the module; idempotent.
//   getters: path, metadata (the "tennis_train.json" extra file, or null), disposed.
#pragma once
#include <napi.h>

#include <memory>

#include "export/torchscript_policy.h"

namespace tennis_napi {

class PolicyWrap : public Napi::ObjectWrap<PolicyWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);

  explicit PolicyWrap(const Napi::CallbackInfo& info);

 private:
  tennis::TorchScriptPolicy& core(Napi::Env env);  // throws ERR_DISPOSED

  Napi::Value Act(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value GetPath(const Napi::CallbackInfo& info);
  Napi::Value GetMetadata(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);

  std::unique_ptr<tennis::TorchScriptPolicy> core_;
};

}  // namespace tennis_napi
