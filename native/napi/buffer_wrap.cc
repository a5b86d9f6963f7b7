// N-API class ReplayBuffer: argument checks, Float32Array views into the core buffer, async
// checkpoints, and the hand-over of the core pointer to other wraps (see buffer_wrap.h).
#include "buffer_wrap.h"

#include <cmath>
#include <limits>
#include <string>

#include "async.h"
#include "convert.h"
#include "errors.h"
#include "registry.h"

namespace tennis_napi {
namespace {

// Tags ReplayBuffer instances so Share can tell them from any other object (napi_type_tag_object).
constexpr napi_type_tag kBufferTypeTag = {0x7e1a2b3c4d5e6f70ULL, 0x0f1e2d3c4b5a6978ULL};
// Floats per transition of obs / next_obs, actions, rewards / dones.
constexpr size_t kObsFloats = tennis::kAgents * tennis::kObsSize;
constexpr size_t kActionFloats = tennis::kAgents * tennis::kActionSize;
constexpr size_t kPairFloats = tennis::kAgents;
// Largest batch or index representable in the Int32Array of indices.
constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();
// Largest integer a JS number holds exactly (seeds).
constexpr double kMaxSafeInteger = 9007199254740991.0;

// Reads an optional integer property obj[key] in [lo, hi] into out (left as is when undefined).
void read_int(const Napi::Object& obj, const char* key, const char* name, int64_t lo, int64_t hi, int64_t& out) {
  Napi::Env env = obj.Env();
  const Napi::Value value = obj.Get(key);
  if (value.IsUndefined()) return;
  THROW_TYPEERROR_IF(!value.IsNumber(), env, name, " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  THROW_TYPEERROR_IF(!std::isfinite(number) || std::floor(number) != number, env, name, " must be an integer, got ",
                     number);
  THROW_RANGEERROR_IF(number < double(lo) || number > double(hi), env, name, " must be in [", lo, ", ", hi, "], got ",
                      number);
  out = static_cast<int64_t>(number);
}

void read_float(const Napi::Object& obj, const char* key, const char* name, float& out) {
  Napi::Env env = obj.Env();
  const Napi::Value value = obj.Get(key);
  if (value.IsUndefined()) return;
  THROW_TYPEERROR_IF(!value.IsNumber(), env, name, " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  THROW_TYPEERROR_IF(!std::isfinite(number), env, name, " must be finite, got ", number);
  out = static_cast<float>(number);
}

void read_bool(const Napi::Object& obj, const char* key, const char* name, bool& out) {
  Napi::Env env = obj.Env();
  const Napi::Value value = obj.Get(key);
  if (value.IsUndefined()) return;
  THROW_TYPEERROR_IF(!value.IsBoolean(), env, name, " must be a boolean");
  out = value.As<Napi::Boolean>();
}

// A Float32Array of any non-zero length at info[index].
Napi::Float32Array float32_any(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(index >= info.Length() || !info[index].IsTypedArray() ||
                         info[index].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array,
                     env, name, " must be a Float32Array");
  return info[index].As<Napi::Float32Array>();
}

// The Int32Array at info[index] of exactly `length` elements.
int32_t* int32_arg(const Napi::CallbackInfo& info, size_t index, const char* name, size_t length) {
  Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(index >= info.Length() || !info[index].IsTypedArray() ||
                         info[index].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array,
                     env, name, " must be an Int32Array");
  auto array = info[index].As<Napi::Int32Array>();
  THROW_TYPEERROR_IF(array.ElementLength() != length, env, name, " must be an Int32Array of length ", length, ", got ",
                     array.ElementLength());
  return array.Data();
}

bool present(const Napi::CallbackInfo& info, size_t index) {
  return index < info.Length() && !info[index].IsUndefined() && !info[index].IsNull();
}

}  // namespace

void BufferWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = DefineClass(env, "ReplayBuffer",
                                   {
                                       InstanceMethod<&BufferWrap::Add>("add"),
                                       InstanceMethod<&BufferWrap::Sample>("sample"),
                                       InstanceMethod<&BufferWrap::UpdatePriorities>("updatePriorities"),
                                       InstanceMethod<&BufferWrap::Save>("save"),
                                       InstanceMethod<&BufferWrap::Load>("load"),
                                       InstanceMethod<&BufferWrap::ReadSlot>("readSlot"),
                                       InstanceMethod<&BufferWrap::Dispose>("dispose"),
                                       InstanceAccessor<&BufferWrap::GetSize>("size"),
                                       InstanceAccessor<&BufferWrap::GetCapacity>("capacity"),
                                       InstanceAccessor<&BufferWrap::GetTotalAdded>("totalAdded"),
                                       InstanceAccessor<&BufferWrap::GetShmName>("shmName"),
                                       InstanceAccessor<&BufferWrap::GetIsOwner>("isOwner"),
                                       InstanceAccessor<&BufferWrap::GetPrioritized>("prioritized"),
                                       InstanceAccessor<&BufferWrap::GetBeta>("beta"),
                                       InstanceAccessor<&BufferWrap::GetReclaimedStalePid>("reclaimedStalePid"),
                                       InstanceAccessor<&BufferWrap::GetDisposed>("disposed"),
                                       StaticMethod<&BufferWrap::UniqueShmName>("uniqueShmName"),
                                       StaticMethod<&BufferWrap::SweepStaleSegments>("sweepStaleSegments"),
                                   });
  exports.Set("ReplayBuffer", cls);
}

BufferWrap::BufferWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BufferWrap>(info) {
  Napi::Env env = info.Env();
  const Napi::Object options = object_arg(info, 0, "options");
  const Napi::Value attach = options.Get("attach");
  if (!attach.IsUndefined()) {
    THROW_TYPEERROR_IF(!attach.IsString(), env, "options.attach must be a string (a shm name)");
    const std::string name = attach.As<Napi::String>();
    core_ = guard(env, [&] { return std::shared_ptr<tennis::ReplayBuffer>(tennis::ReplayBuffer::attach(name)); });
  } else {
    tennis::ReplayBufferOptions o;
    read_int(options, "capacity", "options.capacity", 1, int64_t(1) << 32, o.capacity);
    const Napi::Value shm = options.Get("shmName");
    if (!shm.IsUndefined()) {
      THROW_TYPEERROR_IF(!shm.IsString(), env, "options.shmName must be a string");
      o.shm_name = shm.As<Napi::String>();
    }
    read_bool(options, "prioritized", "options.prioritized", o.prioritized);
    read_float(options, "alpha", "options.alpha", o.alpha);
    read_float(options, "beta0", "options.beta0", o.beta0);
    read_int(options, "betaSteps", "options.betaSteps", 1, int64_t(kMaxSafeInteger), o.beta_steps);
    read_float(options, "priorityEps", "options.priorityEps", o.priority_eps);
    int64_t seed = 0;
    read_int(options, "seed", "options.seed", 0, int64_t(kMaxSafeInteger), seed);
    o.seed = static_cast<uint64_t>(seed);
    core_ = guard(env, [&] { return std::make_shared<tennis::ReplayBuffer>(o); });
  }
  info.This().As<Napi::Object>().TypeTag(&kBufferTypeTag);
  env_ = env;
  if (napi_add_env_cleanup_hook(env, &BufferWrap::CleanupHook, this) == napi_ok) hook_registered_ = true;
}

BufferWrap::~BufferWrap() {
  if (hook_registered_) napi_remove_env_cleanup_hook(env_, &BufferWrap::CleanupHook, this);
}

void BufferWrap::CleanupHook(void* arg) {
  auto* self = static_cast<BufferWrap*>(arg);
  self->hook_registered_ = false;
  self->core_.reset();
}

void BufferWrap::release() {
  core_.reset();
  if (hook_registered_) {
    napi_remove_env_cleanup_hook(env_, &BufferWrap::CleanupHook, this);
    hook_registered_ = false;
  }
}

tennis::ReplayBuffer& BufferWrap::core(Napi::Env env) {
  if (!core_) throw coded_error(env, kErrDisposed, "ReplayBuffer was disposed");
  if (busy_) throw coded_error(env, kErrBusy, "ReplayBuffer is busy with a save or load");
  return *core_;
}

tennis::ReplayBuffer* BufferWrap::CoreOf(Napi::Value value) { return Share(value).get(); }

std::shared_ptr<tennis::ReplayBuffer> BufferWrap::Share(Napi::Value value) {
  Napi::Env env = value.Env();
  THROW_TYPEERROR_IF(!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kBufferTypeTag), env,
                     "buffer must be a ReplayBuffer");
  BufferWrap* wrap = Napi::ObjectWrap<BufferWrap>::Unwrap(value.As<Napi::Object>());
  if (!wrap->core_) throw coded_error(env, kErrDisposed, "ReplayBuffer was disposed");
  return wrap->core_;
}

