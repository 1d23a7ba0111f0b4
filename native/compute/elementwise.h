// Elementwise maps (elementwise.cc) as plain C++: the op codes, the plan and its runner. The JS
// face (compute.ew / ewNow) is elementwise_binding.cc.
#pragma once

#include <cstdint>
#include <vector>

namespace xpu::compute {

namespace ew_ops {
// Op codes, shared with src/backends/cpu/native_map.ts (NATIVE_OPS): binary below 16, unary from 16.
enum Op : int {
  kAdd = 0, kSub = 1, kMul = 2, kDiv = 3, kMaximum = 4, kMinimum = 5,
  kNeg = 16, kAbs = 17, kRelu = 18, kSqrt = 19, kExp = 20, kSigmoid = 21, kSilu = 22, kCopy = 23, kGelu = 24,
};
inline bool IsUnary(int op) { return op >= 16; }
inline bool IsKnown(int op) { return (op >= kAdd && op <= kMinimum) || (op >= kNeg && op <= kGelu); }
}  // namespace ew_ops

// An operand: float32 or float16 (raw bits) elements read at off + r * rowStride + j * innerStride
// (innerStride 1: contiguous, 0: broadcast along the row), or a scalar (data null).
struct EwOperand {
  const void* data = nullptr;  // null: a scalar
  bool half = false;
  float scalar = 0;
  int64_t off = 0, rowStride = 0, innerStride = 1;
};

// out[r * inner + j] = op(x[0], x[1]) over rows x inner, out float32 or float16 bits, every read
// already checked to lie inside its array (elementwise_binding.cc).
struct EwPlan {
  int op = ew_ops::kAdd;
  int64_t rows = 0, inner = 0;
  void* out = nullptr;
  bool outHalf = false;
  EwOperand x[2];
};

// Runs the plan on the calling thread (threaded with OpenMP from vexp.h's kParallelMin elements).
void RunEw(const EwPlan& plan);

// A chain of the ops above over one contiguous float32 run of n elements: xpu.compile's fused
// elementwise maps (src/compile/fused_kernel.ts). Step s computes op(a, b) into a block-sized
// register; an argument is an input array (already offset), an earlier step's register, or a
// scalar. The last step writes the output. Each step rounds to float32 exactly as the single op
// does, so the chain computes bit for bit what its ops compute one by one, but block by block
// (registers stay in L1/L2) instead of through n-element intermediates in memory.
struct EwChainArg {
  enum Kind : int { kInput = 0, kStep = 1, kScalar = 2 };
  int kind = kInput;
  int index = 0;
  float scalar = 0;
};
struct EwChainStep {
  int op = ew_ops::kAdd;
  EwChainArg a, b;
};
struct EwChainPlan {
  int64_t n = 0;
  float* out = nullptr;
  std::vector<const float*> inputs;
  std::vector<EwChainStep> steps;
};

void RunEwChain(const EwChainPlan& plan);

}  // namespace xpu::compute
