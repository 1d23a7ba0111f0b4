// The q8_0 / q4_0 GGUF linear on int8 activations for many activation rows (prefill): a VNNI GEMM
// whose float order is one fma chain per output over the K blocks (qgemm_gguf_q8_wide.cc).
#pragma once

#include <cstdint>

#include "qgemm_gguf.h"

namespace xpu::compute {

// Activation rows from which a q8_0 or q4_0 linear on int8 activations takes the wide kernel.
// Below it the row kernels keep ggml's vec_dot order (llama.cpp's own order for one token);
// llama.cpp's prompt batches run q8_0 and q4_0 through llamafile's tinyBLAS, another order again,
// so no order is llama.cpp's there (q4_1 has no tinyBLAS kernel: llama.cpp's batches use vec_dot,
// so q4_1 stays on the row kernels). The TypeScript twin (src/backends/cpu/qgemm_gguf_q8.ts)
// mirrors it.
constexpr int64_t kQ8WideMinRows = 16;

bool GgufQ8WideSupports(GgufFormat f);

// C[M, N] (dense, ldc N) for the plan's q8_0 / q4_0 weights and activations already quantized per
// 32-value block (qa [M, K] int8, da [M, K / 32] the float32 of their float16 scales):
//   C[m][n] = fma chain over b of (float32(dw[n][b] * da[m][b]), dot_b, acc), acc from 0,
// dot_b = the block's exact integer product. Threads: the inline team or OpenMP, as the caller's.
void GgufQ8Wide(const GgufPlan& plan, const int8_t* qa, const float* da, float* C);

}  // namespace xpu::compute
