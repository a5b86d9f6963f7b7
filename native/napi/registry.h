// Each *_wrap.cc registers its exports here, so addon.cc stays a list-free entry point and wraps
// can be added without touching a shared file.
#pragma once
#include <napi.h>

#include <utility>
#include <vector>

namespace tennis_napi {

using InitFn = void (*)(Napi::Env env, Napi::Object exports);

inline std::vector<std::pair<const char*, InitFn>>& export_registry() {
  static std::vector<std::pair<const char*, InitFn>> entries;
  return entries;
}

struct ExportRegistration {
  ExportRegistration(const char* name, InitFn fn) { export_registry().emplace_back(name, fn); }
};

}  // namespace tennis_napi

// TENNIS_REGISTER_EXPORT(EnvWrap, &EnvWrap::Init) in a wrap's .cc file.
#define TENNIS_REGISTER_EXPORT(tag, fn) static ::tennis_napi::ExportRegistration tennis_export_##tag(#tag, fn)
