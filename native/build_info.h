// What the addon was built with, one function per component. Each lives in its own file so a
// component's #ifdefs (and, later, its headers) stay out of the others.
#pragma once

#include <napi.h>

namespace xpu {

// { compiler, simd }: what the C++ compiler targeted.
std::string CompilerName();
std::string SimdLevel();

// { built, version?, library? }: OpenMPI, when binding.gyp found it with pkg-config.
Napi::Object MpiInfo(Napi::Env env);

// { built, root?, version? }: oneCCL, when binding.gyp found an install root.
Napi::Object CclInfo(Napi::Env env);

// The names of the native CPU kernels compiled in (none yet).
Napi::Array CpuKernels(Napi::Env env);

// buildInfo(): everything above plus the Node-API versions.
Napi::Value BuildInfo(const Napi::CallbackInfo& info);

}  // namespace xpu
