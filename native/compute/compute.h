// Native CPU kernels: the GEMM (oneDNN's matmul primitive) on the compute queue (queue.h). The
// kernels are plain C++ (gemm.h); this is their JS face (gemm_binding.cc).
#pragma once

#include <napi.h>

namespace xpu::compute {

// addon.compute: { gemm(desc) -> job id, info() -> {...}, wait, completed, submitted, setOnDone }.
// Without oneDNN (built without it) the object has no gemm and info().library is null.
Napi::Object ExportCompute(Napi::Env env);

}  // namespace xpu::compute