Napi::Value BufferWrap::Add(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tennis::ReplayBuffer& buffer = core(env);
  const Napi::Float32Array obs = float32_any(info, 0, "obs");
  const size_t obs_len = obs.ElementLength();
  THROW_TYPEERROR_IF(obs_len == 0 || obs_len % kObsFloats != 0, env,
                     "obs must be a Float32Array of length n*48 (n transitions x 2 agents x 24), got ", obs_len);
  const size_t n = obs_len / kObsFloats;
  const float* actions = float32_arg(info, 1, "actions", n * kActionFloats);
  const float* rewards = float32_arg(info, 2, "rewards", n * kPairFloats);
  const float* next_obs = float32_arg(info, 3, "nextObs", n * kObsFloats);
  const float* dones = float32_arg(info, 4, "dones", n * kPairFloats);
  guard(env, [&] { buffer.add(static_cast<int64_t>(n), obs.Data(), actions, rewards, next_obs, dones); });
  return env.Undefined();
}

Napi::Value BufferWrap::Sample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tennis::ReplayBuffer& buffer = core(env);
  const int64_t batch = int_arg(info, 0, "batch", 1, kMaxInt32);
  const Napi::Object options = object_arg(info, 1, "options");
  tennis::SampleOptions sample_options;
  read_int(options, "earlyTrainingSteps", "options.earlyTrainingSteps", 0, int64_t(kMaxSafeInteger),
           sample_options.early_training_steps);
  read_float(options, "negSamplingRatio", "options.negSamplingRatio", sample_options.neg_sampling_ratio);
  const size_t b = static_cast<size_t>(batch);
  tennis::BatchView view;
  view.size = batch;
  view.obs = float32_arg(info, 2, "obs", b * kObsFloats);
  view.actions = float32_arg(info, 3, "actions", b * kActionFloats);
  view.rewards = float32_arg(info, 4, "rewards", b * kPairFloats);
  view.next_obs = float32_arg(info, 5, "nextObs", b * kObsFloats);
  view.dones = float32_arg(info, 6, "dones", b * kPairFloats);
  if (present(info, 7)) view.weights = float32_arg(info, 7, "weights", b);
  int32_t* indices = present(info, 8) ? int32_arg(info, 8, "indices", b) : nullptr;
  if (indices != nullptr) {
    index_scratch_.resize(b);
    view.indices = index_scratch_.data();
  }
  guard(env, [&] { buffer.sample(batch, sample_options, view); });
  if (indices != nullptr) {
    for (size_t k = 0; k < b; ++k) indices[k] = static_cast<int32_t>(index_scratch_[k]);
  }
  return env.Undefined();
}

