// N-API class TennisEnv: argument checks, synchronous and Promise-based stepping, state snapshots
// (see env_wrap.h for the JS contract).
#include "env_wrap.h"

#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "env/competitive.h"

#include "async.h"
#include "convert.h"
#include "errors.h"
#include "registry.h"

namespace tennis_napi {
namespace {

// Tags TennisEnv instances so Share can tell them from any other object.
constexpr napi_type_tag kEnvTypeTag = {0x3c5a7e9b1d2f4a6cULL, 0x8e0b2d4f6a1c3e5bULL};
// Floats per env of obs, actions, and per-agent pairs (rewards, dones, masks).
constexpr size_t kObsFloats = tennis::kAgents * tennis::kObsSize;
constexpr size_t kActionFloats = tennis::kAgents * tennis::kActionSize;
constexpr size_t kPairFloats = tennis::kAgents;
// Largest batch accepted from JS (4096 is the usual; this only guards against absurd allocations).
constexpr int64_t kMaxEnvs = int64_t(1) << 20;
// Largest OpenMP thread count accepted.
constexpr int64_t kMaxThreads = 256;

bool present(const Napi::CallbackInfo& info, size_t index) {
  return index < info.Length() && !info[index].IsUndefined() && !info[index].IsNull();
}

void read_bool(const Napi::Object& obj, const char* key, const char* name, bool& out) {
  Napi::Env env = obj.Env();
  const Napi::Value value = obj.Get(key);
  if (value.IsUndefined()) return;
  THROW_TYPEERROR_IF(!value.IsBoolean(), env, name, " must be a boolean");
  out = value.As<Napi::Boolean>();
}

void read_float(const Napi::Object& obj, const char* key, float& out) {
  Napi::Env env = obj.Env();
  const Napi::Value value = obj.Get(key);
  if (value.IsUndefined()) return;
  THROW_TYPEERROR_IF(!value.IsNumber(), env, "state.", key, " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  THROW_TYPEERROR_IF(!std::isfinite(number), env, "state.", key, " must be finite, got ", number);
  out = static_cast<float>(number);
}

void read_int(const Napi::Object& obj, const char* key, int lo, int hi, int& out) {
  Napi::Env env = obj.Env();
  const Napi::Value value = obj.Get(key);
  if (value.IsUndefined()) return;
  THROW_TYPEERROR_IF(!value.IsNumber(), env, "state.", key, " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  THROW_TYPEERROR_IF(std::floor(number) != number, env, "state.", key, " must be an integer, got ", number);
  THROW_RANGEERROR_IF(number < lo || number > hi, env, "state.", key, " must be in [", lo, ", ", hi, "], got ", number);
  out = static_cast<int>(number);
}

// obj[key] as an array of two numbers (or two booleans) into out[0..1].
template <typename T>
void read_pair(const Napi::Object& obj, const char* key, T* out) {
  Napi::Env env = obj.Env();
  const Napi::Value value = obj.Get(key);
  if (value.IsUndefined()) return;
  THROW_TYPEERROR_IF(!value.IsArray() || value.As<Napi::Array>().Length() != 2, env, "state.", key,
                     " must be an array of 2 elements");
  const Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < 2; ++i) {
    const Napi::Value item = array.Get(i);
    if constexpr (std::is_same_v<T, bool>) {
      THROW_TYPEERROR_IF(!item.IsBoolean(), env, "state.", key, "[", i, "] must be a boolean");
      out[i] = item.As<Napi::Boolean>();
    } else {
      THROW_TYPEERROR_IF(!item.IsNumber() || !std::isfinite(item.As<Napi::Number>().DoubleValue()), env, "state.", key,
                         "[", i, "] must be a finite number");
      out[i] = static_cast<T>(item.As<Napi::Number>().DoubleValue());
    }
  }
}

template <typename T>
Napi::Array pair(Napi::Env env, const T* values) {
  Napi::Array array = Napi::Array::New(env, 2);
  for (uint32_t i = 0; i < 2; ++i) array.Set(i, values[i]);
  return array;
}

// The JS view of a TennisState: world frame, agent index 0 = right racket.
Napi::Object StateObject(Napi::Env env, const tennis::TennisState& s) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("ballX", s.ball_x);
  out.Set("ballY", s.ball_y);
  out.Set("ballVx", s.ball_vx);
  out.Set("ballVy", s.ball_vy);
  out.Set("racketX", pair(env, s.racket_x));
  out.Set("racketY", pair(env, s.racket_y));
  out.Set("racketVx", pair(env, s.racket_vx));
  out.Set("racketVy", pair(env, s.racket_vy));
  out.Set("lastHitter", s.last_hitter);
  out.Set("lastToucher", s.last_toucher);
  out.Set("steps", s.steps);
  out.Set("score", pair(env, s.score));
  Napi::Array actions = Napi::Array::New(env, 2);
  for (uint32_t i = 0; i < 2; ++i) actions.Set(i, pair(env, s.actions[i]));
  out.Set("actions", actions);
  out.Set("ballInOver", s.ball_in_over);
  out.Set("touching", pair(env, s.touching));
  out.Set("academyTicks", s.academy_ticks);
  return out;
}

// Overrides the fields present in obj (same names as StateObject).
void ReadState(const Napi::Object& obj, tennis::TennisState& s) {
  Napi::Env env = obj.Env();
  read_float(obj, "ballX", s.ball_x);
  read_float(obj, "ballY", s.ball_y);
  read_float(obj, "ballVx", s.ball_vx);
  read_float(obj, "ballVy", s.ball_vy);
  read_pair(obj, "racketX", s.racket_x);
  read_pair(obj, "racketY", s.racket_y);
  read_pair(obj, "racketVx", s.racket_vx);
  read_pair(obj, "racketVy", s.racket_vy);
  read_int(obj, "lastHitter", -1, 1, s.last_hitter);
  read_int(obj, "lastToucher", -1, 1, s.last_toucher);
  read_int(obj, "steps", 0, 1 << 30, s.steps);
  read_int(obj, "academyTicks", 0, 1 << 30, s.academy_ticks);
  read_pair(obj, "score", s.score);
  read_pair(obj, "touching", s.touching);
  const Napi::Value in_over = obj.Get("ballInOver");
  if (!in_over.IsUndefined()) {
    THROW_TYPEERROR_IF(!in_over.IsBoolean(), env, "state.ballInOver must be a boolean");
    s.ball_in_over = in_over.As<Napi::Boolean>();
  }
  const Napi::Value actions = obj.Get("actions");
  if (!actions.IsUndefined()) {
    THROW_TYPEERROR_IF(!actions.IsArray() || actions.As<Napi::Array>().Length() != 2, env,
                       "state.actions must be an array of 2 pairs");
    for (uint32_t i = 0; i < 2; ++i) {
      Napi::Object holder = Napi::Object::New(env);
      holder.Set("actions", actions.As<Napi::Array>().Get(i));
      read_pair(holder, "actions", s.actions[i]);
    }
  }
}

// The checked arguments of step / stepAsync.
struct StepArgs {
  const float* actions;
  float *obs, *rewards, *dones, *max_reached;
  int threads;
};

StepArgs ReadStepArgs(const Napi::CallbackInfo& info, size_t n) {
  StepArgs args;
  args.actions = float32_arg(info, 0, "actions", n * kActionFloats);
  args.obs = float32_arg(info, 1, "obs", n * kObsFloats);
  args.rewards = float32_arg(info, 2, "rewards", n * kPairFloats);
  args.dones = float32_arg(info, 3, "dones", n * kPairFloats);
  args.threads = present(info, 4) ? static_cast<int>(int_arg(info, 4, "threads", 1, kMaxThreads)) : 1;
  args.max_reached = present(info, 5) ? float32_arg(info, 5, "maxReached", n * kPairFloats) : nullptr;
  // The core assumes finite actions (NaN would pass its clamp): reject them here, before any change.
  require_finite(info.Env(), args.actions, n * kActionFloats, "actions");
  return args;
}

}  // namespace

void EnvWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = DefineClass(env, "TennisEnv",
                                   {
                                       InstanceMethod<&EnvWrap::Reset>("reset"),
                                       InstanceMethod<&EnvWrap::ResetWhere>("resetWhere"),
                                       InstanceMethod<&EnvWrap::Step>("step"),
                                       InstanceMethod<&EnvWrap::StepAsync>("stepAsync"),
                                       InstanceMethod<&EnvWrap::State>("state"),
                                       InstanceMethod<&EnvWrap::SetState>("setState"),
                                       InstanceMethod<&EnvWrap::ScriptedActions>("scriptedActions"),
                                       InstanceMethod<&EnvWrap::CompetitiveActions>("competitiveActions"),
                                       InstanceMethod<&EnvWrap::SaveState>("saveState"),
                                       InstanceMethod<&EnvWrap::LoadState>("loadState"),
                                       InstanceMethod<&EnvWrap::Dispose>("dispose"),
                                       InstanceAccessor<&EnvWrap::GetNumEnvs>("numEnvs"),
                                       InstanceAccessor<&EnvWrap::GetDisposed>("disposed"),
                                   });
  exports.Set("TennisEnv", cls);
}

