// The JS faces of the native CPU kernels beside the GEMM, most on the same compute queue
// (queue.h). Each kernel family is plain C++ (<family>.h, <family>.cc) and is exported by its
// <family>_binding.cc, which reads the arguments through napi_args.h. Each adds its functions to the
// addon's `compute` object (the probes: to the addon itself).
#pragma once

#include <cstdint>

#include <napi.h>

namespace xpu::compute {

// compute.qmatmul(desc) -> job id, compute.qmatmulNow(desc): src/backends/cpu/native_quant.ts.
void ExportQuant(Napi::Env env, Napi::Object target);

// compute.qmatmulGguf(desc) -> job id, compute.qmatmulGgufNow(desc): GGUF block formats kept as
// they are (qgemm_gguf.h; src/backends/cpu/native_quant.ts).
void ExportQuantGguf(Napi::Env env, Napi::Object target);

// compute.attention(desc) -> job id, compute.attentionNow(desc) (attention.h), and
// compute.attentionBackward(desc) (attention_backward.h): src/backends/cpu/native_attention.ts,
// native_attention_backward.ts.
void ExportAttention(Napi::Env env, Napi::Object target);

// compute.ew(...) -> job id, compute.ewNow(...): float32 elementwise maps (elementwise.h;
// src/backends/cpu/native_map.ts).
void ExportElementwise(Napi::Env env, Napi::Object target);

// compute.rowOp / reduceRows / rotary(...) -> job id, and their ...Now: float32 row kernels
// (rows.h; src/backends/cpu/native_rows.ts).
void ExportRows(Napi::Env env, Napi::Object target);

// compute.optimStepNow(...): the fused SGD / Adam / AdamW step of a parameter group (optim.h;
// src/backends/cpu/optim.ts).
void ExportOptim(Napi::Env env, Napi::Object target);

// addon.probe = { fma(iterations, passes), read(bytes, passes), copy(bytes, passes) }: the cpu's
// ceilings for the benchmarks' roofline (probe.h; bench/lib/ceiling.ts).
void ExportProbe(Napi::Env env, Napi::Object target);

}  // namespace xpu::compute
