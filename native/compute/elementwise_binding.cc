// The JS face of the elementwise maps (elementwise.h): compute.ew(...) queues one and returns the
// job id, compute.ewNow(...) runs one on the calling thread (src/backends/cpu/native_map.ts).
#include <memory>
#include <string>

#include "elementwise.h"
#include "kernels.h"
#include "napi_args.h"
#include "queue.h"

namespace xpu::compute {
namespace {

constexpr const char* kOp = "ew";

// ew(op, rows, inner, out, x0, off0, rowStride0, innerStride0, x1, off1, rowStride1, innerStride1):
// out and each operand a Float32Array or a Uint16Array (float16); x0 / x1 may be a number instead
// (a scalar: the other three of its arguments are ignored).
std::shared_ptr<EwPlan> Plan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto p = std::make_shared<EwPlan>();
  p->op = static_cast<int>(IntArg(info[0], kOp, "op"));
  if (!ew_ops::IsKnown(p->op)) throw Napi::RangeError::New(env, "ew: unknown op");
  p->rows = IntArg(info[1], kOp, "rows");
  p->inner = IntArg(info[2], kOp, "inner");
  if (p->rows < 1 || p->inner < 1) throw Napi::RangeError::New(env, "ew: empty");
  ArrayArg out = TypedArg(info[3], kOp, "out", kF32OrF16, p->rows * p->inner);
  p->out = out.data;
  p->outHalf = out.type == napi_uint16_array;
  const int operands = ew_ops::IsUnary(p->op) ? 1 : 2;
  for (int k = 0; k < operands; k++) {
    const Napi::Value v = info[4 + 4 * k];
    EwOperand& x = p->x[k];
    if (v.IsNumber()) {
      x.scalar = static_cast<float>(v.As<Napi::Number>().DoubleValue());
      continue;
    }
    ArrayArg a = TypedArg(v, kOp, "operand", kF32OrF16);
    x.data = a.data;
    x.half = a.type == napi_uint16_array;
    x.off = IntArg(info[5 + 4 * k], kOp, "offset");
    x.rowStride = IntArg(info[6 + 4 * k], kOp, "row stride");
    x.innerStride = IntArg(info[7 + 4 * k], kOp, "inner stride");
    if (x.innerStride != 0 && x.innerStride != 1) throw Napi::RangeError::New(env, "ew: inner stride must be 0 or 1");
    const int64_t dims[2] = {p->rows, p->inner}, strides[2] = {x.rowStride, x.innerStride};
    CheckStridedView(env, kOp, "operand", x.off, dims, strides, 2, a.length);
  }
  if (ew_ops::IsUnary(p->op) && p->x[0].data == nullptr) throw Napi::TypeError::New(env, "ew: a unary op needs an array");
  return p;
}

Napi::Value Ew(const Napi::CallbackInfo& info) {
  std::shared_ptr<EwPlan> p = Plan(info);
  uint64_t id = Submit(info.Env(), [p](uint64_t) -> std::string {
    RunEw(*p);
    return "";
  });
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

Napi::Value EwNow(const Napi::CallbackInfo& info) {
  std::shared_ptr<EwPlan> p = Plan(info);
  SingleThreadedHere one;
  RunEw(*p);
  return info.Env().Undefined();
}

}  // namespace

void ExportElementwise(Napi::Env env, Napi::Object target) {
  target.Set("ew", Napi::Function::New(env, Ew, "ew"));
  target.Set("ewNow", Napi::Function::New(env, EwNow, "ewNow"));
}

}  // namespace xpu::compute
