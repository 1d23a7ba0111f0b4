// The quantized linear for GGUF block formats (qgemm_gguf.cc) as plain C++: the formats' block
// geometry, the plan and its runner. The JS face (compute.qmatmulGguf / qmatmulGgufNow) is
// qgemm_gguf_binding.cc; the layouts are described in qgemm_gguf.cc.
#pragma once

#include <cstdint>
#include <string>

#include "strided_matrix.h"

namespace xpu::compute {

enum class GgufFormat { Q4_0, Q4_1, Q8_0, Q4_K, Q6_K };

struct GgufBlock {
  int block;       // weights per block
  int qBytes;      // q-plane bytes per block
  int scaleBytes;  // scale-plane bytes per block
};

inline GgufBlock GgufBlockOf(GgufFormat f) {
  switch (f) {
    case GgufFormat::Q4_0: return {32, 16, 2};
    case GgufFormat::Q4_1: return {32, 16, 4};
    case GgufFormat::Q8_0: return {32, 32, 2};
    case GgufFormat::Q4_K: return {256, 128, 16};
    case GgufFormat::Q6_K: return {256, 192, 20};
  }
  return {32, 16, 2};
}

// out[M, N] = act(a[M, K] @ W^T + bias) + residual with W [N, K] in its blocks, every array
// already checked to hold what it is read for (qgemm_gguf_binding.cc).
struct GgufPlan {
  GgufFormat fmt = GgufFormat::Q4_0;
  GgufBlock info{};
  int64_t M = 0, N = 0, K = 0, B = 0;  // B: blocks per row
  StridedMatrix a, bias, res;          // float32 or float16 bits
  const char* q = nullptr;             // the q plane, [N, B * info.qBytes]
  const char* s = nullptr;             // the scale plane, [N, B * info.scaleBytes]
  char* out = nullptr;                 // [M, N], float32 or float16 bits
  bool outF16 = false;
  int act = 0;  // 0 none, 1 relu, 2 gelu (erf), 3 silu: as gemm.cc's epilogue
  bool q8act = false;  // llama.cpp's 8-bit activations (qgemm_gguf_q8.cc) instead of exact float32
  const uint8_t* QRow(int64_t n) const { return reinterpret_cast<const uint8_t*>(q) + n * B * info.qBytes; }
  const uint8_t* SRow(int64_t n) const { return reinterpret_cast<const uint8_t*>(s) + n * B * info.scaleBytes; }
};

// Whether qgemm_gguf_q8.cc has the 8-bit-activation kernel for a format (q4_0, q4_1, q8_0).
bool GgufQ8Supports(GgufFormat f);
// C[M, N] (dense, ldc N) = the plan's product with x [M, K] (dense f32) quantized to 8 bits per
// 32-value block, llama.cpp's CPU arithmetic (qgemm_gguf_q8.cc); no epilogue.
void GgufQ8Matmul(const GgufPlan& plan, const float* x, float* C);

// Runs the plan on the calling thread (threaded with OpenMP); "" or the error.
std::string RunGguf(const GgufPlan& plan);

}  // namespace xpu::compute
