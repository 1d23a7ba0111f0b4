// Elementwise maps on the compute queue (src/backends/cpu/native_map.ts): unary and binary ops
// and the float32 <-> float16 casts over `rows` rows of `inner` elements, each operand either an
// array (float32, or float16 bits) read at off + r * rowStride + j * innerStride (innerStride 1:
// contiguous, 0: broadcast along the row) or a JS number; the output (float32 or float16) is
// contiguous. That covers same-shape contiguous tensors, scalars, and row and column broadcasts;
// everything else stays in TypeScript (map_fast.ts). float16 runs are converted to float32
// scratch (F16C) and back, round to nearest even.
//
// Semantics are the TypeScript twins' (src/ops/elementwise_table.ts), which compute in float64
// and round once to float32: add, sub, mul, div, sqrt of float32 values are exact in float64, so
// float arithmetic rounds to the same float32; maximum/minimum let NaN win and keep a (so
// maximum(-0, 0) is -0); relu keeps NaN and -0; exp, sigmoid and silu compute in double
// (vexp.h). From kParallelMin elements (vexp.h) the work is split over the OpenMP threads in
// chunks; the inline entry (ewNow) runs on the calling thread only (queue.h SingleThreadedHere).
// The JS face is elementwise_binding.cc.
// GCC 12 flags the AVX-512 reduction intrinsics in its own headers (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "half.h"
#include "vexp.h"

namespace xpu::compute {
namespace {

using namespace ew_ops;
using Operand = EwOperand;

// ---- binary ----

struct AddF { static float F(float a, float b) { return a + b; } };
struct SubF { static float F(float a, float b) { return a - b; } };
struct MulF { static float F(float a, float b) { return a * b; } };
struct DivF { static float F(float a, float b) { return a / b; } };
// NaN wins; otherwise a unless b is strictly larger (smaller): torch.maximum / minimum.
struct MaxF { static float F(float a, float b) { float r = a < b ? b : a; r = b != b ? b : r; return a != a ? a : r; } };
struct MinF { static float F(float a, float b) { float r = b < a ? b : a; r = b != b ? b : r; return a != a ? a : r; } };

// One run of n outputs; `va` / `vb`: the operand is a vector along the run (else the scalar).
template <class F>
void Binary(float* o, const float* a, float sa, bool va, const float* b, float sb, bool vb, int64_t n) {
  if (va && vb) for (int64_t i = 0; i < n; i++) o[i] = F::F(a[i], b[i]);
  else if (va) for (int64_t i = 0; i < n; i++) o[i] = F::F(a[i], sb);
  else if (vb) for (int64_t i = 0; i < n; i++) o[i] = F::F(sa, b[i]);
  else std::fill(o, o + n, F::F(sa, sb));
}

// ---- unary ----

struct CopyF { static float F(float x) { return x; } };
struct NegF { static float F(float x) { return -x; } };
struct AbsF { static float F(float x) { return std::fabs(x); } };
struct ReluF { static float F(float x) { return x < 0 ? 0.0f : x; } };
struct SqrtF { static float F(float x) { return std::sqrt(x); } };
// gelu(x) = x Phi(x) = x erfc(-x / sqrt 2) / 2 in double, as the twin (src/backends/scalar_math.ts)
// computes it (erfc keeps the negative tail's precision); gelu(-inf) = -inf * 0 = NaN, as torch.
struct GeluF {
  static float F(float x) {
    const double d = x;
    return static_cast<float>(d * 0.5 * std::erfc(-d * 0.7071067811865476));
  }
};

template <class F>
void Unary(float* o, const float* a, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = F::F(a[i]);
}

// e^x, 1 / (1 + e^-x) and x / (1 + e^-x) in double (the twins' arithmetic), rounded to float32.
template <int Op>
inline double Transcendental(double x, double e) {
  if (Op == kExp) return e;
  if (Op == kSigmoid) return 1.0 / (1.0 + e);
  return x * (1.0 / (1.0 + e));
}

template <int Op>
void ExpLike(float* o, const float* a, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512d one = _mm512_set1_pd(1.0);
  for (; i + 8 <= n; i += 8) {
    __m512d x = _mm512_cvtps_pd(_mm256_loadu_ps(a + i));
    __m512d y;
    if (Op == kExp) y = Exp8(x);
    else {
      __m512d s = _mm512_div_pd(one, _mm512_add_pd(one, Exp8(_mm512_sub_pd(_mm512_setzero_pd(), x))));
      y = Op == kSigmoid ? s : _mm512_mul_pd(x, s);
    }
    _mm256_storeu_ps(o + i, _mm512_cvtpd_ps(y));
  }
#endif
  for (; i < n; i++) {
    double x = a[i];
    o[i] = static_cast<float>(Transcendental<Op>(x, ExpD(Op == kExp ? x : -x)));
  }
}

void RunUnary(int op, float* o, const float* a, int64_t n) {
  switch (op) {
    case kCopy: Unary<CopyF>(o, a, n); break;
    case kNeg: Unary<NegF>(o, a, n); break;
    case kAbs: Unary<AbsF>(o, a, n); break;
    case kRelu: Unary<ReluF>(o, a, n); break;
    case kSqrt: Unary<SqrtF>(o, a, n); break;
    case kExp: ExpLike<kExp>(o, a, n); break;
    case kSigmoid: ExpLike<kSigmoid>(o, a, n); break;
    case kSilu: ExpLike<kSilu>(o, a, n); break;
    case kGelu: Unary<GeluF>(o, a, n); break;
  }
}

void RunBinary(int op, float* o, const float* a, float sa, bool va, const float* b, float sb, bool vb, int64_t n) {
  switch (op) {
    case kAdd: Binary<AddF>(o, a, sa, va, b, sb, vb, n); break;
    case kSub: Binary<SubF>(o, a, sa, va, b, sb, vb, n); break;
    case kMul: Binary<MulF>(o, a, sa, va, b, sb, vb, n); break;
    case kDiv: Binary<DivF>(o, a, sa, va, b, sb, vb, n); break;
    case kMaximum: Binary<MaxF>(o, a, sa, va, b, sb, vb, n); break;
    case kMinimum: Binary<MinF>(o, a, sa, va, b, sb, vb, n); break;
  }
}

// Elements per task: large enough that a task's start costs nothing, small enough to balance.
constexpr int64_t kChunk = 1 << 14;

// float16 <-> float32 for a run (F16C; half.h's portable loop otherwise). Round to nearest even,
// as the TypeScript store (numberToF16Bits) does; a float16 value is exact in float32, so the
// float32 math below is what the twins' float64 math rounds to (see the file header).
void HalfToFloatRun(const uint16_t* h, float* f, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(f + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i))));
#endif
  for (; i < n; i++) f[i] = HalfToFloat(h[i]);
}

