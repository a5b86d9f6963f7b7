// Argument readers for N-API entry points: each checks type and size and names the argument in its
// TypeError. Float32Array data is used in place (zero copy): Napi::TypedArrayOf<T>::Data() already
// points past the byteOffset, so no offset is added here.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "errors.h"

namespace tennis_napi {

// The Float32Array at info[index], of exactly `length` elements (length > 0).
inline float* float32_arg(const Napi::CallbackInfo& info, size_t index, const char* name, size_t length) {
  Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(index >= info.Length() || !info[index].IsTypedArray() ||
                         info[index].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array,
                     env, name, " must be a Float32Array");
  auto array = info[index].As<Napi::Float32Array>();
  THROW_TYPEERROR_IF(array.ElementLength() != length, env, name, " must be a Float32Array of length ", length, ", got ",
                     array.ElementLength());
  return array.Data();
}

// Throws a TypeError naming `name` when any of the n values is NaN or infinite.
inline void require_finite(Napi::Env env, const float* data, size_t n, const char* name) {
  for (size_t i = 0; i < n; ++i) {
    THROW_TYPEERROR_IF(!std::isfinite(data[i]), env, name, " must be finite, got ", data[i], " at index ", i);
  }
}

// An integer in [lo, hi] at info[index].
inline int64_t int_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t lo, int64_t hi) {
  Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(index >= info.Length() || !info[index].IsNumber(), env, name, " must be a number");
  const double value = info[index].As<Napi::Number>().DoubleValue();
  THROW_TYPEERROR_IF(std::floor(value) != value, env, name, " must be an integer, got ", value);
  THROW_RANGEERROR_IF(value < double(lo) || value > double(hi), env, name, " must be in [", lo, ", ", hi, "], got ",
                      value);
  return static_cast<int64_t>(value);
}

inline double number_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(index >= info.Length() || !info[index].IsNumber(), env, name, " must be a number");
  return info[index].As<Napi::Number>().DoubleValue();
}

inline std::string string_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(index >= info.Length() || !info[index].IsString(), env, name, " must be a string");
  return info[index].As<Napi::String>();
}

inline bool bool_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(index >= info.Length() || !info[index].IsBoolean(), env, name, " must be a boolean");
  return info[index].As<Napi::Boolean>();
}

// An options object at info[index] (undefined allowed -> empty object).
inline Napi::Object object_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || info[index].IsUndefined()) return Napi::Object::New(env);
  THROW_TYPEERROR_IF(!info[index].IsObject(), env, name, " must be an object");
  return info[index].As<Napi::Object>();
}

}  // namespace tennis_napi
