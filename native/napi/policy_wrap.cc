// N-API class TorchScriptPolicy and function writeTorchScriptPolicy: argument checks, then one native
// call (see policy_wrap.h).
#include "policy_wrap.h"

#include <cmath>
#include <string>

#include "batch.h"
#include "convert.h"
#include "errors.h"
#include "registry.h"

namespace tennis_napi {
namespace {

// The extra file of a TorchScript policy that holds tennis-train's metadata (JSON).
constexpr const char* kMetadataFile = "tennis_train.json";
// Largest layer width accepted.
constexpr int64_t kMaxWidth = int64_t(1) << 20;

// obj[key] as an integer in [1, kMaxWidth], named owner.key in errors.
int64_t width_field(Napi::Env env, Napi::Object obj, const char* key, const std::string& owner) {
  const Napi::Value value = obj.Get(key);
  const std::string name = owner + "." + key;
  THROW_TYPEERROR_IF(!value.IsNumber(), env, name, " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  THROW_TYPEERROR_IF(std::floor(number) != number, env, name, " must be an integer, got ", number);
  THROW_RANGEERROR_IF(number < 1 || number > double(kMaxWidth), env, name, " must be in [1, ", kMaxWidth, "], got ",
                      number);
  return static_cast<int64_t>(number);
}

// A copy of obj[key], a finite Float32Array of exactly `length` floats, named owner.key in errors.
std::vector<float> float32_field(Napi::Env env, Napi::Object obj, const char* key, const std::string& owner,
                                 size_t length) {
  const Napi::Value value = obj.Get(key);
  const std::string name = owner + "." + key;
  THROW_TYPEERROR_IF(!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array, env,
                     name, " must be a Float32Array");
  const auto array = value.As<Napi::Float32Array>();
  THROW_TYPEERROR_IF(array.ElementLength() != length, env, name, " must be a Float32Array of length ", length, ", got ",
                     array.ElementLength());
  require_finite(env, array.Data(), length, name.c_str());
  return std::vector<float>(array.Data(), array.Data() + length);
}

bool is_absent(const Napi::Value& value) { return value.IsUndefined() || value.IsNull(); }

tennis::PolicySpec spec_arg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 2 || !info[1].IsArray(), env, "layers must be an Array");
  const auto layers = info[1].As<Napi::Array>();
  THROW_TYPEERROR_IF(layers.Length() < 1, env, "layers must not be empty");
  tennis::PolicySpec spec;
  for (uint32_t i = 0; i < layers.Length(); ++i) {
    const std::string owner = "layers[" + std::to_string(i) + "]";
    const Napi::Value item = layers.Get(i);
    THROW_TYPEERROR_IF(!item.IsObject(), env, owner, " must be an object");
    const auto obj = item.As<Napi::Object>();
    tennis::PolicyLayer layer;
    layer.inputs = width_field(env, obj, "inputs", owner);
    layer.outputs = width_field(env, obj, "outputs", owner);
    layer.weight = float32_field(env, obj, "weight", owner, size_t(layer.inputs * layer.outputs));
    layer.bias = float32_field(env, obj, "bias", owner, size_t(layer.outputs));
    const Napi::Value norm = obj.Get("norm");
    if (!is_absent(norm)) {
      THROW_TYPEERROR_IF(!norm.IsObject(), env, owner, ".norm must be an object or null");
      layer.norm_weight = float32_field(env, norm.As<Napi::Object>(), "weight", owner + ".norm", size_t(layer.outputs));
      layer.norm_bias = float32_field(env, norm.As<Napi::Object>(), "bias", owner + ".norm", size_t(layer.outputs));
    }
    spec.layers.push_back(std::move(layer));
  }
  const Napi::Value norm = info.Length() > 2 ? info[2] : env.Undefined();
  if (!is_absent(norm)) {
    THROW_TYPEERROR_IF(!norm.IsObject(), env, "obsNorm must be an object or null");
    const auto obj = norm.As<Napi::Object>();
    const size_t inputs = size_t(spec.layers[0].inputs);
    tennis::PolicyObsNorm obs_norm;
    obs_norm.mean = float32_field(env, obj, "mean", "obsNorm", inputs);
    obs_norm.std = float32_field(env, obj, "std", "obsNorm", inputs);
    const Napi::Value clip = obj.Get("clip");
    THROW_TYPEERROR_IF(!clip.IsNumber(), env, "obsNorm.clip must be a number");
    obs_norm.clip = clip.As<Napi::Number>().DoubleValue();
    THROW_RANGEERROR_IF(!(obs_norm.clip > 0) || !std::isfinite(obs_norm.clip), env,
                        "obsNorm.clip must be a finite number > 0, got ", obs_norm.clip);
    spec.obs_norm = std::move(obs_norm);
  }
  return spec;
}

// writeTorchScriptPolicy(path, layers, obsNorm, metadata): [sync] see policy_wrap.h.
Napi::Value WriteTorchScriptPolicy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = string_arg(info, 0, "path");
  THROW_TYPEERROR_IF(path.empty(), env, "path must not be empty");
  tennis::PolicySpec spec = spec_arg(info);
  const std::string metadata = string_arg(info, 3, "metadata");
  guard(env, [&] { tennis::save_torchscript_policy(spec, path, {{kMetadataFile, metadata}}); });
  return env.Undefined();
}

}  // namespace

void PolicyWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = DefineClass(env, "TorchScriptPolicy",
                                   {
                                       InstanceMethod<&PolicyWrap::Act>("act"),
                                       InstanceMethod<&PolicyWrap::Dispose>("dispose"),
                                       InstanceAccessor<&PolicyWrap::GetPath>("path"),
                                       InstanceAccessor<&PolicyWrap::GetMetadata>("metadata"),
                                       InstanceAccessor<&PolicyWrap::GetDisposed>("disposed"),
                                   });
  exports.Set("TorchScriptPolicy", cls);
  exports.Set("writeTorchScriptPolicy", Napi::Function::New(env, WriteTorchScriptPolicy, "writeTorchScriptPolicy"));
}

PolicyWrap::PolicyWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PolicyWrap>(info) {
  Napi::Env env = info.Env();
  const std::string path = string_arg(info, 0, "path");
  THROW_TYPEERROR_IF(path.empty(), env, "path must not be empty");
  core_ = guard(env, [&] {
    return std::make_unique<tennis::TorchScriptPolicy>(path, tennis::kObsSize, tennis::kActionSize,
                                                       std::vector<std::string>{kMetadataFile});
  });
}

tennis::TorchScriptPolicy& PolicyWrap::core(Napi::Env env) {
  if (!core_) throw coded_error(env, kErrDisposed, "TorchScriptPolicy was disposed");
  return *core_;
}

Napi::Value PolicyWrap::Act(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tennis::TorchScriptPolicy& policy = core(env);
  THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsTypedArray() ||
                         info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array,
                     env, "obs must be a Float32Array");
  const size_t obs_floats = info[0].As<Napi::Float32Array>().ElementLength();
  THROW_TYPEERROR_IF(obs_floats == 0 || obs_floats % size_t(tennis::kObsSize) != 0, env,
                     "obs must be a Float32Array of rows*", tennis::kObsSize, " floats (rows >= 1), got ", obs_floats);
  const size_t rows = obs_floats / size_t(tennis::kObsSize);
  const float* obs = float32_arg(info, 0, "obs", obs_floats);
  require_finite(env, obs, obs_floats, "obs");
  float* actions = float32_arg(info, 1, "actions", rows * size_t(tennis::kActionSize));
  guard(env, [&] { policy.act(obs, int64_t(rows), actions); });
  return env.Undefined();
}

Napi::Value PolicyWrap::Dispose(const Napi::CallbackInfo& info) {
  core_.reset();
  return info.Env().Undefined();
}

Napi::Value PolicyWrap::GetPath(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), core(info.Env()).path());
}

Napi::Value PolicyWrap::GetMetadata(const Napi::CallbackInfo& info) {
  const auto metadata = core(info.Env()).extra_file(kMetadataFile);
  return metadata ? Napi::String::New(info.Env(), *metadata) : info.Env().Null();
}

Napi::Value PolicyWrap::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !core_); }

TENNIS_REGISTER_EXPORT(PolicyWrap, &PolicyWrap::Init);

}  // namespace tennis_napi
