// The fused optimizer step on cpu (src/backends/cpu/optim.ts): one call per parameter group walks
// every parameter of the group and updates it and its optimizer state in place. The arithmetic is
// src/backends/cpu/optim.ts's optimStepTwin, torch 1.13's single-tensor SGD / Adam / AdamW op
// by op in float32 (each op rounded to float32, no fused multiply-adds: the intrinsics below are
// separate multiplies and adds, and the scalar tail is compiled without contraction), so it
// matches the TypeScript twin bit for bit. 16 lanes at a time with AVX-512 where the addon is
// built for it, scalar otherwise. Runs on the JS thread (the step is memory-bound and small next
// to the GEMMs around it) with OpenMP held to one thread (queue.h's SingleThreadedHere).
#pragma GCC optimize("fp-contract=off")
#include "kernels.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "queue.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace xpu::compute {
namespace {

// Shared with src/backends/cpu/optim.ts.
enum Rule : int { kSgd = 0, kAdam = 1, kAdamW = 2 };

struct Hyper {
  int rule;
  bool amsgrad, nesterov, maximize;
  float lr, wd, mom, damp1, b1, omb1, b2, omb2, eps, decay;
};

struct Segment {
  float* p;
  const float* g;
  float *s0, *s1, *s2;
  int64_t n;
  float stepSize, bc2Sqrt;
  bool first;
};

// One element: optimStepTwin's loop body, transcribed.
inline void Step1(const Hyper& h, const Segment& s, int64_t i) {
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
inline void Step16(const Hyper& h, const Segment& s, int64_t i) {
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

void RunSegment(const Hyper& h, const Segment& s) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= s.n; i += 16) Step16(h, s, i);
#endif
  for (; i < s.n; i++) Step1(h, s, i);
}

float* F32Of(const Napi::Value& v, const char* what, size_t* len) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(v.Env(), std::string("optimStep: ") + what + " must be a Float32Array");
  }
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  *len = a.ElementLength();
  return a.Data();
}

// optimStepNow(flags Int32Array [rule, amsgrad, nesterov, maximize],
//              scalars Float64Array [lr, wd, mom, 1 - dampening, b1, 1 - b1, b2, 1 - b2, eps, 1 - lr wd],
//              segScalars Float64Array [stepSize, bc2Sqrt, first] per segment,
//              params Float32Array[], grads Float32Array[], state0[] | null, state1[] | null, state2[] | null)
Napi::Value OptimStepNow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 8 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray() || !info[3].IsArray() || !info[4].IsArray()) {
    throw Napi::TypeError::New(env, "optimStep: (flags, scalars, segScalars, params, grads, state0, state1, state2)");
  }
  Napi::Int32Array flags = info[0].As<Napi::Int32Array>();
  Napi::Float64Array sc = info[1].As<Napi::Float64Array>();
  Napi::Float64Array seg = info[2].As<Napi::Float64Array>();
  Napi::Array params = info[3].As<Napi::Array>();
  Napi::Array grads = info[4].As<Napi::Array>();
  if (flags.ElementLength() < 4 || sc.ElementLength() < 10) throw Napi::RangeError::New(env, "optimStep: flags or scalars too short");
  Hyper h{};
  h.rule = flags[0];
  if (h.rule < kSgd || h.rule > kAdamW) throw Napi::RangeError::New(env, "optimStep: unknown rule");
  h.amsgrad = flags[1] != 0;
  h.nesterov = flags[2] != 0;
  h.maximize = flags[3] != 0;
  float* hv[] = {&h.lr, &h.wd, &h.mom, &h.damp1, &h.b1, &h.omb1, &h.b2, &h.omb2, &h.eps, &h.decay};
  for (int k = 0; k < 10; k++) *hv[k] = static_cast<float>(sc[k]);
  const uint32_t nseg = params.Length();
  if (grads.Length() != nseg || seg.ElementLength() < 3 * static_cast<size_t>(nseg)) throw Napi::RangeError::New(env, "optimStep: segment lists differ in length");
  // Which state lists this rule reads.
  const int nstate = h.rule == kSgd ? (h.mom != 0 ? 1 : 0) : (h.amsgrad ? 3 : 2);
  Napi::Array state[3];
  for (int k = 0; k < nstate; k++) {
    if (!info[5 + k].IsArray() || info[5 + k].As<Napi::Array>().Length() != nseg) throw Napi::TypeError::New(env, "optimStep: a state list is missing or has the wrong length");
    state[k] = info[5 + k].As<Napi::Array>();
  }
  std::vector<Segment> segs(nseg);
  for (uint32_t i = 0; i < nseg; i++) {
    Segment& s = segs[i];
    size_t n, len;
    s.p = F32Of(params.Get(i), "param", &n);
    s.g = F32Of(grads.Get(i), "grad", &len);
    if (len != n) throw Napi::RangeError::New(env, "optimStep: a gradient's length differs from its parameter's");
    float** sp[] = {&s.s0, &s.s1, &s.s2};
    for (int k = 0; k < 3; k++) *sp[k] = nullptr;
    for (int k = 0; k < nstate; k++) {
      *sp[k] = F32Of(state[k].Get(i), "state", &len);
      if (len != n) throw Napi::RangeError::New(env, "optimStep: a state range's length differs from its parameter's");
    }
    s.n = static_cast<int64_t>(n);
    s.stepSize = static_cast<float>(seg[3 * i]);
    s.bc2Sqrt = static_cast<float>(seg[3 * i + 1]);
    s.first = seg[3 * i + 2] != 0;
  }
  SingleThreadedHere one;
  for (const Segment& s : segs) RunSegment(h, s);
  return env.Undefined();
}

}  // namespace

void ExportOptim(Napi::Env env, Napi::Object target) {
  target.Set("optimStepNow", Napi::Function::New(env, OptimStepNow, "optimStepNow"));
}

}  // namespace xpu::compute
