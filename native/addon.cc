// Entry point of xpu_native: only registers the exported functions.
#include <napi.h>

#include "build_info.h"
#include "stderr_capture.h"
#include "collectives/backend.h"
#include "compute/compute.h"
#include "compute/kernels.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("buildInfo", Napi::Function::New(env, xpu::BuildInfo, "buildInfo"));
  // fd 2 redirected around a synchronous call: Dawn's adapter warnings (src/device/stderr_filter.ts).
  xpu::ExportStderrCapture(env, exports);
  // Collective engines, each present only when compiled in (src/distributed/native.ts checks).
  if (xpu::coll::Backend* mpi = xpu::coll::MpiBackend()) exports.Set("mpi", xpu::coll::ExportBackend(env, mpi));
  if (xpu::coll::Backend* ccl = xpu::coll::CclBackend()) exports.Set("ccl", xpu::coll::ExportBackend(env, ccl));
  // CPU kernels on the compute queue (the GEMM when built with oneDNN): src/backends/cpu/native_gemm.ts.
  Napi::Object compute = xpu::compute::ExportCompute(env);
  // The quantized linear and the blocked attention (native_quant.ts, native_attention.ts).
  xpu::compute::ExportQuant(env, compute);
  xpu::compute::ExportQuantGguf(env, compute);
  xpu::compute::ExportAttention(env, compute);
  // Elementwise maps and row kernels on float32 (native_map.ts, native_rows.ts).
  xpu::compute::ExportElementwise(env, compute);
  xpu::compute::ExportRows(env, compute);
  xpu::compute::ExportOptim(env, compute);
  exports.Set("compute", compute);
  // The cpu's FMA peak and bandwidth for the benchmarks' roofline (bench/lib/ceiling.ts).
  xpu::compute::ExportProbe(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(xpu_native, Init)