Napi::Value BufferWrap::UpdatePriorities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tennis::ReplayBuffer& buffer = core(env);
  THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsTypedArray() ||
                         info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array,
                     env, "indices must be an Int32Array");
  const size_t n = info[0].As<Napi::Int32Array>().ElementLength();
  THROW_TYPEERROR_IF(n == 0, env, "indices must not be empty");
  const int32_t* indices = int32_arg(info, 0, "indices", n);
  const float* td_errors = float32_arg(info, 1, "tdErrors", n);
  index_scratch_.assign(indices, indices + n);
  guard(env, [&] { buffer.update_priorities(static_cast<int64_t>(n), index_scratch_.data(), td_errors); });
  return env.Undefined();
}

Napi::Value BufferWrap::Save(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  core(env);
  const std::string path = string_arg(info, 0, "path");
  std::shared_ptr<tennis::ReplayBuffer> buffer = core_;
  busy_ = true;
  return PromiseWorker::Run(
      env, [buffer, path] { buffer->save(path); }, nullptr, {info.This()}, [this] { busy_ = false; });
}

Napi::Value BufferWrap::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  core(env);
  const std::string path = string_arg(info, 0, "path");
  std::shared_ptr<tennis::ReplayBuffer> buffer = core_;
  busy_ = true;
  return PromiseWorker::Run(
      env, [buffer, path] { buffer->load(path); }, nullptr, {info.This()}, [this] { busy_ = false; });
}

Napi::Value BufferWrap::ReadSlot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tennis::ReplayBuffer& buffer = core(env);
  const int64_t slot = int_arg(info, 0, "slot", 0, buffer.capacity() - 1);
  float* record = float32_arg(info, 1, "record", tennis::kRecordFloats);
  return Napi::Boolean::New(env, guard(env, [&] { return buffer.read_slot(slot, record) != 0; }));
}

Napi::Value BufferWrap::Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (busy_) throw coded_error(env, kErrBusy, "ReplayBuffer is busy with a save or load");
  release();
  return env.Undefined();
}

Napi::Value BufferWrap::GetSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(core(info.Env()).size()));
}

Napi::Value BufferWrap::GetCapacity(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(core(info.Env()).capacity()));
}

Napi::Value BufferWrap::GetTotalAdded(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(core(info.Env()).total_added()));
}

Napi::Value BufferWrap::GetShmName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), core(info.Env()).shm_name());
}

Napi::Value BufferWrap::GetIsOwner(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), core(info.Env()).is_owner());
}

Napi::Value BufferWrap::GetPrioritized(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), core(info.Env()).prioritized());
}

Napi::Value BufferWrap::GetBeta(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), core(info.Env()).beta());
}

Napi::Value BufferWrap::GetReclaimedStalePid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(core(info.Env()).reclaimed_stale_pid()));
}

Napi::Value BufferWrap::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !core_); }

Napi::Value BufferWrap::UniqueShmName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string prefix = present(info, 0) ? string_arg(info, 0, "prefix") : std::string("tennis-train");
  return Napi::String::New(env, guard(env, [&] { return tennis::ReplayBuffer::unique_shm_name(prefix); }));
}

Napi::Value BufferWrap::SweepStaleSegments(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string prefix = present(info, 0) ? string_arg(info, 0, "prefix") : std::string("tennis-train");
  return Napi::Number::New(env, guard(env, [&] { return tennis::ReplayBuffer::sweep_stale_segments(prefix); }));
}

namespace {

void InitBuffer(Napi::Env env, Napi::Object exports) { BufferWrap::Init(env, exports); }

}  // namespace

TENNIS_REGISTER_EXPORT(BufferWrap, &InitBuffer);

}  // namespace tennis_napi
