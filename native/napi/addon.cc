// The addon's entry point: version, runtime info and thread control here; every class and function
// registered by a *_wrap.cc file (see registry.h) is added to the exports.
#include <napi.h>

#include "convert.h"
#include "errors.h"
#include "info.h"
#include "registry.h"

namespace tennis_napi {
namespace {

// runtimeInfo(): [sync] versions, CUDA, threads and BLAS as the core sees them.
Napi::Value RuntimeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    const auto facts = tennis::runtime_info();
    Napi::Object out = Napi::Object::New(env);
    out.Set("version", facts.version);
    out.Set("torchVersion", facts.torch_version);
    out.Set("cudaBuilt", facts.cuda_built);
    out.Set("cudaAvailable", facts.cuda_available);
    out.Set("cudaDevice", facts.cuda_device);
    out.Set("threads", facts.num_threads);
    out.Set("blas", facts.blas);
    return out;
  });
}

// setNumThreads(n): [sync] LibTorch intra-op threads; throws RangeError for n outside [1, 256].
Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t n = int_arg(info, 0, "threads", 1, 256);
  guard(env, [&] { tennis::set_num_threads(static_cast<int>(n)); });
  return env.Undefined();
}

}  // namespace

Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::String::New(env, TENNIS_VERSION));
  exports.Set("runtimeInfo", Napi::Function::New(env, RuntimeInfo, "runtimeInfo"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  for (const auto& [name, init] : export_registry()) init(env, exports);
  return exports;
}

}  // namespace tennis_napi

using tennis_napi::InitAddon;
NODE_API_MODULE(tennis_train, InitAddon)
