// Promise-returning async work: the body runs on a libuv worker thread and touches no JS; the JS
// arrays it reads or writes are pinned by persistent references until the promise settles.
#pragma once
#include <napi.h>

#include <exception>
#include <functional>
#include <vector>

#include "errors.h"

namespace tennis_napi {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Body = std::function<void()>;
  using Result = std::function<Napi::Value(Napi::Env)>;

  // `keep_alive`: JS values (typed arrays, the wrapped object) that must outlive the work.
  // `on_settle` runs on the main thread before the promise settles (e.g. clearing a busy flag).
  PromiseWorker(Napi::Env env, Body body, Result result, std::vector<Napi::Value> keep_alive,
                std::function<void()> on_settle = {})
      : Napi::AsyncWorker(env, "tennis-train"),
        deferred_(Napi::Promise::Deferred::New(env)),
        body_(std::move(body)),
        result_(std::move(result)),
        on_settle_(std::move(on_settle)) {
    for (auto& value : keep_alive) keep_alive_.push_back(Napi::Persistent(value));
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  // Queues the work and returns its promise.
  static Napi::Promise Run(Napi::Env env, Body body, Result result, std::vector<Napi::Value> keep_alive,
                           std::function<void()> on_settle = {}) {
    auto* worker =
        new PromiseWorker(env, std::move(body), std::move(result), std::move(keep_alive), std::move(on_settle));
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      body_();
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (on_settle_) on_settle_();
    if (error_) {
      deferred_.Reject(error_from_exception(env, error_).Value());
      return;
    }
    try {
      deferred_.Resolve(result_ ? result_(env) : env.Undefined());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  Body body_;
  Result result_;
  std::function<void()> on_settle_;
  std::vector<Napi::Reference<Napi::Value>> keep_alive_;
  std::exception_ptr error_;
};

}  // namespace tennis_napi
