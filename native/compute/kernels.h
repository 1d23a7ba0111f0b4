// Native CPU kernels beside the GEMM, on the same compute queue (queue.h): the quantized linear
// (qgemm.cc) and the blocked flash attention (attention.cc). Each adds its functions to the
// addon's `compute` object.
#pragma once

#include <cstdint>

#include <napi.h>

namespace xpu::compute {

// compute.qmatmul(desc) -> job id, compute.qmatmulNow(desc): src/backends/cpu/native_quant.ts.
void ExportQuant(Napi::Env env, Napi::Object target);

// compute.qmatmulGguf(desc) -> job id, compute.qmatmulGgufNow(desc): GGUF block formats kept as
// they are (qgemm_gguf.cc; src/backends/cpu/native_quant.ts).
void ExportQuantGguf(Napi::Env env, Napi::Object target);

// compute.attention(desc) -> job id, compute.attentionNow(desc): src/backends/cpu/native_attention.ts.
void ExportAttention(Napi::Env env, Napi::Object target);

// compute.ew(...) -> job id, compute.ewNow(...): float32 elementwise maps (elementwise.cc;
// src/backends/cpu/native_map.ts).
void ExportElementwise(Napi::Env env, Napi::Object target);

// compute.rowOp / reduceRows / rotary(...) -> job id, and their ...Now: float32 row kernels
// (rows.cc; src/backends/cpu/native_rows.ts).
void ExportRows(Napi::Env env, Napi::Object target);

// compute.optimStepNow(...): the fused SGD / Adam / AdamW step of a parameter group (optim.cc;
// src/backends/cpu/optim.ts).
void ExportOptim(Napi::Env env, Napi::Object target);

}  // namespace xpu::compute
