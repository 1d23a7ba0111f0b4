// e^x in double precision for the elementwise and row kernels (elementwise.cc, rows.cc). The
// TypeScript twins compute exp, sigmoid, silu and softmax in float64 (Math.exp) and round once to
// float32; these do the same arithmetic in double, so the float32 results agree with the twins
// except where e^x lies within ~1e-16 of a float32 rounding boundary (never seen in the tests).
//
// AVX-512: 8 lanes. x is clamped to [-746, 710] (NaN passes: MIN/MAX return their second operand
// when either is NaN), n = round(x log2 e), r = x - n ln2 in two parts (fdlibm's split; n ln2_hi
// is exact for |n| < 2^11), e^r by its Taylor series to degree 13 (|r| <= ln2 / 2: truncation
// below 4e-18 relative), and 2^n applied by VSCALEFPD, which overflows to inf and underflows to
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
  // 1/k! for k = 13 .. 2, then 1 + r (1 + r p) by Horner.
  static constexpr double kInvFact[] = {
      1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0,
      1.0 / 5040.0,       1.0 / 720.0,       1.0 / 120.0,      1.0 / 24.0,      1.0 / 6.0,      0.5,
  };
  __m512d p = _mm512_set1_pd(kInvFact[0]);
  for (int k = 1; k < 12; k++) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(kInvFact[k]));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
  return _mm512_scalef_pd(p, n);
}
#endif

}  // namespace xpu::compute
