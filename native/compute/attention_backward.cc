// The native attention backward for the CPU: dense SDPA (mask operand, top-left causal, GQA) on
// contiguous float32 arrays, the twin of src/backends/cpu/attention_backward_host.ts (which also
// runs flex problems). FlashAttention-2's backward (Dao, 2023) in two sweeps that each own their
// outputs, so no thread needs atomics and no [L, S] matrix exists:
//   A. per (batch, head, block of QT query rows): each row's logsumexp (an online max / sum over
//      the keys), delta = dOut . out, then dq = scale * sum_j ds_ij k_j with p = exp(s - lse),
//      ds = p (dOut_i . v_j - delta_i); the keys are the outer loop, so a K / V row is read once
//      per block;
//   B. per (batch, KV head, block of KT key rows): dv_j = sum_i p_ij dOut_i and
//      dk_j = scale * sum_i ds_ij q_i over every query row of every head of the GQA group.
// Masked pairs (score <= -3e38) contribute nothing, a fully masked row has no pair left, and a
// NaN score makes its row's lse NaN, so its dq row and the dk / dv rows of the keys it attends
// are NaN (what the composed softmax backward gives). Accumulation in float32; the dot products
// vectorise through `omp simd`. The whole call is one job on the compute queue.
#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "half.h"
#include "queue.h"

