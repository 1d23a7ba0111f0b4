// A 2-D operand read in place through strides (the quantized linears' activations, bias and
// residual): element (i, j) is data[offset + i s0 + j s1], float32, float16 bits or int8. Plain
// C++; napi_args.h's MatrixField reads one from a descriptor, bounds-checked.
#pragma once

#include <cstdint>

#include "half.h"

namespace xpu::compute {

struct StridedMatrix {
  enum Kind : int { kF32 = 0, kF16 = 1, kI8 = 2 };
  bool present = false;  // false: an optional operand that was not given
  const void* data = nullptr;
  int kind = kF32;
  int64_t offset = 0, s0 = 0, s1 = 0;

  // Element (i, j) as a float.
  float At(int64_t i, int64_t j) const {
    const int64_t x = offset + i * s0 + j * s1;
    if (kind == kF32) return static_cast<const float*>(data)[x];
    if (kind == kF16) return HalfToFloat(static_cast<const uint16_t*>(data)[x]);
    return static_cast<float>(static_cast<const int8_t*>(data)[x]);
  }
};

}  // namespace xpu::compute
