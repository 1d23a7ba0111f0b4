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
// whose partial results are combined.
// GCC 12 flags the AVX-512 reduction intrinsics in its own headers (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "queue.h"
#include "vexp.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace xpu::compute {
namespace {

// Shared with src/backends/cpu/native_rows.ts.
enum RowOp : int { kSoftmax = 0, kLogSoftmax = 1, kLayerNorm = 2, kRmsNorm = 3 };
enum ReduceOp : int { kSum = 0, kMean = 1, kMax = 2, kMin = 3 };

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- row primitives (double accumulation) ----

double Sum(const float* x, int64_t n) {
  int64_t i = 0;
  double s = 0;
#if defined(__AVX512F__)
  __m512d a0 = _mm512_setzero_pd(), a1 = a0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm256_loadu_ps(x + i)));
    a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8)));
  }
  s = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
#endif
  for (; i < n; i++) s += x[i];
  return s;
}

// Sum of (x - mean)^2 in double.
double SumSq(const float* x, int64_t n, double mean) {
  int64_t i = 0;
  double s = 0;
#if defined(__AVX512F__)
  const __m512d m = _mm512_set1_pd(mean);
  __m512d a0 = _mm512_setzero_pd();
  for (; i + 8 <= n; i += 8) {
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
double Extreme(const float* x, int64_t n, int sign) {
  bool nan = false;
  float best = x[0];
  int64_t i = 0;
#if defined(__AVX512F__)
  // VMAXPS / VMINPS ignore which operand is NaN; NaN is tracked by its own unordered compare.
  __m512 m = _mm512_set1_ps(best);
  __mmask16 unordered = 0;
  for (; i + 16 <= n; i += 16) {
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
void RowOp1(int op, const float* x, int64_t n, double eps, const float* w, const float* b, float* y, std::vector<double>& scratch) {
  if (op == kSoftmax || op == kLogSoftmax) {
    double mx = Extreme(x, n, 1);  // NaN if the row has one: every output is NaN, as Math.max gives
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
  const double mean = op == kLayerNorm ? Sum(x, n) / n : 0.0;
  const double inv = 1.0 / std::sqrt(SumSq(x, n, mean) / n + eps);
  for (int64_t i = 0; i < n; i++) {
    double v = (x[i] - mean) * inv;
    if (w) v *= w[i];
    if (b) v += b[i];
    y[i] = static_cast<float>(v);
  }
}

// ---- plans ----

std::vector<int64_t> Offsets(const Napi::Value& v, int64_t count, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(v.Env(), std::string("rows: ") + what + " must be a Float64Array of row offsets");
  }
  Napi::Float64Array a = v.As<Napi::Float64Array>();
  if (static_cast<int64_t>(a.ElementLength()) < count) throw Napi::RangeError::New(v.Env(), std::string("rows: ") + what + " is too short");
  std::vector<int64_t> out(count);
  const double* d = a.Data();
  for (int64_t i = 0; i < count; i++) out[i] = static_cast<int64_t>(d[i]);
  return out;
}

const float* F32(const Napi::Value& v, const char* what, size_t* len) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(v.Env(), std::string("rows: ") + what + " must be a Float32Array");
  }
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  *len = a.ElementLength();
  return a.Data();
}

int64_t Int(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string("rows: ") + what + " must be a number");
  return static_cast<int64_t>(v.As<Napi::Number>().DoubleValue());
}

// Every row [off, off + n) inside an array of len elements.
void CheckRows(Napi::Env env, const std::vector<int64_t>& offs, int64_t n, size_t len, const char* what) {
  for (int64_t o : offs) {
    if (o < 0 || o + n > static_cast<int64_t>(len)) throw Napi::RangeError::New(env, std::string("rows: ") + what + " has a row outside its array");
  }
}

struct RowsPlan {
  int kind;  // 0 row op, 1 reduce, 2 rotary
  int op;
  int64_t rows, n;
  const float* x;
  std::vector<int64_t> xOff, yOff, cOff, sOff;
  float* y;
  const float *w = nullptr, *b = nullptr, *cos = nullptr, *sin = nullptr;
  double eps = 0;
};

void RunRowOps(const RowsPlan& p) {
#pragma omp parallel if (p.rows * p.n >= kParallelMin)
  {
    std::vector<double> scratch;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < p.rows; r++) RowOp1(p.op, p.x + p.xOff[r], p.n, p.eps, p.w, p.b, p.y + p.yOff[r], scratch);
  }
}

double Reduce1(int op, const float* x, int64_t n) {
  if (op == kMax || op == kMin) return Extreme(x, n, op == kMax ? 1 : -1);
  return Sum(x, n);
}

void RunReduce(const RowsPlan& p) {
  const int64_t chunk = 1 << 16;
  if (p.rows == 1 && p.n > 2 * chunk) {
    // One long row: partial results per chunk, combined in order.
    const int64_t parts = (p.n + chunk - 1) / chunk;
    std::vector<double> part(parts);
    const float* x = p.x + p.xOff[0];
#pragma omp parallel for schedule(static) if (p.n >= kParallelMin)
    for (int64_t c = 0; c < parts; c++) part[c] = Reduce1(p.op, x + c * chunk, std::min(chunk, p.n - c * chunk));
    double v = part[0];
    for (int64_t c = 1; c < parts; c++) {
      if (p.op == kSum || p.op == kMean) v += part[c];
      else if (v == v) v = (part[c] != part[c]) ? part[c] : (p.op == kMax ? std::max(v, part[c]) : std::min(v, part[c]));
    }
    p.y[0] = static_cast<float>(p.op == kMean ? v / p.n : v);
    return;
  }
#pragma omp parallel for schedule(static) if (p.rows * p.n >= kParallelMin)
  for (int64_t r = 0; r < p.rows; r++) {
    const double v = Reduce1(p.op, p.x + p.xOff[r], p.n);
    p.y[r] = static_cast<float>(p.op == kMean ? v / p.n : v);
  }
}

