// Entry point of xpu_native: only registers the exported functions.
#include <napi.h>

#include "build_info.h"
#include "collectives/backend.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("buildInfo", Napi::Function::New(env, xpu::BuildInfo, "buildInfo"));
  // Collective engines, each present only when compiled in (src/dist/native.ts checks).
  if (xpu::coll::Backend* mpi = xpu::coll::MpiBackend()) exports.Set("mpi", xpu::coll::ExportBackend(env, mpi));
  if (xpu::coll::Backend* ccl = xpu::coll::CclBackend()) exports.Set("ccl", xpu::coll::ExportBackend(env, ccl));
  return exports;
}

}  // namespace

NODE_API_MODULE(xpu_native, Init)