EnvWrap::EnvWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EnvWrap>(info) {
  Napi::Env env = info.Env();
  const int64_t num_envs = int_arg(info, 0, "numEnvs", 1, kMaxEnvs);
  const int64_t seed = present(info, 1) ? int_arg(info, 1, "seed", 0, 0xFFFFFFFFLL) : 0;
  const Napi::Object options = object_arg(info, 2, "options");
  tennis::TennisOptions o;
  read_bool(options, "cleanReset", "options.cleanReset", o.clean_reset);
  read_bool(options, "observeBallVelocity", "options.observeBallVelocity", o.observe_ball_velocity);
  read_bool(options, "fixLastHitter", "options.fixLastHitter", o.fix_last_hitter);
  const Napi::Value mode = options.Get("mode");
  if (!mode.IsUndefined()) {
    const std::string name = mode.IsString() ? std::string(mode.As<Napi::String>()) : std::string();
    THROW_TYPEERROR_IF(name != "cooperative" && name != "competitive", env,
                       "options.mode must be \"cooperative\" or \"competitive\"");
    o.mode = name == "competitive" ? tennis::TennisMode::kCompetitive : tennis::TennisMode::kCooperative;
  }
  core_ = guard(env, [&] { return std::make_shared<tennis::TennisBatch>(static_cast<int>(num_envs), seed, o); });
  num_envs_ = static_cast<int>(num_envs);
  info.This().As<Napi::Object>().TypeTag(&kEnvTypeTag);
}

