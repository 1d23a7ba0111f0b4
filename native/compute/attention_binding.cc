// The JS face of the native attention forward (attention.h): compute.attention(desc) queues it and
// returns the job id, compute.attentionNow(desc) runs it on the calling thread. The descriptor is
// src/backends/cpu/native_attention.ts's: { batch, heads, kvHeads, l, s, e, ev, scale, causal,
// q, k, v (Float32Array, with optional qOffset / qStrides: [s0, s1, s2] and the like), out,
// mask?: { data, bool, offset, strides: [4] } }.
#include <memory>
#include <string>
#include <vector>

#include "attention.h"
#include "kernels.h"
#include "napi_args.h"
#include "queue.h"

namespace xpu::compute {
namespace {

constexpr const char* kOp = "attention";

// An operand of logical shape [n0, n1, n2, n3] (rows of n3 contiguous floats): the descriptor's
// `<name>` array with optional `<name>Offset` and `<name>Strides` ([s0, s1, s2], non-negative);
// without them it is contiguous. Every element it addresses must lie inside the array.
const float* View(const Napi::Object& d, const char* name, const int64_t (&dims)[4], int64_t* off, int64_t (&st)[3]) {
  Napi::Env env = d.Env();
  ArrayArg a = TypedField(d, kOp, name, kF32);
  const std::string strides = std::string(name) + "Strides", offset = std::string(name) + "Offset";
  Napi::Value sv = d.Get(strides);
  if (sv.IsArray()) {
    std::vector<int64_t> s = IntsArg(sv, kOp, strides.c_str(), 3);
    for (int i = 0; i < 3; i++) {
      st[i] = s[i];
      if (st[i] < 0) throw Napi::RangeError::New(env, std::string("attention: ") + strides + " must be non-negative");
    }
    *off = IntField(d, kOp, offset.c_str());
    if (*off < 0) throw Napi::RangeError::New(env, std::string("attention: ") + offset + " must be non-negative");
  } else {
    st[2] = dims[3]; st[1] = dims[2] * st[2]; st[0] = dims[1] * st[1];
    *off = 0;
  }
  const int64_t all[4] = {st[0], st[1], st[2], 1};
  CheckStridedView(env, kOp, name, *off, dims, all, 4, a.length);
  return reinterpret_cast<const float*>(a.data);
}

std::shared_ptr<AttentionPlan> Plan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object d = DescriptorArg(info, kOp);
  auto p = std::make_shared<AttentionPlan>();
  p->B = IntField(d, kOp, "batch"); p->H = IntField(d, kOp, "heads"); p->Hkv = IntField(d, kOp, "kvHeads");
  p->L = IntField(d, kOp, "l"); p->S = IntField(d, kOp, "s"); p->E = IntField(d, kOp, "e"); p->Ev = IntField(d, kOp, "ev");
  if (p->B < 1 || p->H < 1 || p->Hkv < 1 || p->L < 1 || p->S < 1 || p->E < 1 || p->Ev < 1 || p->H % p->Hkv != 0) throw Napi::RangeError::New(env, "attention: bad sizes");
  p->scale = static_cast<float>(d.Get("scale").As<Napi::Number>().DoubleValue());
  p->causal = d.Get("causal").ToBoolean().Value();
  p->q = View(d, "q", {p->B, p->H, p->L, p->E}, &p->qOff, p->qs);
  p->k = View(d, "k", {p->B, p->Hkv, p->S, p->E}, &p->kOff, p->ks);
  p->v = View(d, "v", {p->B, p->Hkv, p->S, p->Ev}, &p->vOff, p->vs);
  p->out = reinterpret_cast<float*>(TypedField(d, kOp, "out", kF32, p->B * p->H * p->L * p->Ev).data);
  const AttentionMaskArg mask = AttentionMaskField(d, kOp, {p->B, p->H, p->L, p->S});
  p->mask = mask.data;
  p->maskKind = mask.kind;
  p->mOff = mask.offset;
  for (int i = 0; i < 4; i++) p->ms[i] = mask.strides[i];
  return p;
}

Napi::Value Attention(const Napi::CallbackInfo& info) {
  std::shared_ptr<AttentionPlan> p = Plan(info);
  uint64_t id = Submit(info.Env(), [p](uint64_t) -> std::string {
    try {
      return RunAttention(*p);
    } catch (const std::bad_alloc&) {
      return "out of memory in the native attention";
    }
  });
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

Napi::Value AttentionNow(const Napi::CallbackInfo& info) {
  std::shared_ptr<AttentionPlan> p = Plan(info);
  std::string err;
  {
    SingleThreadedHere one;
    err = RunAttention(*p);
  }
  if (!err.empty()) throw Napi::Error::New(info.Env(), "attention: " + err);
  return info.Env().Undefined();
}

}  // namespace

// compute.attentionBackward(desc) -> job id (attention_backward_binding.cc), exported with the forward.
void ExportAttentionBackward(Napi::Env env, Napi::Object target);

void ExportAttention(Napi::Env env, Napi::Object target) {
  target.Set("attention", Napi::Function::New(env, Attention, "attention"));
  target.Set("attentionNow", Napi::Function::New(env, AttentionNow, "attentionNow"));
  ExportAttentionBackward(env, target);
}

}  // namespace xpu::compute