namespace xpu::compute {
namespace {

constexpr float kMasked = -3.0e38f;
constexpr int QT = 16;
constexpr int KT = 16;

struct BPlan {
  int64_t B, H, Hkv, L, S, E, Ev;
  float scale;
  bool causal;
  const float *q, *k, *v, *out, *dOut;
  float *dq, *dk, *dv;
  std::vector<float> lse, delta;  // per query row, from sweep A
  int maskKind = -1;              // 0 f32 additive, 1 f16 additive, 2 bool (uint8, 0 = masked), -1 none
  const void* mask = nullptr;
  int64_t mOff = 0, ms[4] = {0, 0, 0, 0};
};

inline float Dot(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t d = 0; d < n; d++) s += a[d] * b[d];
  return s;
}

inline void Axpy(float* y, float a, const float* x, int64_t n) {
#pragma omp simd
  for (int64_t d = 0; d < n; d++) y[d] += a * x[d];
}

// The pair's score after the mask and the causal rule, from q.k.
inline float Score(const BPlan& p, float dot, int64_t b, int64_t h, int64_t i, int64_t j) {
  if (p.causal && j > i) return kMasked;
  float s = dot * p.scale;
  if (p.maskKind < 0) return s;
  const int64_t x = p.mOff + b * p.ms[0] + h * p.ms[1] + i * p.ms[2] + j * p.ms[3];
  if (p.maskKind == 2) return static_cast<const uint8_t*>(p.mask)[x] ? s : kMasked;
  return s + (p.maskKind == 0 ? static_cast<const float*>(p.mask)[x] : HalfToFloat(static_cast<const uint16_t*>(p.mask)[x]));
}

void RowTask(BPlan& p, int64_t b, int64_t h, int64_t i0, std::vector<float>& acc) {
  const int64_t E = p.E, Ev = p.Ev, S = p.S, L = p.L;
  const int64_t hk = h / (p.H / p.Hkv);
  const float* kh = p.k + (b * p.Hkv + hk) * S * E;
  const float* vh = p.v + (b * p.Hkv + hk) * S * Ev;
  const int rows = static_cast<int>(std::min<int64_t>(QT, L - i0));
  const int64_t row0 = (b * p.H + h) * L + i0;
  const int64_t kEnd = p.causal ? std::min<int64_t>(S, i0 + rows) : S;
  float m[QT], l[QT];
  bool nan[QT];
  for (int r = 0; r < rows; r++) { m[r] = kMasked; l[r] = 0.0f; nan[r] = false; }
  for (int64_t j = 0; j < kEnd; j++) {
    for (int r = 0; r < rows; r++) {
      const float s = Score(p, Dot(p.q + (row0 + r) * E, kh + j * E, E), b, h, i0 + r, j);
      if (std::isnan(s)) nan[r] = true;
      else if (s > kMasked) {
        if (s > m[r]) { l[r] = l[r] * std::exp(m[r] - s) + 1.0f; m[r] = s; }
        else l[r] += std::exp(s - m[r]);
      }
    }
  }
  float lse[QT], delta[QT];
  for (int r = 0; r < rows; r++) {
    lse[r] = nan[r] ? std::numeric_limits<float>::quiet_NaN() : l[r] > 0 ? m[r] + std::log(l[r]) : std::numeric_limits<float>::infinity();
    delta[r] = Dot(p.dOut + (row0 + r) * Ev, p.out + (row0 + r) * Ev, Ev);
    p.lse[row0 + r] = lse[r];
    p.delta[row0 + r] = delta[r];
  }
  std::fill(acc.begin(), acc.begin() + rows * E, 0.0f);
  for (int64_t j = 0; j < kEnd; j++) {
    const float* kr = kh + j * E;
    const float* vr = vh + j * Ev;
    for (int r = 0; r < rows; r++) {
      const float s = Score(p, Dot(p.q + (row0 + r) * E, kr, E), b, h, i0 + r, j);
      if (s <= kMasked) continue;
      const float pj = std::exp(s - lse[r]);
      const float ds = pj * (Dot(p.dOut + (row0 + r) * Ev, vr, Ev) - delta[r]);
      Axpy(acc.data() + r * E, ds, kr, E);
    }
  }
  for (int r = 0; r < rows; r++) {
    float* o = p.dq + (row0 + r) * E;
    for (int64_t d = 0; d < E; d++) o[d] = acc[r * E + d] * p.scale;
  }
}

void KeyTask(BPlan& p, int64_t b, int64_t hk, int64_t j0, std::vector<float>& acc) {
  const int64_t E = p.E, Ev = p.Ev, S = p.S, L = p.L;
  const int64_t group = p.H / p.Hkv;
  const int cols = static_cast<int>(std::min<int64_t>(KT, S - j0));
  const int64_t key0 = (b * p.Hkv + hk) * S + j0;
  float* dk = acc.data();
  float* dv = acc.data() + KT * E;
  std::fill(acc.begin(), acc.end(), 0.0f);
  for (int64_t h = hk * group; h < (hk + 1) * group; h++) {
    const int64_t rowH = (b * p.H + h) * L;
    for (int64_t i = p.causal ? j0 : 0; i < L; i++) {
      const float* qr = p.q + (rowH + i) * E;
      const float* dor = p.dOut + (rowH + i) * Ev;
      const float lse = p.lse[rowH + i], delta = p.delta[rowH + i];
      for (int c = 0; c < cols; c++) {
        const float s = Score(p, Dot(qr, p.k + (key0 + c) * E, E), b, h, i, j0 + c);
        if (s <= kMasked) continue;
        const float pj = std::exp(s - lse);
        Axpy(dv + c * Ev, pj, dor, Ev);
        const float ds = pj * (Dot(dor, p.v + (key0 + c) * Ev, Ev) - delta);
        Axpy(dk + c * E, ds, qr, E);
      }
    }
  }
  for (int c = 0; c < cols; c++) {
    float* ko = p.dk + (key0 + c) * E;
    for (int64_t d = 0; d < E; d++) ko[d] = dk[c * E + d] * p.scale;
    float* vo = p.dv + (key0 + c) * Ev;
    for (int64_t d = 0; d < Ev; d++) vo[d] = dv[c * Ev + d];
  }
}

std::string Run(BPlan& p) {
  const int64_t qBlocks = (p.L + QT - 1) / QT, kBlocks = (p.S + KT - 1) / KT;
  const int64_t rowTasks = p.B * p.H * qBlocks, keyTasks = p.B * p.Hkv * kBlocks;
#pragma omp parallel
  {
    std::vector<float> acc(std::max(QT * p.E, KT * (p.E + p.Ev)));
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < rowTasks; t++) {
      const int64_t qb = qBlocks - 1 - t % qBlocks, bh = t / qBlocks;  // causal: longest rows first
      RowTask(p, bh / p.H, bh % p.H, qb * QT, acc);
    }
    // The implicit barrier of `omp for`: every lse / delta is written before sweep B reads it.
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < keyTasks; t++) {
      const int64_t kb = t % kBlocks, bk = t / kBlocks;  // causal: the first keys have the most rows
      KeyTask(p, bk / p.Hkv, bk % p.Hkv, kb * KT, acc);
    }
  }
  return "";
}

int64_t Int(Napi::Object o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("attentionBackward: ") + name + " must be a number");
  return static_cast<int64_t>(v.As<Napi::Number>().DoubleValue());
}

