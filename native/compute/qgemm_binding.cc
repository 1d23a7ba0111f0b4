// The JS face of the int8 / int4 / w8a8 quantized linear (qgemm.h): compute.qmatmul(desc) queues
// it and returns the job id, compute.qmatmulNow(desc) runs it on the calling thread. The
// descriptor is src/backends/cpu/native_quant.ts's: { format: 'int8' | 'int4', m, n, k, groupSize,
// a: { data, offset, strides: [s0, s1] }, aScales?, q, scales, zeros?, bias?, out }.
#include <memory>
#include <string>

#include "kernels.h"
#include "napi_args.h"
#include "qgemm.h"
#include "queue.h"

namespace xpu::compute {
namespace {

constexpr const char* kOp = "qmatmul";

std::shared_ptr<QuantPlan> Plan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object d = DescriptorArg(info, kOp);
  auto p = std::make_shared<QuantPlan>();
  std::string fmt = d.Get("format").ToString().Utf8Value();
  if (fmt != "int4" && fmt != "int8") throw Napi::RangeError::New(env, "qmatmul: format must be int8 or int4");
  p->int4 = fmt == "int4";
  p->M = IntField(d, kOp, "m");
  p->N = IntField(d, kOp, "n");
  p->K = IntField(d, kOp, "k");
  p->gs = IntField(d, kOp, "groupSize");
  if (p->M < 1 || p->N < 1 || p->K < 1) throw Napi::RangeError::New(env, "qmatmul: m, n, k must be >= 1");
  p->KP = (p->K + 31) / 32 * 32;
  if (p->int4) {
    if (p->gs < 32 || p->gs % 32 != 0 || p->K % p->gs != 0) throw Napi::RangeError::New(env, "qmatmul: int4 needs a group size that is a multiple of 32 dividing K");
    p->G = p->K / p->gs;
  }
  // The weight planes are raw bytes (int8 rows, int4 words); the scales float32 or float16 bits.
  ArrayArg q = TypedField(d, kOp, "q", kAnyArray);
  ArrayArg scales = TypedField(d, kOp, "scales", kAnyArray);
  ArrayArg out = TypedField(d, kOp, "out", kF32OrF16);
  ArrayArg aScales = TypedField(d, kOp, "aScales", kF32, 0, false);
  p->scalesF16 = scales.type == napi_uint16_array;
  p->outF16 = out.type == napi_uint16_array;
  p->w8a8 = aScales.present;
  if (p->w8a8 && p->int4) throw Napi::RangeError::New(env, "qmatmul: w8a8 needs an int8 weight");
  p->a = MatrixField(d, kOp, "a", kF32F16OrI8, p->M, p->K, true);
  if (p->w8a8 != (p->a.kind == StridedMatrix::kI8)) throw Napi::TypeError::New(env, "qmatmul: int8 activations go with aScales (w8a8)");
  p->bias = MatrixField(d, kOp, "bias", kF32OrF16, p->M, p->N, false);
  // Sizes.
  const size_t qBytes = p->int4 ? static_cast<size_t>(p->N * p->K / 2) : static_cast<size_t>(p->N * p->KP);
  const size_t sItems = p->int4 ? p->N * p->G : p->N;
  CheckBytes(env, kOp, "q", q, qBytes);
  CheckBytes(env, kOp, "scales", scales, sItems * (p->scalesF16 ? 2 : 4));
  if (p->int4) {
    ArrayArg zeros = TypedField(d, kOp, "zeros", kAnyArray);
    CheckBytes(env, kOp, "zeros", zeros, sItems);
    p->zeros = reinterpret_cast<const uint8_t*>(zeros.data);
  }
  if (p->w8a8) CheckBytes(env, kOp, "aScales", aScales, static_cast<size_t>(p->M) * 4);
  CheckBytes(env, kOp, "out", out, static_cast<size_t>(p->M * p->N) * (p->outF16 ? 2 : 4));
  p->q = q.data;
  p->scales = scales.data;
  p->aScales = reinterpret_cast<const float*>(aScales.data);
  p->out = out.data;
  return p;
}

Napi::Value QMatmul(const Napi::CallbackInfo& info) {
  std::shared_ptr<QuantPlan> p = Plan(info);
  uint64_t id = Submit(info.Env(), [p](uint64_t) -> std::string {
    try {
      return RunQuant(*p);
    } catch (const std::bad_alloc&) {
      return "out of memory in the native quantized linear";
    }
  });
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

Napi::Value QMatmulNow(const Napi::CallbackInfo& info) {
  std::shared_ptr<QuantPlan> p = Plan(info);
  std::string err;
  {
    SingleThreadedHere one;
    err = RunQuant(*p);
  }
  if (!err.empty()) throw Napi::Error::New(info.Env(), "qmatmul: " + err);
  return info.Env().Undefined();
}

}  // namespace

void ExportQuant(Napi::Env env, Napi::Object target) {
  target.Set("qmatmul", Napi::Function::New(env, QMatmul, "qmatmul"));
  target.Set("qmatmulNow", Napi::Function::New(env, QMatmulNow, "qmatmulNow"));
}

}  // namespace xpu::compute
