// The native blocked (flash-style) attention forward (attention.cc) as plain C++: the plan and its
// runner. The JS face (compute.attention / attentionNow) is attention_binding.cc.
#pragma once

#include <cstdint>
#include <string>

namespace xpu::compute {

// out[b, h, i, :] = softmax(scale q k^T + mask, causal) v over batch B, H query heads sharing Hkv
// key/value heads (GQA), L queries, S keys, E = q/k width, Ev = v width. Every array already
// checked to hold what it is read for (attention_binding.cc).
struct AttentionPlan {
  int64_t B = 0, H = 0, Hkv = 0, L = 0, S = 0, E = 0, Ev = 0;
  float scale = 1.0f;
  bool causal = false;
  const float *q = nullptr, *k = nullptr, *v = nullptr;
  // q, k, v are read in place: element (b, h, row, d) of q is q[qOff + b qs[0] + h qs[1] + row qs[2]
  // + d] (rows contiguous). The K/V cache's [B, Hkv, S, D] view of [B, maxLen, Hkv, D] is such a
  // view, so a decode step reads the cache where it lies instead of copying it (issue 21).
  int64_t qOff = 0, qs[3] = {0, 0, 0}, kOff = 0, ks[3] = {0, 0, 0}, vOff = 0, vs[3] = {0, 0, 0};
  float* out = nullptr;  // dense [B, H, L, Ev]
  // Mask: kind 0 f32 additive, 1 f16 additive, 2 bool (uint8, 0 = masked), -1 none; element
  // (b, h, i, j) at mOff + b ms[0] + h ms[1] + i ms[2] + j ms[3].
  int maskKind = -1;
  const void* mask = nullptr;
  int64_t mOff = 0, ms[4] = {0, 0, 0, 0};
};

// Runs the plan on the calling thread (tasks over OpenMP threads); "" or the error.
std::string RunAttention(const AttentionPlan& plan);

}  // namespace xpu::compute
