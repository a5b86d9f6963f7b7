// N-API class Maddpg: config from a JS object, acting in place on Float32Arrays, updates off the main
// thread (from JS batches, or straight from the native replay buffer), parameters, checkpoints, export.
#include "trainer_wrap.h"

#include <cmath>
#include <set>
#include <string>

#include "async.h"
#include "buffer_wrap.h"
#include "convert.h"
#include "errors.h"
#include "registry.h"
#include "replay_buffer.h"
#include "replay_source.h"

namespace tennis_napi {
namespace {

// Floats per env (or batch row) of the joint arrays.
constexpr size_t kJointObs = tennis::kAgents * tennis::kObsSize;
constexpr size_t kJointAction = tennis::kAgents * tennis::kActionSize;

// What a ConfigReader does with a key the object lacks.
enum class Missing {
  kKeep,   // leave the output as it is
  kThrow,  // TypeError "options.<prefix><key> is required"
};

// Reads config keys with type checks (TypeError naming the key).
class ConfigReader {
 public:
  ConfigReader(Napi::Env env, Napi::Object object, std::string prefix, Missing missing)
      : env_(env), object_(object), prefix_(std::move(prefix)), missing_(missing) {}

  void number(const char* key, double& out) {
    Napi::Value v = get(key);
    if (v.IsUndefined()) return;
    THROW_TYPEERROR_IF(!v.IsNumber(), env_, prefix_, key, " must be a number");
    out = v.As<Napi::Number>().DoubleValue();
  }
  template <typename Int>
  void integer(const char* key, Int& out) {
    double value = double(out);
    number(key, value);
    THROW_TYPEERROR_IF(std::floor(value) != value || std::fabs(value) > 9007199254740991.0, env_, prefix_, key,
                       " must be an integer, got ", value);
    out = Int(value);
  }
  void boolean(const char* key, bool& out) {
    Napi::Value v = get(key);
    if (v.IsUndefined()) return;
    THROW_TYPEERROR_IF(!v.IsBoolean(), env_, prefix_, key, " must be a boolean");
    out = v.As<Napi::Boolean>();
  }
  void string(const char* key, std::string& out) {
    Napi::Value v = get(key);
    if (v.IsUndefined()) return;
    THROW_TYPEERROR_IF(!v.IsString(), env_, prefix_, key, " must be a string");
    out = v.As<Napi::String>();
  }
  void int_list(const char* key, std::vector<int64_t>& out) {
    Napi::Value v = get(key);
    if (v.IsUndefined()) return;
    THROW_TYPEERROR_IF(!v.IsArray(), env_, prefix_, key, " must be an array of integers");
    auto array = v.As<Napi::Array>();
    out.clear();
    for (uint32_t i = 0; i < array.Length(); ++i) {
      Napi::Value item = array.Get(i);
      THROW_TYPEERROR_IF(!item.IsNumber() ||
                             std::floor(item.As<Napi::Number>().DoubleValue()) != item.As<Napi::Number>().DoubleValue(),
                         env_, prefix_, key, "[", i, "] must be an integer");
      out.push_back(int64_t(item.As<Napi::Number>().DoubleValue()));
    }
  }
  Napi::Object object(const char* key) {
    Napi::Value v = get(key);
    if (v.IsUndefined()) return Napi::Object::New(env_);
    THROW_TYPEERROR_IF(!v.IsObject() || v.IsArray(), env_, prefix_, key, " must be an object");
    return v.As<Napi::Object>();
  }
  // Throws a TypeError for any key not read.
  void reject_unknown() {
    Napi::Array names = object_.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); ++i) {
      const std::string name = names.Get(i).ToString();
      THROW_TYPEERROR_IF(!known_.count(name), env_, "unknown option ", prefix_, name);
    }
  }

 private:
  Napi::Value get(const char* key) {
    known_.insert(key);
    Napi::Value v = object_.Get(key);
    THROW_TYPEERROR_IF(v.IsUndefined() && missing_ == Missing::kThrow, env_, "options.", prefix_, key, " is required");
    return v;
  }

  Napi::Env env_;
  Napi::Object object_;
  std::string prefix_;
  Missing missing_;
  std::set<std::string> known_;
};

