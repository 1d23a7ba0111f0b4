// Row kernels on float32 rows for the compute queue (src/backends/cpu/native_rows.ts): the row
// ops (softmax, log-softmax, LayerNorm, RMSNorm), reductions of rows (sum, mean, max, min) and
// rotary embedding (rotate-half). Each row is contiguous; where it starts is given per row (an
// array of element offsets the JS side computed from the view's strides), so any outer layout
// works. Outputs: the row ops and rotary write rows at given offsets (rotary: r * d), reductions
// one value per row.
//
// The arithmetic is the TypeScript kernels' (src/backends/cpu/rows.ts, reduce.ts, the rotary
// twin), in double: sums accumulate in double, exp is vexp.h's, results are rounded once to
// float32. Sums run in 8 double lanes (another order than the TypeScript loop; as accurate).
// max/min and the softmax maximum let NaN win (Math.max's and reduce.ts's rule). Rows are spread
// over the OpenMP threads; a single long row (a reduction of every element) is split into chunks
// whose partial results are combined. The JS face is rows_binding.cc.
// GCC 12 flags the AVX-512 reduction and conversion intrinsics in its own headers (a known false
// positive, as in gemv.cc).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "rows.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <omp.h>

#include "inline_team.h"
#include "vexp.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace xpu::compute {
namespace {

using namespace row_ops;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- row primitives (double accumulation) ----
//
// The first pass over a row also prefetches the same line of the next row (`next`, null for the
// last): a row of 1024 floats is one 4 KiB page, where the hardware prefetcher stops, so a row
// read from DRAM started cold every time; one row ahead keeps two streams in flight. Row sums of
// [1024, 1024] out of cache: 10.5 -> 13.6 GB/s on one thread (a C++ probe, 512 MiB rotated). The
// arithmetic is unchanged.

inline void PrefetchLine(const float* next, int64_t i) {
  // GCC's builtin, not _mm_prefetch: the baseline prebuild (x86-64-v2) does not include immintrin.h.
  if (next) __builtin_prefetch(next + i, 0, 3);
}

double Sum(const float* x, int64_t n, const float* next = nullptr) {
  int64_t i = 0;
  double s = 0;
#if defined(__AVX512F__)
  __m512d a0 = _mm512_setzero_pd(), a1 = a0;
  for (; i + 16 <= n; i += 16) {
    PrefetchLine(next, i);
    a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm256_loadu_ps(x + i)));
    a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8)));
  }
  s = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
#endif
  for (; i < n; i++) s += x[i];
  return s;
}

// Sum of (x - mean)^2 in double.
double SumSq(const float* x, int64_t n, double mean, const float* next = nullptr) {
  int64_t i = 0;
  double s = 0;
#if defined(__AVX512F__)
  const __m512d m = _mm512_set1_pd(mean);
  __m512d a0 = _mm512_setzero_pd();
  for (; i + 8 <= n; i += 8) {
    if ((i & 15) == 0) PrefetchLine(next, i);
    __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), m);
    a0 = _mm512_fmadd_pd(d, d, a0);
  }
  s = _mm512_reduce_add_pd(a0);
#endif
  for (; i < n; i++) {
    double d = x[i] - mean;
    s += d * d;
  }
  return s;
}

// max (sign > 0) or min of a row, NaN winning.
double Extreme(const float* x, int64_t n, int sign, const float* next = nullptr) {
  bool nan = false;
  float best = x[0];
  int64_t i = 0;
#if defined(__AVX512F__)
  // VMAXPS / VMINPS ignore which operand is NaN; NaN is tracked by its own unordered compare.
  __m512 m = _mm512_set1_ps(best);
  __mmask16 unordered = 0;
  for (; i + 16 <= n; i += 16) {
    PrefetchLine(next, i);
    const __m512 v = _mm512_loadu_ps(x + i);
    unordered |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    m = sign > 0 ? _mm512_max_ps(m, v) : _mm512_min_ps(m, v);
  }
  nan = unordered != 0;
  best = sign > 0 ? _mm512_reduce_max_ps(m) : _mm512_reduce_min_ps(m);
#endif
  for (; i < n; i++) {
    const float v = x[i];
    nan |= v != v;
    best = sign > 0 ? (v > best ? v : best) : (v < best ? v : best);
  }
  return nan ? kNaN : best;
}

// e^(x - mx) into e (double) and their sum.
double ExpShifted(const float* x, int64_t n, double mx, double* e) {
  int64_t i = 0;
  double s = 0;
#if defined(__AVX512F__)
  const __m512d m = _mm512_set1_pd(mx);
  __m512d acc = _mm512_setzero_pd();
  for (; i + 8 <= n; i += 8) {
    __m512d v = Exp8(_mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), m));
    _mm512_storeu_pd(e + i, v);
    acc = _mm512_add_pd(acc, v);
  }
  s = _mm512_reduce_add_pd(acc);
#endif
  for (; i < n; i++) s += (e[i] = ExpD(x[i] - mx));
  return s;
}

