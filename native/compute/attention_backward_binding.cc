// The JS face of the native attention backward (attention_backward.h): compute.attentionBackward
// (desc) queues it and returns the job id (src/backends/cpu/native_attention_backward.ts). The
// descriptor: { batch, heads, kvHeads, l, s, e, ev, scale, causal, q, k, v, out, dOut, dq, dk, dv
// (dense Float32Arrays), mask?: { data, bool, offset, strides: [4] } }.
#include <memory>
#include <string>

#include "attention_backward.h"
#include "kernels.h"
#include "napi_args.h"
#include "queue.h"

namespace xpu::compute {
namespace {

constexpr const char* kOp = "attentionBackward";

// desc[name] as a Float32Array of at least n floats.
float* F32Field(const Napi::Object& d, const char* name, int64_t n) {
  return reinterpret_cast<float*>(TypedField(d, kOp, name, kF32, n).data);
}

std::shared_ptr<AttentionBackwardPlan> Plan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object d = DescriptorArg(info, kOp);
  auto p = std::make_shared<AttentionBackwardPlan>();
  p->B = IntField(d, kOp, "batch"); p->H = IntField(d, kOp, "heads"); p->Hkv = IntField(d, kOp, "kvHeads");
  p->L = IntField(d, kOp, "l"); p->S = IntField(d, kOp, "s"); p->E = IntField(d, kOp, "e"); p->Ev = IntField(d, kOp, "ev");
  if (p->B < 1 || p->H < 1 || p->Hkv < 1 || p->L < 1 || p->S < 1 || p->E < 1 || p->Ev < 1 || p->H % p->Hkv != 0) throw Napi::RangeError::New(env, "attentionBackward: bad sizes");
  p->scale = static_cast<float>(d.Get("scale").As<Napi::Number>().DoubleValue());
  p->causal = d.Get("causal").ToBoolean().Value();
  const int64_t nq = p->B * p->H * p->L, nk = p->B * p->Hkv * p->S;
  p->q = F32Field(d, "q", nq * p->E);
  p->k = F32Field(d, "k", nk * p->E);
  p->v = F32Field(d, "v", nk * p->Ev);
  p->out = F32Field(d, "out", nq * p->Ev);
  p->dOut = F32Field(d, "dOut", nq * p->Ev);
  p->dq = F32Field(d, "dq", nq * p->E);
  p->dk = F32Field(d, "dk", nk * p->E);
  p->dv = F32Field(d, "dv", nk * p->Ev);
  const AttentionMaskArg mask = AttentionMaskField(d, kOp, {p->B, p->H, p->L, p->S});
  p->mask = mask.data;
  p->maskKind = mask.kind;
  p->mOff = mask.offset;
  for (int i = 0; i < 4; i++) p->ms[i] = mask.strides[i];
  return p;
}

Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  std::shared_ptr<AttentionBackwardPlan> p = Plan(info);
  // The JS side keeps every array alive until it has waited for this job (native_attention_backward.ts).
  uint64_t id = Submit(info.Env(), [p](uint64_t) -> std::string {
    try {
      return RunAttentionBackward(*p);
    } catch (const std::bad_alloc&) {
      return "out of memory in the native attention backward";
    }
  });
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

}  // namespace

void ExportAttentionBackward(Napi::Env env, Napi::Object target) {
  target.Set("attentionBackward", Napi::Function::New(env, AttentionBackward, "attentionBackward"));
}

}  // namespace xpu::compute