// Every learner option is required: the binding passes the resolved config's values
// (configs/schema.json holds the defaults), and a missing one is a TypeError naming it.
tennis::MaddpgConfig config_from(Napi::Env env, Napi::Object object) {
  tennis::MaddpgConfig c{};
  ConfigReader r(env, object, "", Missing::kThrow);
  r.int_list("actorHidden", c.actor_hidden);
  r.int_list("criticHidden", c.critic_hidden);
  r.number("lrActor", c.lr_actor);
  r.number("lrCritic", c.lr_critic);
  r.number("gamma", c.gamma);
  r.number("tau", c.tau);
  r.integer("batchSize", c.batch_size);
  r.number("gradClip", c.grad_clip);
  r.number("weightDecay", c.weight_decay);
  r.boolean("sharedParameters", c.shared_parameters);
  r.boolean("layerNorm", c.layer_norm);
  r.boolean("batchNorm", c.batch_norm);
  r.boolean("twinCritics", c.twin_critics);
  r.number("targetNoise", c.target_noise);
  r.number("targetNoiseClip", c.target_noise_clip);
  r.integer("policyDelay", c.policy_delay);
  r.string("device", c.device);
  r.string("impl", c.impl);
  r.integer("threads", c.threads);
  double seed = 0;
  r.number("seed", seed);
  THROW_TYPEERROR_IF(seed < 0 || std::floor(seed) != seed || seed > 9007199254740991.0, env,
                     "seed must be an integer in [0, 2^53), got ", seed);
  c.seed = uint64_t(seed);
  ConfigReader n(env, r.object("noise"), "noise.", Missing::kThrow);
  n.string("type", c.noise.type);
  n.number("ouMu", c.noise.ou_mu);
  n.number("ouTheta", c.noise.ou_theta);
  n.number("ouSigma", c.noise.ou_sigma);
  n.number("gaussianSigma", c.noise.gaussian_sigma);
  n.number("scaleStart", c.noise.scale_start);
  n.number("scaleEnd", c.noise.scale_end);
  n.integer("decay", c.noise.decay);
  n.string("decayUnit", c.noise.decay_unit);
  n.reject_unknown();
  r.reject_unknown();
  return c;
}

// A Float32Array property of `batch` with `length` elements (optional ones may be undefined -> null).
float* batch_array(Napi::Env env, Napi::Object batch, const char* key, size_t length, bool optional,
                   std::vector<Napi::Value>& keep_alive) {
  Napi::Value v = batch.Get(key);
  if (optional && (v.IsUndefined() || v.IsNull())) return nullptr;
  THROW_TYPEERROR_IF(!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array, env,
                     "batch.", key, " must be a Float32Array");
  auto array = v.As<Napi::Float32Array>();
  THROW_TYPEERROR_IF(array.ElementLength() != length, env, "batch.", key, " must be a Float32Array of length ", length,
                     ", got ", array.ElementLength());
  keep_alive.push_back(v);
  return array.Data();
}

Napi::Value stats_object(Napi::Env env, const tennis::UpdateStats& s) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("updates", double(s.updates));
  out.Set("actorUpdates", double(s.actor_updates));
  out.Set("criticLoss", s.critic_loss);
  out.Set("actorLoss", s.actor_loss);
  out.Set("qMean", s.q_mean);
  out.Set("criticGradNorm", s.critic_grad_norm);
  out.Set("actorGradNorm", s.actor_grad_norm);
  out.Set("saturation", s.saturation);
  auto td = Napi::Float32Array::New(env, s.td_errors.size());
  std::copy(s.td_errors.begin(), s.td_errors.end(), td.Data());
  out.Set("tdErrors", td);
  return out;
}

}  // namespace

void MaddpgWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = DefineClass(env, "Maddpg",
                                   {
                                       InstanceMethod<&MaddpgWrap::Act>("act"),
                                       InstanceMethod<&MaddpgWrap::UpdateBatch>("updateBatch"),
                                       InstanceMethod<&MaddpgWrap::Update>("update"),
                                       InstanceMethod<&MaddpgWrap::GetParameters>("getParameters"),
                                       InstanceMethod<&MaddpgWrap::SetParameters>("setParameters"),
                                       InstanceMethod<&MaddpgWrap::ParameterLayout>("parameterLayout"),
                                       InstanceMethod<&MaddpgWrap::Save>("save"),
                                       InstanceMethod<&MaddpgWrap::Load>("load"),
                                       InstanceMethod<&MaddpgWrap::ExportActor>("exportActor"),
                                       InstanceMethod<&MaddpgWrap::ResetNoise>("resetNoise"),
                                       InstanceMethod<&MaddpgWrap::ResetActors>("resetActors"),
                                       InstanceMethod<&MaddpgWrap::Stats>("stats"),
                                       InstanceMethod<&MaddpgWrap::Dispose>("dispose"),
                                   });
  exports.Set("Maddpg", cls);
}

MaddpgWrap::MaddpgWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MaddpgWrap>(info) {
  Napi::Env env = info.Env();
  const auto config = config_from(env, object_arg(info, 0, "config"));
  guard(env, [&] { maddpg_ = std::make_unique<tennis::Maddpg>(config); });
}

