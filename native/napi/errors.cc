// Coded errors for JS: one constructor reference, one translation of C++ exceptions.
#include "errors.h"

#include "registry.h"

namespace tennis_napi {

Napi::FunctionReference& error_class() {
  static Napi::FunctionReference ref;
  return ref;
}

Napi::Error coded_error(Napi::Env env, const char* code, const std::string& message) {
  if (!error_class().IsEmpty()) {
    Napi::Object err = error_class().New({Napi::String::New(env, message), Napi::String::New(env, code)});
    return Napi::Error(env, err);
  }
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

Napi::Error error_from_exception(Napi::Env env, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const Napi::Error& e) {
    return e;
  } catch (const c10::Error& e) {
    return coded_error(env, kErrTorch, e.what_without_backtrace());
  } catch (const std::invalid_argument& e) {
    return coded_error(env, kErrInvalidArg, e.what());
  } catch (const std::exception& e) {
    return coded_error(env, kErrNative, e.what());
  } catch (...) {
    return coded_error(env, kErrNative, "unknown native exception");
  }
}

namespace {

// setErrorClass(TennisTrainError): [sync] remembers the class native errors are built from.
Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() != 1 || !info[0].IsFunction(), env,
                     "setErrorClass expects the TennisTrainError constructor");
  error_class() = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

// _throwForTest(kind): [sync] throws each kind of C++ exception, so tests can pin the translation.
Napi::Value ThrowForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() != 1 || !info[0].IsString(), env, "kind must be a string");
  const std::string kind = info[0].As<Napi::String>();
  return guard(env, [&]() -> Napi::Value {
    if (kind == "invalid_argument") throw std::invalid_argument("capacity must be >= 1, got 0");
    if (kind == "runtime_error") throw std::runtime_error("something failed natively");
    if (kind == "torch") TORCH_CHECK(false, "shape mismatch in a LibTorch op");
    throw std::invalid_argument("unknown kind " + kind);
  });
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  exports.Set("_throwForTest", Napi::Function::New(env, ThrowForTest, "_throwForTest"));
}

}  // namespace

TENNIS_REGISTER_EXPORT(errors, &Init);

}  // namespace tennis_napi