void FloatToHalfRun(const float* f, uint16_t* h, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) _mm256_storeu_si256(reinterpret_cast<__m256i*>(h + i), _mm512_cvtps_ph(_mm512_loadu_ps(f + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
  for (; i < n; i++) h[i] = FloatToHalf(f[i]);
}

// Per thread: float32 copies of float16 operands' runs and of a float16 output's run.
struct Scratch {
  std::vector<float> in[2], out;
};

}  // namespace

void RunEw(const EwPlan& p) {
  const int64_t per = (p.inner + kChunk - 1) / kChunk;
  const int64_t tasks = p.rows * per;
  const bool heavy = p.op == kExp || p.op == kSigmoid || p.op == kSilu || p.op == kGelu;
#pragma omp parallel if (p.rows * p.inner >= (heavy ? kParallelMinHeavy : kParallelMin))
  {
    Scratch w;
#pragma omp for schedule(dynamic, 4)
    for (int64_t t = 0; t < tasks; t++) {
      const int64_t r = t / per, j0 = (t % per) * kChunk, n = std::min(kChunk, p.inner - j0);
      const int64_t at = r * p.inner + j0;
      float* o = p.outHalf ? nullptr : static_cast<float*>(p.out) + at;
      if (p.outHalf) {
        if (static_cast<int64_t>(w.out.size()) < n) w.out.resize(kChunk);
        o = w.out.data();
      }
      const float* ptr[2];
      float sc[2];
      bool vec[2];
      for (int k = 0; k < 2; k++) {
        const Operand& x = p.x[k];
        vec[k] = x.data != nullptr && x.innerStride == 1;
        ptr[k] = nullptr;
        sc[k] = x.scalar;
        if (!x.data) continue;
        const int64_t base = x.off + r * x.rowStride;
        if (!x.half) {
          const float* f = static_cast<const float*>(x.data) + base;
          if (vec[k]) ptr[k] = f + j0; else sc[k] = f[0];
        } else {
          const uint16_t* h = static_cast<const uint16_t*>(x.data) + base;
          if (!vec[k]) {
            sc[k] = HalfToFloat(h[0]);
          } else {
            if (static_cast<int64_t>(w.in[k].size()) < n) w.in[k].resize(kChunk);
            HalfToFloatRun(h + j0, w.in[k].data(), n);
            ptr[k] = w.in[k].data();
          }
        }
      }
      if (IsUnary(p.op)) RunUnary(p.op, o, ptr[0], n);
      else RunBinary(p.op, o, ptr[0], sc[0], vec[0], ptr[1], sc[1], vec[1], n);
      if (p.outHalf) FloatToHalfRun(o, static_cast<uint16_t*>(p.out) + at, n);
    }
  }
}

void RunEwChain(const EwChainPlan& p) {
  constexpr int64_t kBlock = 1024;
  const int64_t blocks = (p.n + kBlock - 1) / kBlock;
  const int steps = static_cast<int>(p.steps.size());
  // A chain does several ops' work per element: worth a second thread from the heavy ops' size.
#pragma omp parallel if (p.n >= kParallelMinHeavy)
  {
    std::vector<float> regs(static_cast<size_t>(steps) * kBlock);
#pragma omp for schedule(dynamic, 16)
    for (int64_t t = 0; t < blocks; t++) {
      const int64_t j0 = t * kBlock, n = std::min(kBlock, p.n - j0);
      const auto at = [&](const EwChainArg& a) -> const float* {
        if (a.kind == EwChainArg::kInput) return p.inputs[a.index] + j0;
        return a.kind == EwChainArg::kStep ? regs.data() + a.index * kBlock : nullptr;
      };
      for (int s = 0; s < steps; s++) {
        const EwChainStep& st = p.steps[s];
        float* o = s == steps - 1 ? p.out + j0 : regs.data() + s * kBlock;
        if (IsUnary(st.op)) RunUnary(st.op, o, at(st.a), n);
        else RunBinary(st.op, o, at(st.a), st.a.scalar, st.a.kind != EwChainArg::kScalar, at(st.b), st.b.scalar, st.b.kind != EwChainArg::kScalar, n);
      }
    }
  }
}

}  // namespace xpu::compute
