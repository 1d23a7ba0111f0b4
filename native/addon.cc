// Entry point of xpu_native: only registers the exported functions.
#include <napi.h>

#include "build_info.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("buildInfo", Napi::Function::New(env, xpu::BuildInfo, "buildInfo"));
  return exports;
}

}  // namespace

NODE_API_MODULE(xpu_native, Init)
