// The native attention backward for the CPU (attention_backward.cc) as plain C++: the plan and its
// runner. The JS face (compute.attentionBackward) is attention_backward_binding.cc.
#pragma once

#include <cstdint>
#include <string>

namespace xpu::compute {

// Gradients of out = softmax(scale q k^T + mask, causal) v over batch B, H query heads sharing Hkv
// key/value heads (GQA), L queries, S keys, E = q/k width, Ev = v width. Every array is dense
// float32 ([B, H, L, E] for q and dq, [B, Hkv, S, E] for k and dk, [B, Hkv, S, Ev] for v and dv,
// [B, H, L, Ev] for out and dOut) and already checked to hold what it is read or written for
// (attention_backward_binding.cc). dq, dk and dv are overwritten.
struct AttentionBackwardPlan {
  int64_t B = 0, H = 0, Hkv = 0, L = 0, S = 0, E = 0, Ev = 0;
  float scale = 1.0f;
  bool causal = false;
  const float *q = nullptr, *k = nullptr, *v = nullptr, *out = nullptr, *dOut = nullptr;
  float *dq = nullptr, *dk = nullptr, *dv = nullptr;
  // Mask: kind 0 f32 additive, 1 f16 additive, 2 bool (uint8, 0 = masked), -1 none; element
  // (b, h, i, j) at mOff + b ms[0] + h ms[1] + i ms[2] + j ms[3].
  int maskKind = -1;
  const void* mask = nullptr;
  int64_t mOff = 0, ms[4] = {0, 0, 0, 0};
};

// Runs the plan on the calling thread (tasks over OpenMP threads); "" or the error.
std::string RunAttentionBackward(const AttentionBackwardPlan& plan);

}  // namespace xpu::compute
