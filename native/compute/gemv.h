// The streaming weight-row kernels (gemv.cc), for gemm.cc. No Node headers: the probes in
// native/compute/tools link gemv.cc without the addon.
#pragma once

#include <cstdint>

namespace xpu::compute {

// Weight-row kernels for gemm.cc (gemv.cc). W is [N, K] (float16 bits or f32) with rows ldw apart
// and contiguous along K (B = W^T, the Linear layout).
// C[i, j] = alpha * sum_k A[i, k] W[j, k] for i < M (any M; meant for M <= 8), A f32 rows lda apart
// (contiguous along K), C rows ldc apart. Threaded over N with OpenMP.
void GemvF16(const float* A, int64_t M, int64_t lda, const uint16_t* W, int64_t ldw, int64_t N, int64_t K, float alpha, float* C, int64_t ldc);
// The same for an f32 weight.
void GemvF32(const float* A, int64_t M, int64_t lda, const float* W, int64_t ldw, int64_t N, int64_t K, float alpha, float* C, int64_t ldc);

// rows x K of W converted to a dense f32 [rows, K] (threaded).
void HalfRowsToFloat(const uint16_t* W, int64_t ldw, int64_t rows, int64_t K, float* dst);

}  // namespace xpu::compute