std::shared_ptr<tennis::TennisBatch> EnvWrap::Share(Napi::Value value) {
  Napi::Env env = value.Env();
  THROW_TYPEERROR_IF(!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kEnvTypeTag), env,
                     "env must be a TennisEnv");
  EnvWrap* wrap = Napi::ObjectWrap<EnvWrap>::Unwrap(value.As<Napi::Object>());
  if (!wrap->core_) throw coded_error(env, kErrDisposed, "TennisEnv was disposed");
  return wrap->core_;
}

tennis::TennisBatch& EnvWrap::core(Napi::Env env) {
  if (!core_) throw coded_error(env, kErrDisposed, "TennisEnv was disposed");
  if (busy_) throw coded_error(env, kErrBusy, "TennisEnv is busy with a stepAsync");
  return *core_;
}

Napi::Value EnvWrap::Reset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tennis::TennisBatch& batch = core(env);
  float* obs = float32_arg(info, 0, "obs", num_envs_ * kObsFloats);
  guard(env, [&] { batch.reset(obs); });
  return env.Undefined();
}

Napi::Value EnvWrap::ResetWhere(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tennis::TennisBatch& batch = core(env);
  const float* mask = float32_arg(info, 0, "mask", num_envs_ * kPairFloats);
  float* obs = float32_arg(info, 1, "obs", num_envs_ * kObsFloats);
  guard(env, [&] { batch.reset_where(mask, obs); });
  return env.Undefined();
}

