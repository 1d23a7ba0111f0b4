// The fused optimizer step on cpu (src/backends/cpu/optim.ts): one call per parameter group walks
// every parameter of the group and updates it and its optimizer state in place. The arithmetic is
// src/backends/cpu/optim.ts's optimStepTwin, torch 1.13's single-tensor SGD / Adam / AdamW op
// by op in float32 (each op rounded to float32, no fused multiply-adds: the intrinsics below are
// separate multiplies and adds, and the scalar tail is compiled without contraction), so it
// matches the TypeScript twin bit for bit. 16 lanes at a time with AVX-512 where the addon is
// built for it, scalar otherwise. Runs on the JS thread (the step is memory-bound and small next
// to the GEMMs around it) with OpenMP held to one thread (queue.h's SingleThreadedHere). The
// arguments are read by optim_binding.cc.
#pragma GCC optimize("fp-contract=off")
// GCC 12 flags the AVX-512 max / sqrt intrinsics in its own headers (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "optim.h"

#include <cmath>
#include <cstdint>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace xpu::compute {
namespace {

// One element: optimStepTwin's loop body, transcribed.
inline void Step1(const OptimHyper& h, const OptimSegment& s, int64_t i) {
  float p = s.p[i];
  float d = h.maximize ? -s.g[i] : s.g[i];
  if (h.rule == kSgd) {
    if (h.wd != 0) d = d + h.wd * p;
    if (h.mom != 0) {
      const float buf = s.first ? d : s.s0[i] * h.mom + h.damp1 * d;
      s.s0[i] = buf;
      d = h.nesterov ? d + h.mom * buf : buf;
    }
    s.p[i] = p + (-h.lr) * d;
    return;
  }
  if (h.rule == kAdamW) p = p * h.decay;
  else if (h.wd != 0) d = d + h.wd * p;
  const float m = s.s0[i] * h.b1 + h.omb1 * d;
  const float v = s.s1[i] * h.b2 + h.omb2 * (d * d);
  s.s0[i] = m;
  s.s1[i] = v;
  float vh = v;
  if (h.amsgrad) {
    const float old = s.s2[i];
    vh = (std::isnan(old) || std::isnan(v)) ? NAN : (old > v ? old : v);
    s.s2[i] = vh;
  }
  const float denom = std::sqrt(vh) / s.bc2Sqrt + h.eps;
  s.p[i] = p + (-s.stepSize) * (m / denom);
}

#if defined(__AVX512F__)
// 16 elements from i: the same ops in the same order, one rounding each.
inline void Step16(const OptimHyper& h, const OptimSegment& s, int64_t i) {
  __m512 p = _mm512_loadu_ps(s.p + i);
  __m512 d = _mm512_loadu_ps(s.g + i);
  if (h.maximize) d = _mm512_sub_ps(_mm512_setzero_ps(), d);
  if (h.rule == kSgd) {
    if (h.wd != 0) d = _mm512_add_ps(d, _mm512_mul_ps(_mm512_set1_ps(h.wd), p));
    if (h.mom != 0) {
      const __m512 mom = _mm512_set1_ps(h.mom);
      const __m512 buf = s.first ? d : _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(s.s0 + i), mom), _mm512_mul_ps(_mm512_set1_ps(h.damp1), d));
      _mm512_storeu_ps(s.s0 + i, buf);
      d = h.nesterov ? _mm512_add_ps(d, _mm512_mul_ps(mom, buf)) : buf;
    }
    _mm512_storeu_ps(s.p + i, _mm512_add_ps(p, _mm512_mul_ps(_mm512_set1_ps(-h.lr), d)));
    return;
  }
  if (h.rule == kAdamW) p = _mm512_mul_ps(p, _mm512_set1_ps(h.decay));
  else if (h.wd != 0) d = _mm512_add_ps(d, _mm512_mul_ps(_mm512_set1_ps(h.wd), p));
  const __m512 m = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(s.s0 + i), _mm512_set1_ps(h.b1)), _mm512_mul_ps(_mm512_set1_ps(h.omb1), d));
  const __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(s.s1 + i), _mm512_set1_ps(h.b2)), _mm512_mul_ps(_mm512_set1_ps(h.omb2), _mm512_mul_ps(d, d)));
  _mm512_storeu_ps(s.s0 + i, m);
  _mm512_storeu_ps(s.s1 + i, v);
  __m512 vh = v;
  if (h.amsgrad) {
    const __m512 old = _mm512_loadu_ps(s.s2 + i);
    // torch.maximum: NaN in either operand wins.
    const __mmask16 nan = _mm512_cmp_ps_mask(old, v, _CMP_UNORD_Q);
    vh = _mm512_mask_blend_ps(nan, _mm512_max_ps(old, v), _mm512_set1_ps(NAN));
    _mm512_storeu_ps(s.s2 + i, vh);
  }
  const __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vh), _mm512_set1_ps(s.bc2Sqrt)), _mm512_set1_ps(h.eps));
  _mm512_storeu_ps(s.p + i, _mm512_add_ps(p, _mm512_mul_ps(_mm512_set1_ps(-s.stepSize), _mm512_div_ps(m, denom))));
}
#endif

void RunSegment(const OptimHyper& h, const OptimSegment& s) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= s.n; i += 16) Step16(h, s, i);
#endif
  for (; i < s.n; i++) Step1(h, s, i);
}

}  // namespace

void RunOptimStep(const OptimHyper& hyper, const std::vector<OptimSegment>& segments) {
  for (const OptimSegment& s : segments) RunSegment(hyper, s);
}

}  // namespace xpu::compute