// One row of a row op, as rows.ts rowOpInto computes it.
void RowOp1(int op, const float* x, const float* next, int64_t n, double eps, const float* w, const float* b, float* y, std::vector<double>& scratch) {
  if (op == kSoftmax || op == kLogSoftmax) {
    double mx = Extreme(x, n, 1, next);  // NaN if the row has one: every output is NaN, as Math.max gives
    if (mx == -std::numeric_limits<double>::infinity()) mx = 0;  // an all -inf row: 0/0 = NaN
    if (static_cast<int64_t>(scratch.size()) < n) scratch.resize(n);
    double s = ExpShifted(x, n, mx, scratch.data());
    if (op == kSoftmax) {
      int64_t i = 0;
#if defined(__AVX512F__)
      const __m512d sv = _mm512_set1_pd(s);
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm512_cvtpd_ps(_mm512_div_pd(_mm512_loadu_pd(scratch.data() + i), sv)));
#endif
      for (; i < n; i++) y[i] = static_cast<float>(scratch[i] / s);
    } else {
      const double logS = std::log(s);
      for (int64_t i = 0; i < n; i++) y[i] = static_cast<float>((x[i] - mx) - logS);
    }
    return;
  }
  // The first pass prefetches: the sum for layerNorm, the squares for rmsNorm.
  const double mean = op == kLayerNorm ? Sum(x, n, next) / n : 0.0;
  const double inv = 1.0 / std::sqrt(SumSq(x, n, mean, op == kLayerNorm ? nullptr : next) / n + eps);
  for (int64_t i = 0; i < n; i++) {
    double v = (x[i] - mean) * inv;
    if (w) v *= w[i];
    if (b) v += b[i];
    y[i] = static_cast<float>(v);
  }
}

// ---- runners ----

// The row after r (what its first pass prefetches), or null for the last.
inline const float* NextRow(const RowsPlan& p, int64_t r) { return r + 1 < p.rows ? p.x + p.xOff[r + 1] : nullptr; }

// From this many elements a row kernel called on the JS thread (a `...Now` entry point) splits its
// rows across the inline team (inline_team.h): a [1024, 1024] row sum reads 4 MiB, 0.2-0.5 ms on
// one core, and the second core doubles the reads in flight for the price of a wake-up.
constexpr int64_t kInlineRowsMin = int64_t{1} << 18;

// body(begin, end) over [0, count) units of `elements` elements in all: on the JS thread split
// across the inline team from kInlineRowsMin, on the compute thread one contiguous range per
// OpenMP thread from kParallelMin (schedule(static)'s split, one call each, so a body's per-call
// scratch is made once per thread). Every unit is computed by the same code either way: the results
// do not depend on the split.
template <class Body>
void ForRows(int64_t count, int64_t elements, const Body& body) {
  if (InlineTeamActive()) {
    if (count > 1 && elements >= kInlineRowsMin) InlineSplit(count, body);
    else body(0, count);
    return;
  }
#pragma omp parallel if (elements >= kParallelMin)
  {
    const int64_t t = omp_get_thread_num(), threads = omp_get_num_threads();
    body(count * t / threads, count * (t + 1) / threads);
  }
}

void RunRowOps(const RowsPlan& p) {
  ForRows(p.rows, p.rows * p.n, [&](int64_t r0, int64_t r1) {
    std::vector<double> scratch;
    for (int64_t r = r0; r < r1; r++) RowOp1(p.op, p.x + p.xOff[r], NextRow(p, r), p.n, p.eps, p.w, p.b, p.y + p.yOff[r], scratch);
  });
}

double Reduce1(int op, const float* x, int64_t n, const float* next = nullptr) {
  if (op == kMax || op == kMin) return Extreme(x, n, op == kMax ? 1 : -1, next);
  return Sum(x, n, next);
}

void RunReduce(const RowsPlan& p) {
  const int64_t chunk = 1 << 16;
  if (p.rows == 1 && p.n > 2 * chunk) {
    // One long row: partial results per chunk, combined in order.
    const int64_t parts = (p.n + chunk - 1) / chunk;
    std::vector<double> part(parts);
    const float* x = p.x + p.xOff[0];
    ForRows(parts, p.n, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; c++) part[c] = Reduce1(p.op, x + c * chunk, std::min(chunk, p.n - c * chunk));
    });
    double v = part[0];
    for (int64_t c = 1; c < parts; c++) {
      if (p.op == kSum || p.op == kMean) v += part[c];
      else if (v == v) v = (part[c] != part[c]) ? part[c] : (p.op == kMax ? std::max(v, part[c]) : std::min(v, part[c]));
    }
    p.y[0] = static_cast<float>(p.op == kMean ? v / p.n : v);
    return;
  }
  ForRows(p.rows, p.rows * p.n, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const double v = Reduce1(p.op, p.x + p.xOff[r], p.n, NextRow(p, r));
      p.y[r] = static_cast<float>(p.op == kMean ? v / p.n : v);
    }
  });
}

// out = x * cos + rotate_half(x) * sin per row of d, in double (the twin's rotateHalf).
void RunRotary(const RowsPlan& p) {
  const int64_t d = p.n, h = d / 2;
  ForRows(p.rows, p.rows * p.n, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* x = p.x + p.xOff[r];
      const float* c = p.cos + p.cOff[r];
      const float* s = p.sin + p.sOff[r];
      float* y = p.y + r * d;
      for (int64_t j = 0; j < h; j++) {
        const double x1 = x[j], x2 = x[j + h];
        y[j] = static_cast<float>(x1 * c[j] + (-x2) * s[j]);
        y[j + h] = static_cast<float>(x2 * c[j + h] + x1 * s[j + h]);
      }
    }
  });
}

}  // namespace

void RunRows(const RowsPlan& p) {
  if (p.kind == kRowOp) RunRowOps(p);
  else if (p.kind == kReduce) RunReduce(p);
  else RunRotary(p);
}

}  // namespace xpu::compute