Napi::Value EnvWrap::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tennis::TennisBatch& batch = core(env);
  const StepArgs a = ReadStepArgs(info, num_envs_);
  guard(env, [&] { batch.step(a.actions, a.obs, a.rewards, a.dones, a.threads, a.max_reached); });
  return env.Undefined();
}

Napi::Value EnvWrap::StepAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  core(env);
  const StepArgs a = ReadStepArgs(info, num_envs_);
  // Actions are copied, so the caller may refill its array at once; outputs stay pinned (keep-alive).
  auto actions = std::make_shared<std::vector<float>>(a.actions, a.actions + num_envs_ * kActionFloats);
  std::vector<Napi::Value> keep_alive = {info.This(), info[1], info[2], info[3]};
  if (a.max_reached) keep_alive.push_back(info[5]);
  std::shared_ptr<tennis::TennisBatch> batch = core_;
  busy_ = true;
  return PromiseWorker::Run(
      env, [batch, actions, a] { batch->step(actions->data(), a.obs, a.rewards, a.dones, a.threads, a.max_reached); },
      nullptr, std::move(keep_alive), [this] { busy_ = false; });
}

Napi::Value EnvWrap::State(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tennis::TennisBatch& batch = core(env);
  const int64_t index = int_arg(info, 0, "env", 0, num_envs_ - 1);
  return StateObject(env, batch.state(static_cast<int>(index)));
}

Napi::Value EnvWrap::SetState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tennis::TennisBatch& batch = core(env);
  const int64_t index = int_arg(info, 0, "env", 0, num_envs_ - 1);
  THROW_TYPEERROR_IF(!present(info, 1) || !info[1].IsObject(), env, "state must be an object");
  tennis::TennisState s = batch.state(static_cast<int>(index));
  ReadState(info[1].As<Napi::Object>(), s);  // all checks before the env changes
  guard(env, [&] { batch.set_state(static_cast<int>(index), s); });
  return env.Undefined();
}

Napi::Value EnvWrap::ScriptedActions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tennis::TennisBatch& batch = core(env);
  float* actions = float32_arg(info, 0, "actions", num_envs_ * kActionFloats);
  guard(env, [&] { tennis::scripted_actions(batch, actions); });
  return env.Undefined();
}

Napi::Value EnvWrap::CompetitiveActions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tennis::TennisBatch& batch = core(env);
  float* actions = float32_arg(info, 0, "actions", num_envs_ * kActionFloats);
  guard(env, [&] { tennis::competitive_actions(batch, actions); });
  return env.Undefined();
}

Napi::Value EnvWrap::SaveState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tennis::TennisBatch& batch = core(env);
  const std::vector<uint8_t> bytes = guard(env, [&] { return batch.save_state(); });
  return Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size());
}

Napi::Value EnvWrap::LoadState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tennis::TennisBatch& batch = core(env);
  THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsTypedArray() ||
                         info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array,
                     env, "bytes must be a Uint8Array or Buffer");
  const Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  float* obs = float32_arg(info, 1, "obs", num_envs_ * kObsFloats);
  guard(env, [&] {
    batch.load_state(bytes.Data(), bytes.ElementLength());
    batch.observations(obs);
  });
  return env.Undefined();
}

Napi::Value EnvWrap::Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (busy_) throw coded_error(env, kErrBusy, "TennisEnv is busy with a stepAsync");
  core_.reset();
  return env.Undefined();
}

Napi::Value EnvWrap::GetNumEnvs(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), num_envs_); }

Napi::Value EnvWrap::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !core_); }

TENNIS_REGISTER_EXPORT(EnvWrap, &EnvWrap::Init);

}  // namespace tennis_napi