// A Float32Array of at least n elements.
float* F32(Napi::Object o, const char* name, int64_t n) {
  Napi::Value x = o.Get(name);
  if (!x.IsTypedArray() || x.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) throw Napi::TypeError::New(o.Env(), std::string("attentionBackward: ") + name + " must be a Float32Array");
  Napi::Float32Array t = x.As<Napi::Float32Array>();
  if (static_cast<int64_t>(t.ElementLength()) < n) throw Napi::RangeError::New(o.Env(), std::string("attentionBackward: ") + name + " is too small");
  return t.Data();
}

Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "attentionBackward: expects a descriptor object");
  Napi::Object d = info[0].As<Napi::Object>();
  auto p = std::make_shared<BPlan>();
  p->B = Int(d, "batch"); p->H = Int(d, "heads"); p->Hkv = Int(d, "kvHeads");
  p->L = Int(d, "l"); p->S = Int(d, "s"); p->E = Int(d, "e"); p->Ev = Int(d, "ev");
  if (p->B < 1 || p->H < 1 || p->Hkv < 1 || p->L < 1 || p->S < 1 || p->E < 1 || p->Ev < 1 || p->H % p->Hkv != 0) throw Napi::RangeError::New(env, "attentionBackward: bad sizes");
  p->scale = static_cast<float>(d.Get("scale").As<Napi::Number>().DoubleValue());
  p->causal = d.Get("causal").ToBoolean().Value();
  const int64_t nq = p->B * p->H * p->L, nk = p->B * p->Hkv * p->S;
  p->q = F32(d, "q", nq * p->E); p->k = F32(d, "k", nk * p->E); p->v = F32(d, "v", nk * p->Ev);
  p->out = F32(d, "out", nq * p->Ev); p->dOut = F32(d, "dOut", nq * p->Ev);
  p->dq = F32(d, "dq", nq * p->E); p->dk = F32(d, "dk", nk * p->E); p->dv = F32(d, "dv", nk * p->Ev);
  Napi::Value mv = d.Get("mask");
  if (mv.IsObject()) {
    Napi::Object m = mv.As<Napi::Object>();
    Napi::Value data = m.Get("data");
    if (!data.IsTypedArray()) throw Napi::TypeError::New(env, "attentionBackward: mask.data must be a typed array");
    Napi::TypedArray t = data.As<Napi::TypedArray>();
    const bool isBool = m.Get("bool").ToBoolean().Value();
    int64_t item;
    if (isBool && t.TypedArrayType() == napi_uint8_array) { p->maskKind = 2; item = 1; }
    else if (!isBool && t.TypedArrayType() == napi_float32_array) { p->maskKind = 0; item = 4; }
    else if (!isBool && t.TypedArrayType() == napi_uint16_array) { p->maskKind = 1; item = 2; }
    else throw Napi::TypeError::New(env, "attentionBackward: a mask must be Uint8Array (bool), Float32Array or Uint16Array (f16)");
    p->mask = static_cast<const char*>(t.ArrayBuffer().Data()) + t.ByteOffset();
    p->mOff = Int(m, "offset");
    Napi::Array st = m.Get("strides").As<Napi::Array>();
    if (st.Length() != 4) throw Napi::RangeError::New(env, "attentionBackward: mask strides must have 4 entries");
    for (uint32_t i = 0; i < 4; i++) p->ms[i] = static_cast<int64_t>(st.Get(i).As<Napi::Number>().DoubleValue());
    const int64_t dims[4] = {p->B, p->H, p->L, p->S};
    int64_t lo = p->mOff, hi = p->mOff;
    for (int i = 0; i < 4; i++) { const int64_t e = (dims[i] - 1) * p->ms[i]; if (e < 0) lo += e; else hi += e; }
    if (lo < 0 || hi >= static_cast<int64_t>(t.ByteLength()) / item) throw Napi::RangeError::New(env, "attentionBackward: mask addresses elements outside its array");
  }
  p->lse.resize(nq);
  p->delta.resize(nq);
  // The JS side keeps every array alive until it has waited for this job (native_attention_backward.ts).
  uint64_t id = Submit(env, [p](uint64_t) -> std::string {
    try {
      return Run(*p);
    } catch (const std::bad_alloc&) {
      return "out of memory in the native attention backward";
    }
  });
  return Napi::Number::New(env, static_cast<double>(id));
}

}  // namespace

void ExportAttentionBackward(Napi::Env env, Napi::Object target) {
  target.Set("attentionBackward", Napi::Function::New(env, AttentionBackward, "attentionBackward"));
}

}  // namespace xpu::compute
