// The native quantized linear for int8 / int4 / w8a8 weights (qgemm.cc) as plain C++: the plan
// and its runner. The JS face (compute.qmatmul / qmatmulNow) is qgemm_binding.cc; the formats
// are described in qgemm.cc.
#pragma once

#include <cstdint>
#include <string>

#include "strided_matrix.h"

namespace xpu::compute {

// out[M, N] = a[M, K] @ dequant(q)^T + bias, every array already checked to hold what it is read
// for (qgemm_binding.cc).
struct QuantPlan {
  bool int4 = false, w8a8 = false;
  int64_t M = 0, N = 0, K = 0;
  int64_t KP = 0;          // K rounded up to 32: an int8 row's stride
  int64_t gs = 0, G = 0;   // int4: group size and groups per row (K / gs)
  StridedMatrix a, bias;   // a: float32 / float16, or int8 for w8a8
  const float* aScales = nullptr;  // w8a8: one per row of a
  const char* q = nullptr;         // int8 [N, KP] or int4 words [N, K / 8]
  const char* scales = nullptr;    // [N] (int8) or [N, G] (int4), float32 or float16 bits
  const uint8_t* zeros = nullptr;  // int4: [N, G]
  char* out = nullptr;             // [M, N], float32 or float16 bits
  bool scalesF16 = false, outF16 = false;
};

// Runs the plan on the calling thread (threaded with OpenMP); "" or the error.
std::string RunQuant(const QuantPlan& plan);

}  // namespace xpu::compute
