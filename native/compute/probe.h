// The cpu's ceilings for the benchmarks' roofline (probe.cc): addon.probe.fma / read / copy.
#pragma once

#include <napi.h>

namespace xpu::compute {

// Adds `probe` { fma(iterations, passes), read(bytes, passes), copy(bytes, passes) } to target.
void ExportProbe(Napi::Env env, Napi::Object target);

}  // namespace xpu::compute
