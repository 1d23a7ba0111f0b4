// Native CPU kernels beside the GEMM, on the same compute queue (queue.h): the quantized linear
// (qgemm.cc) and the blocked flash attention (attention.cc). Each adds its functions to the
// addon's `compute` object.
#pragma once

#include <cstdint>

#include <napi.h>

namespace xpu::compute {

// compute.qmatmul(desc) -> job id, compute.qmatmulNow(desc): src/backends/cpu/native_quant.ts.
void ExportQuant(Napi::Env env, Napi::Object target);

// compute.attention(desc) -> job id, compute.attentionNow(desc): src/backends/cpu/native_attention.ts.
void ExportAttention(Napi::Env env, Napi::Object target);

}  // namespace xpu::compute

namespace xpu::compute {

// float16-weight kernels for gemm.cc (gemm_f16.cc). W is [N, K] float16 bits with rows ldw apart
// and contiguous along K (B = W^T, the Linear layout).
// C[i, j] = alpha * sum_k A[i, k] W[j, k] for i < M (any M; meant for M <= 8), A f32 rows lda apart
// (contiguous along K), C rows ldc apart. Threaded over N with OpenMP.
void GemvF16(const float* A, int64_t M, int64_t lda, const uint16_t* W, int64_t ldw, int64_t N, int64_t K, float alpha, float* C, int64_t ldc);

// rows x K of W converted to a dense f32 [rows, K] (threaded).
void HalfRowsToFloat(const uint16_t* W, int64_t ldw, int64_t rows, int64_t K, float* dst);

}  // namespace xpu::compute
