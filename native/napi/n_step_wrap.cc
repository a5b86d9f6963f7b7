// N-API class NStepAccumulator: argument checks, then one native call per vectorized step (see
// n_step_wrap.h).
#include "n_step_wrap.h"

#include "buffer_wrap.h"
#include "convert.h"
#include "errors.h"
#include "registry.h"

namespace tennis_napi {
namespace {

// Largest number of envs and largest n accepted.
constexpr int64_t kMaxEnvs = int64_t(1) << 20;
constexpr int64_t kMaxN = 1000;
// Floats per env of obs / next_obs, actions, rewards / dones / lost.
constexpr size_t kObsFloats = tennis::kAgents * tennis::kObsSize;
constexpr size_t kActionFloats = tennis::kAgents * tennis::kActionSize;
constexpr size_t kPairFloats = tennis::kAgents;

}  // namespace

void NStepWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = DefineClass(env, "NStepAccumulator",
                                   {
                                       InstanceMethod<&NStepWrap::Add>("add"),
                                       InstanceMethod<&NStepWrap::SaveState>("saveState"),
                                       InstanceMethod<&NStepWrap::LoadState>("loadState"),
                                       InstanceAccessor<&NStepWrap::GetNumEnvs>("numEnvs"),
                                       InstanceAccessor<&NStepWrap::GetN>("n"),
                                       InstanceAccessor<&NStepWrap::GetGamma>("gamma"),
                                       InstanceAccessor<&NStepWrap::GetStateFloats>("stateFloats"),
                                   });
  exports.Set("NStepAccumulator", cls);
}

NStepWrap::NStepWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NStepWrap>(info) {
  Napi::Env env = info.Env();
  const int64_t num_envs = int_arg(info, 0, "numEnvs", 1, kMaxEnvs);
  const int64_t n = int_arg(info, 1, "n", 1, kMaxN);
  const double gamma = number_arg(info, 2, "gamma");
  THROW_RANGEERROR_IF(!(gamma >= 0.0 && gamma <= 1.0), env, "gamma must be in [0, 1], got ", gamma);
  core_ = guard(env, [&] { return std::make_unique<tennis::NStepAccumulator>(num_envs, static_cast<int>(n), gamma); });
}

Napi::Value NStepWrap::Add(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tennis::ReplayBuffer* buffer = BufferWrap::CoreOf(info[0]);
  const size_t e = static_cast<size_t>(core_->num_envs());
  const float* obs = float32_arg(info, 1, "obs", e * kObsFloats);
  const float* actions = float32_arg(info, 2, "actions", e * kActionFloats);
  const float* rewards = float32_arg(info, 3, "rewards", e * kPairFloats);
  const float* next_obs = float32_arg(info, 4, "nextObs", e * kObsFloats);
  const float* dones = float32_arg(info, 5, "dones", e * kPairFloats);
  const bool has_lost = info.Length() > 6 && !info[6].IsUndefined() && !info[6].IsNull();
  const float* lost = has_lost ? float32_arg(info, 6, "lost", e * kPairFloats) : nullptr;
  // Checked before the rings change, so a rejected step leaves no trace.
  require_finite(env, obs, e * kObsFloats, "obs");
  require_finite(env, actions, e * kActionFloats, "actions");
  require_finite(env, rewards, e * kPairFloats, "rewards");
  require_finite(env, next_obs, e * kObsFloats, "nextObs");
  require_finite(env, dones, e * kPairFloats, "dones");
  const int64_t added = guard(env, [&] { return core_->add(*buffer, obs, actions, rewards, next_obs, dones, lost); });
  return Napi::Number::New(env, double(added));
}

Napi::Value NStepWrap::SaveState(const Napi::CallbackInfo& info) {
  float* out = float32_arg(info, 0, "out", static_cast<size_t>(core_->state_floats()));
  core_->save_state(out);
  return info.Env().Undefined();
}

Napi::Value NStepWrap::LoadState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const float* state = float32_arg(info, 0, "state", static_cast<size_t>(core_->state_floats()));
  guard(env, [&] { core_->load_state(state); });
  return env.Undefined();
}

Napi::Value NStepWrap::GetNumEnvs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(core_->num_envs()));
}

Napi::Value NStepWrap::GetN(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), core_->n()); }

Napi::Value NStepWrap::GetGamma(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), core_->gamma());
}

Napi::Value NStepWrap::GetStateFloats(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(core_->state_floats()));
}

namespace {

void InitNStep(Napi::Env env, Napi::Object exports) { NStepWrap::Init(env, exports); }

}  // namespace

TENNIS_REGISTER_EXPORT(NStepWrap, &InitNStep);

}  // namespace tennis_napi