// out = x * cos + rotate_half(x) * sin per row of d, in double (the twin's rotateHalf).
void RunRotary(const RowsPlan& p) {
  const int64_t d = p.n, h = d / 2;
#pragma omp parallel for schedule(static) if (p.rows * p.n >= kParallelMin)
  for (int64_t r = 0; r < p.rows; r++) {
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
}

void RunPlan(const RowsPlan& p) {
  if (p.kind == 0) RunRowOps(p);
  else if (p.kind == 1) RunReduce(p);
  else RunRotary(p);
}

// rowOp(op, rows, n, out, outOffsets, x, xOffsets, weight|null, bias|null, eps)
// reduceRows(op, rows, n, out, x, xOffsets)
// rotary(rows, d, out, x, xOffsets, cos, cosOffsets, sin, sinOffsets)
std::shared_ptr<RowsPlan> Plan(const Napi::CallbackInfo& info, int kind) {
  Napi::Env env = info.Env();
  auto p = std::make_shared<RowsPlan>();
  p->kind = kind;
  int a = 0;
  p->op = kind == 2 ? 0 : static_cast<int>(Int(info[a++], "op"));
  if (kind == 0 && (p->op < kSoftmax || p->op > kRmsNorm)) throw Napi::RangeError::New(env, "rows: unknown row op");
  if (kind == 1 && (p->op < kSum || p->op > kMin)) throw Napi::RangeError::New(env, "rows: unknown reduction");
  p->rows = Int(info[a++], "rows");
  p->n = Int(info[a++], "n");
  if (p->rows < 1 || p->n < 1 || (kind == 2 && p->n % 2)) throw Napi::RangeError::New(env, "rows: bad sizes");
  size_t yLen, xLen;
  p->y = const_cast<float*>(F32(info[a++], "out", &yLen));
  if (kind == 0) {
    p->yOff = Offsets(info[a++], p->rows, "out offsets");
    CheckRows(env, p->yOff, p->n, yLen, "out");
  } else if (static_cast<int64_t>(yLen) < p->rows * (kind == 1 ? 1 : p->n)) {
    throw Napi::RangeError::New(env, "rows: out is too small");
  }
  p->x = F32(info[a++], "x", &xLen);
  p->xOff = Offsets(info[a++], p->rows, "x offsets");
  CheckRows(env, p->xOff, p->n, xLen, "x");
  if (kind == 0) {
    size_t len;
    if (!info[a].IsNull() && !info[a].IsUndefined()) {
      p->w = F32(info[a], "weight", &len);
      if (static_cast<int64_t>(len) < p->n) throw Napi::RangeError::New(env, "rows: weight is too short");
    }
    a++;
    if (!info[a].IsNull() && !info[a].IsUndefined()) {
      p->b = F32(info[a], "bias", &len);
      if (static_cast<int64_t>(len) < p->n) throw Napi::RangeError::New(env, "rows: bias is too short");
    }
    a++;
    p->eps = info[a++].As<Napi::Number>().DoubleValue();
  }
  if (kind == 2) {
    size_t len;
    p->cos = F32(info[a++], "cos", &len);
    p->cOff = Offsets(info[a++], p->rows, "cos offsets");
    CheckRows(env, p->cOff, p->n, len, "cos");
    p->sin = F32(info[a++], "sin", &len);
    p->sOff = Offsets(info[a++], p->rows, "sin offsets");
    CheckRows(env, p->sOff, p->n, len, "sin");
  }
  return p;
}

template <int Kind>
Napi::Value Queued(const Napi::CallbackInfo& info) {
  std::shared_ptr<RowsPlan> p = Plan(info, Kind);
  uint64_t id = Submit(info.Env(), [p](uint64_t) -> std::string {
    try {
      RunPlan(*p);
    } catch (const std::bad_alloc&) {
      return "out of memory in a native row kernel";
    }
    return "";
  });
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

template <int Kind>
Napi::Value Now(const Napi::CallbackInfo& info) {
  std::shared_ptr<RowsPlan> p = Plan(info, Kind);
  SingleThreadedHere one;
  RunPlan(*p);
  return info.Env().Undefined();
}

}  // namespace

void ExportRows(Napi::Env env, Napi::Object target) {
  target.Set("rowOp", Napi::Function::New(env, Queued<0>, "rowOp"));
  target.Set("rowOpNow", Napi::Function::New(env, Now<0>, "rowOpNow"));
  target.Set("reduceRows", Napi::Function::New(env, Queued<1>, "reduceRows"));
  target.Set("reduceRowsNow", Napi::Function::New(env, Now<1>, "reduceRowsNow"));
  target.Set("rotary", Napi::Function::New(env, Queued<2>, "rotary"));
  target.Set("rotaryNow", Napi::Function::New(env, Now<2>, "rotaryNow"));
}

}  // namespace xpu::compute
