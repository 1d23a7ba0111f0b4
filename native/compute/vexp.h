// e^x in double precision for the elementwise and row kernels (elementwise.cc, rows.cc). The
// TypeScript twins compute exp, sigmoid, silu and softmax in float64 (Math.exp) and round once to
// float32; these do the same arithmetic in double, so the float32 results agree with the twins
// except where e^x lies within ~1e-16 of a float32 rounding boundary (never seen in the tests).
//
// AVX-512: 8 lanes. x is clamped to [-746, 710] (NaN passes: MIN/MAX return their second operand
// when either is NaN), n = round(x log2 e), r = x - n ln2 in two parts (fdlibm's split; n ln2_hi
// is exact for |n| < 2^11), e^r = 1 + r (1 + r q(r)) with q a degree-9 near-minimax (Chebyshev)
// fit of (e^r - 1 - r) / r^2 on |r| <= ln2 / 2 (fit error ~1e-16 on q, ~1e-17 relative on e^r;
// two FMAs fewer than the degree-13 Taylor series it replaced, the same float32 results on 32M
// random inputs: tools/exp_fit.py), and 2^n applied by VSCALEFPD, which overflows to inf and underflows to
// (sub)normals and 0 as exp does. Without AVX-512: std::exp per element.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace xpu::compute {

// Elementwise and row kernels (elementwise.cc, rows.cc) below this many elements run on one
// thread. Every parallel region ends in a barrier that waits for the slowest thread, and on a
// shared box (this one: 2 cores, load 15-20) a descheduled thread held a 1M-element exp for
// 5-20 ms where one thread takes under 1 ms; above this size a second core is worth that risk.
constexpr int64_t kParallelMin = int64_t{1} << 21;
// exp, sigmoid, silu: ~2.5 cycles an element in double, worth a second thread from 2^19
// (src/backends/cpu/native_ew_path.ts HEAVY_QUEUE_MIN queues them from there too).
constexpr int64_t kParallelMinHeavy = int64_t{1} << 19;

inline double ExpD(double x) { return std::exp(x); }

#if defined(__AVX512F__)
inline __m512d Exp8(__m512d x) {
  x = _mm512_min_pd(_mm512_set1_pd(710.0), x);
  x = _mm512_max_pd(_mm512_set1_pd(-746.0), x);
  const __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93147180369123816490e-01), x);
  r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.90821492927058770002e-10), r);
  // q's coefficients, highest degree first (close to 1/k! for k = 11 .. 2), then 1 + r (1 + r q) by Horner.
  static constexpr double kQ[] = {
      2.5100375832561234e-08, 2.7620075879983367e-07, 2.7557268480310024e-06, 2.4801521322368692e-05, 0.00019841269863040545,
      0.0013888888917196719,  0.008333333333330065,   0.041666666666624164,   0.16666666666666669,    0.5000000000000001,
  };
  __m512d p = _mm512_set1_pd(kQ[0]);
  for (int k = 1; k < 10; k++) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(kQ[k]));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
  return _mm512_scalef_pd(p, n);
}
#endif

}  // namespace xpu::compute
