// buildInfo(): the report the TypeScript side (nativeInfo(), `xpu info`) shows about this binary.
#include "build_info.h"

#ifndef XPU_NODE_ADDON_API_VERSION
#define XPU_NODE_ADDON_API_VERSION "unknown"
#endif

namespace xpu {

Napi::Array CpuKernels(Napi::Env env) {
  // Native CPU kernels compiled in (native/compute/); the TypeScript kernels serve the rest.
  Napi::Array out = Napi::Array::New(env, 0);
#ifdef XPU_HAVE_DNNL
  out.Set(out.Length(), "gemm");  // oneDNN matmul on the compute thread (compute/gemm.cc)
#endif
  return out;
}

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("compiler", CompilerName());
  out.Set("napiVersion", NAPI_VERSION);
  out.Set("nodeAddonApi", XPU_NODE_ADDON_API_VERSION);
  out.Set("simd", SimdLevel());
  out.Set("mpi", MpiInfo(env));
  out.Set("ccl", CclInfo(env));
  out.Set("cpuKernels", CpuKernels(env));
  return out;
}

}  // namespace xpu