tennis::Maddpg& MaddpgWrap::ready(Napi::Env env) {
  if (!maddpg_) throw coded_error(env, kErrDisposed, "Maddpg was disposed");
  if (busy_) throw coded_error(env, kErrBusy, "Maddpg is busy with an update, save or load; await it first");
  return *maddpg_;
}

Napi::Value MaddpgWrap::run_async(const Napi::CallbackInfo& info, std::function<void()> body,
                                  std::function<Napi::Value(Napi::Env)> result, std::vector<Napi::Value> keep_alive) {
  keep_alive.push_back(info.This());  // the learner outlives the work
  busy_ = true;
  return PromiseWorker::Run(info.Env(), std::move(body), std::move(result), std::move(keep_alive),
                            [this] { busy_ = false; });
}

Napi::Value MaddpgWrap::Act(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& m = ready(env);
  THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsTypedArray() ||
                         info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array,
                     env, "obs must be a Float32Array");
  const size_t obs_length = info[0].As<Napi::Float32Array>().ElementLength();
  THROW_TYPEERROR_IF(obs_length == 0 || obs_length % kJointObs != 0, env,
                     "obs must be a Float32Array of length nEnvs * ", kJointObs, " (nEnvs >= 1), got ", obs_length);
  const size_t n_envs = obs_length / kJointObs;
  const float* obs = info[0].As<Napi::Float32Array>().Data();
  float* actions = float32_arg(info, 1, "actions", n_envs * kJointAction);
  const bool explore = bool_arg(info, 2, "explore");
  guard(env, [&] { m.act(obs, int64_t(obs_length), actions, int64_t(n_envs * kJointAction), explore); });
  return info[1];
}

Napi::Value MaddpgWrap::UpdateBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& m = ready(env);
  THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsObject(), env, "batch must be an object");
  Napi::Object batch = info[0].As<Napi::Object>();
  Napi::Value obs_value = batch.Get("obs");
  THROW_TYPEERROR_IF(
      !obs_value.IsTypedArray() || obs_value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array, env,
      "batch.obs must be a Float32Array");
  const size_t obs_length = obs_value.As<Napi::Float32Array>().ElementLength();
  THROW_TYPEERROR_IF(obs_length == 0 || obs_length % kJointObs != 0, env,
                     "batch.obs must be a Float32Array of length size * ", kJointObs, " (size >= 1), got ", obs_length);
  const size_t rows = obs_length / kJointObs;
  std::vector<Napi::Value> keep_alive;
  tennis::BatchView view;
  view.size = int64_t(rows);
  view.obs = batch_array(env, batch, "obs", rows * kJointObs, false, keep_alive);
  view.actions = batch_array(env, batch, "actions", rows * kJointAction, false, keep_alive);
  view.rewards = batch_array(env, batch, "rewards", rows * tennis::kAgents, false, keep_alive);
  view.next_obs = batch_array(env, batch, "nextObs", rows * kJointObs, false, keep_alive);
  view.dones = batch_array(env, batch, "dones", rows * tennis::kAgents, false, keep_alive);
  view.weights = batch_array(env, batch, "weights", rows, true, keep_alive);
  const float* target_noise = batch_array(env, batch, "targetNoise", rows * kJointAction, true, keep_alive);
  auto stats = std::make_shared<tennis::UpdateStats>();
  return run_async(
      info, [&m, view, target_noise, stats] { *stats = m.update_batch(view, target_noise); },
      [stats](Napi::Env e) { return stats_object(e, *stats); }, std::move(keep_alive));
}

Napi::Value MaddpgWrap::Update(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& m = ready(env);
  THROW_TYPEERROR_IF(info.Length() < 1, env, "buffer must be a ReplayBuffer");
  std::shared_ptr<tennis::ReplayBuffer> buffer = BufferWrap::Share(info[0]);
  const int64_t k = int_arg(info, 1, "k", 1, 1000000);
  Napi::Object options = object_arg(info, 2, "sampleOptions");
  tennis::SampleOptions sample;
  ConfigReader r(env, options, "sampleOptions.", Missing::kKeep);
  r.integer("earlyTrainingSteps", sample.early_training_steps);
  double ratio = sample.neg_sampling_ratio;
  r.number("negSamplingRatio", ratio);
  sample.neg_sampling_ratio = float(ratio);
  r.reject_unknown();
  auto stats = std::make_shared<tennis::UpdateStats>();
  auto source = std::make_shared<tennis::ReplayBatchSource>(buffer, sample);
  return run_async(
      info, [&m, k, source, stats] { *stats = m.update(k, *source); },
      [stats](Napi::Env e) { return stats_object(e, *stats); }, {info[0]});
}

