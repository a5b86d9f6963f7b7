// How errors cross from C++ to JS: argument checks throw TypeError/RangeError naming the argument;
// core and LibTorch exceptions become the JS class TennisTrainError (binding/errors.ts) with a `code`.
#pragma once
#include <napi.h>

#include <c10/util/Exception.h>

#include <sstream>
#include <stdexcept>
#include <string>

namespace tennis_napi {

// Error codes shared with binding/errors.ts.
constexpr const char* kErrInvalidArg = "ERR_INVALID_ARG";  // core rejected an argument value
constexpr const char* kErrTorch = "ERR_TORCH";             // LibTorch raised
constexpr const char* kErrNative = "ERR_NATIVE";           // any other C++ exception
constexpr const char* kErrBusy = "ERR_BUSY";               // object is running async work
constexpr const char* kErrDisposed = "ERR_DISPOSED";       // object was disposed

// The TennisTrainError constructor, handed over once by binding/load.ts (setErrorClass).
Napi::FunctionReference& error_class();

// A TennisTrainError instance (plain Error with .code before setErrorClass was called).
Napi::Error coded_error(Napi::Env env, const char* code, const std::string& message);

// A coded error from whatever the core threw (call inside a catch block, or with the pointer).
Napi::Error error_from_exception(Napi::Env env, std::exception_ptr error);

template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

// Runs `body` and turns every C++ exception into the JS error it stands for: Napi::Error as is,
// c10::Error without its C++ backtrace, std::invalid_argument as ERR_INVALID_ARG, others ERR_NATIVE.
template <typename Body>
auto guard(Napi::Env env, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw error_from_exception(env, std::current_exception());
  }
}

}  // namespace tennis_napi

#define THROW_TYPEERROR_IF(cond, env, ...)                                         \
  do {                                                                             \
    if (cond) throw Napi::TypeError::New(env, ::tennis_napi::concat(__VA_ARGS__)); \
  } while (0)

#define THROW_RANGEERROR_IF(cond, env, ...)                                         \
  do {                                                                              \
    if (cond) throw Napi::RangeError::New(env, ::tennis_napi::concat(__VA_ARGS__)); \
  } while (0)
