// The JS face of the GGUF quantized linear (qgemm_gguf.h): compute.qmatmulGguf(desc) queues it
// and returns the job id, compute.qmatmulGgufNow(desc) runs it on the calling thread and the inline
// team's helpers (inline_team.h). The descriptor is src/backends/cpu/native_quant.ts's: { format: 'q4_0' | 'q4_1' | 'q8_0' | 'q4_k' |
// 'q6_k', m, n, k, a, bias?, residual?: { data, offset, strides: [s0, s1] }, q, scales, activation?,
// q8Activations? (llama.cpp's int8 activations; q4_0 / q4_1 / q8_0), out }.
#include <memory>
#include <string>

#include "kernels.h"
#include "napi_args.h"
#include "qgemm_gguf.h"
#include "inline_team.h"
#include "queue.h"

namespace xpu::compute {
namespace {

constexpr const char* kOp = "qmatmulGguf";

std::shared_ptr<GgufPlan> Plan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object d = DescriptorArg(info, kOp);
  auto p = std::make_shared<GgufPlan>();
  std::string fmt = d.Get("format").ToString().Utf8Value();
  if (fmt == "q4_0") p->fmt = GgufFormat::Q4_0;
  else if (fmt == "q4_1") p->fmt = GgufFormat::Q4_1;
  else if (fmt == "q8_0") p->fmt = GgufFormat::Q8_0;
  else if (fmt == "q4_k") p->fmt = GgufFormat::Q4_K;
  else if (fmt == "q6_k") p->fmt = GgufFormat::Q6_K;
  else throw Napi::RangeError::New(env, "qmatmulGguf: format must be q4_0, q4_1, q8_0, q4_k or q6_k");
  p->info = GgufBlockOf(p->fmt);
  p->M = IntField(d, kOp, "m");
  p->N = IntField(d, kOp, "n");
  p->K = IntField(d, kOp, "k");
  if (p->M < 1 || p->N < 1 || p->K < 1) throw Napi::RangeError::New(env, "qmatmulGguf: m, n, k must be >= 1");
  if (p->K % p->info.block != 0) throw Napi::RangeError::New(env, "qmatmulGguf: k must be a multiple of the block size");
  p->B = p->K / p->info.block;
  // The planes are raw bytes (uint32 words or float16 bits, as src/quant/gguf_formats.ts stores them).
  ArrayArg q = TypedField(d, kOp, "q", kAnyArray);
  ArrayArg s = TypedField(d, kOp, "scales", kAnyArray);
  ArrayArg out = TypedField(d, kOp, "out", kF32OrF16);
  p->outF16 = out.type == napi_uint16_array;
  p->a = MatrixField(d, kOp, "a", kF32OrF16, p->M, p->K, true);
  p->bias = MatrixField(d, kOp, "bias", kF32OrF16, p->M, p->N, false);
  p->res = MatrixField(d, kOp, "residual", kF32OrF16, p->M, p->N, false);
  p->act = ActivationField(d, kOp);
  Napi::Value q8 = d.Get("q8Activations");
  p->q8act = q8.IsBoolean() && q8.As<Napi::Boolean>().Value();
  if (p->q8act && !GgufQ8Supports(p->fmt))
    throw Napi::RangeError::New(env, "qmatmulGguf: q8Activations needs a q4_0, q4_1 or q8_0 weight");
  CheckBytes(env, kOp, "q", q, static_cast<size_t>(p->N * p->B * p->info.qBytes));
  CheckBytes(env, kOp, "scales", s, static_cast<size_t>(p->N * p->B * p->info.scaleBytes));
  CheckBytes(env, kOp, "out", out, static_cast<size_t>(p->M * p->N) * (p->outF16 ? 2 : 4));
  p->q = q.data;
  p->s = s.data;
  p->out = out.data;
  return p;
}

Napi::Value QMatmulGguf(const Napi::CallbackInfo& info) {
  std::shared_ptr<GgufPlan> p = Plan(info);
  uint64_t id = Submit(info.Env(), [p](uint64_t) -> std::string {
    try {
      return RunGguf(*p);
    } catch (const std::bad_alloc&) {
      return "out of memory in the GGUF quantized linear";
    }
  });
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

Napi::Value QMatmulGgufNow(const Napi::CallbackInfo& info) {
  std::shared_ptr<GgufPlan> p = Plan(info);
  std::string err;
  {
    InlineTeamHere team;
    err = RunGguf(*p);
  }
  if (!err.empty()) throw Napi::Error::New(info.Env(), "qmatmulGguf: " + err);
  return info.Env().Undefined();
}

}  // namespace

void ExportQuantGguf(Napi::Env env, Napi::Object target) {
  target.Set("qmatmulGguf", Napi::Function::New(env, QMatmulGguf, "qmatmulGguf"));
  target.Set("qmatmulGgufNow", Napi::Function::New(env, QMatmulGgufNow, "qmatmulGgufNow"));
}

}  // namespace xpu::compute