Napi::Value MaddpgWrap::GetParameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& m = ready(env);
  const size_t count = size_t(m.parameter_count());
  Napi::Float32Array out;
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    float32_arg(info, 0, "out", count);
    out = info[0].As<Napi::Float32Array>();
  } else {
    out = Napi::Float32Array::New(env, count);
  }
  guard(env, [&] { m.get_parameters(out.Data(), int64_t(count)); });
  return out;
}

Napi::Value MaddpgWrap::SetParameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& m = ready(env);
  const size_t count = size_t(m.parameter_count());
  const float* params = float32_arg(info, 0, "params", count);
  require_finite(env, params, count, "params");
  guard(env, [&] { m.set_parameters(params, int64_t(count)); });
  return env.Undefined();
}

Napi::Value MaddpgWrap::ParameterLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& m = ready(env);
  const auto layout = m.parameter_layout();
  Napi::Array out = Napi::Array::New(env, layout.size());
  for (size_t i = 0; i < layout.size(); ++i) {
    Napi::Object item = Napi::Object::New(env);
    item.Set("name", layout[i].name);
    Napi::Array shape = Napi::Array::New(env, layout[i].shape.size());
    for (size_t d = 0; d < layout[i].shape.size(); ++d) shape.Set(uint32_t(d), double(layout[i].shape[d]));
    item.Set("shape", shape);
    item.Set("offset", double(layout[i].offset));
    item.Set("numel", double(layout[i].numel));
    out.Set(uint32_t(i), item);
  }
  return out;
}

Napi::Value MaddpgWrap::Save(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& m = ready(env);
  const std::string path = string_arg(info, 0, "path");
  THROW_TYPEERROR_IF(path.empty(), env, "path must be a non-empty string");
  return run_async(info, [&m, path] { m.save(path); }, nullptr, {});
}

Napi::Value MaddpgWrap::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& m = ready(env);
  const std::string path = string_arg(info, 0, "path");
  THROW_TYPEERROR_IF(path.empty(), env, "path must be a non-empty string");
  return run_async(info, [&m, path] { m.load(path); }, nullptr, {});
}

Napi::Value MaddpgWrap::ExportActor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& m = ready(env);
  const std::string path = string_arg(info, 0, "path");
  THROW_TYPEERROR_IF(path.empty(), env, "path must be a non-empty string");
  const int64_t agent = int_arg(info, 1, "agent", 0, tennis::kAgents - 1);
  guard(env, [&] { m.export_actor_torchscript(path, int(agent)); });
  return env.Undefined();
}

Napi::Value MaddpgWrap::ResetNoise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& m = ready(env);
  if (info.Length() == 0 || info[0].IsUndefined()) {
    const int64_t n_envs = m.noise().n_envs();
    if (n_envs > 0) guard(env, [&] { m.reset_noise(nullptr, n_envs); });
    return env.Undefined();
  }
  THROW_TYPEERROR_IF(!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array,
                     env, "envMask must be a Uint8Array");
  auto mask = info[0].As<Napi::Uint8Array>();
  THROW_TYPEERROR_IF(mask.ElementLength() == 0, env, "envMask must not be empty");
  guard(env, [&] { m.reset_noise(mask.Data(), int64_t(mask.ElementLength())); });
  return env.Undefined();
}

Napi::Value MaddpgWrap::ResetActors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& m = ready(env);
  const int64_t seed = int_arg(info, 0, "seed", 0, int64_t(UINT32_MAX));
  guard(env, [&] { m.reset_actors(uint64_t(seed)); });
  return env.Undefined();
}

Napi::Value MaddpgWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!maddpg_) throw coded_error(env, kErrDisposed, "Maddpg was disposed");
  // Read-only counters; safe while busy only for the flag itself, so report busy without touching them.
  Napi::Object out = Napi::Object::New(env);
  out.Set("busy", busy_);
  if (busy_) return out;
  out.Set("updates", double(maddpg_->update_count()));
  out.Set("parameterCount", double(maddpg_->parameter_count()));
  out.Set("noiseScale", maddpg_->noise_scale());
  out.Set("noiseSteps", double(maddpg_->noise().steps()));
  out.Set("noiseEpisodes", double(maddpg_->noise().episodes()));
  out.Set("nEnvs", double(maddpg_->noise().n_envs()));
  out.Set("architecture", maddpg_->architecture());
  return out;
}

Napi::Value MaddpgWrap::Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!maddpg_) return env.Undefined();  // idempotent
  ready(env);                            // ERR_BUSY while async work runs
  maddpg_.reset();
  return env.Undefined();
}

TENNIS_REGISTER_EXPORT(maddpg, &MaddpgWrap::Init);

}  // namespace tennis_napi
