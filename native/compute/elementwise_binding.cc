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

constexpr const char* kChainOp = "ewChain";

// ewChain(n, out, inputs, offsets, program, scalars): out and every input a Float32Array, input k
// read at offsets[k] .. + n; program an Int32Array of 5 per step (op, a kind, a index, b kind,
// b index; kinds as EwChainArg), scalars a Float32Array of 2 per step (a's, b's when a scalar).
std::shared_ptr<EwChainPlan> ChainPlan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto p = std::make_shared<EwChainPlan>();
  p->n = IntArg(info[0], kChainOp, "n");
  if (p->n < 1) throw Napi::RangeError::New(env, "ewChain: empty");
  p->out = reinterpret_cast<float*>(TypedArg(info[1], kChainOp, "out", kF32, p->n).data);
  if (!info[2].IsArray()) throw Napi::TypeError::New(env, "ewChain: inputs must be an array");
  const Napi::Array ins = info[2].As<Napi::Array>();
  const std::vector<int64_t> offs = IntsArg(info[3], kChainOp, "offsets", static_cast<int>(ins.Length()));
  for (uint32_t k = 0; k < ins.Length(); k++) {
    ArrayArg a = TypedArg(ins.Get(k), kChainOp, "input", kF32);
    if (offs[k] < 0 || offs[k] + p->n > a.length) throw Napi::RangeError::New(env, "ewChain: an input is shorter than its run");
    p->inputs.push_back(reinterpret_cast<const float*>(a.data) + offs[k]);
  }
  ArrayArg prog = TypedArg(info[4], kChainOp, "program", Dtypes{{napi_int32_array}, 1, "an Int32Array"});
  const int64_t steps = prog.length / 5;
  if (steps < 1 || prog.length != steps * 5) throw Napi::RangeError::New(env, "ewChain: the program needs 5 ints per step");
  const float* sc = reinterpret_cast<const float*>(TypedArg(info[5], kChainOp, "scalars", kF32, steps * 2).data);
  const int32_t* code = reinterpret_cast<const int32_t*>(prog.data);
  for (int64_t s = 0; s < steps; s++) {
    EwChainStep st;
    st.op = code[s * 5];
    if (!ew_ops::IsKnown(st.op)) throw Napi::RangeError::New(env, "ewChain: unknown op");
    EwChainArg* args[2] = {&st.a, &st.b};
    const int used = ew_ops::IsUnary(st.op) ? 1 : 2;
    for (int j = 0; j < used; j++) {
      EwChainArg& a = *args[j];
      a.kind = code[s * 5 + 1 + 2 * j];
      a.index = code[s * 5 + 2 + 2 * j];
      a.scalar = sc[s * 2 + j];
      const bool ok = a.kind == EwChainArg::kScalar ? (used == 2)
                    : a.kind == EwChainArg::kInput  ? (a.index >= 0 && a.index < static_cast<int>(p->inputs.size()))
                    : a.kind == EwChainArg::kStep   ? (a.index >= 0 && a.index < s)
                                                    : false;
      if (!ok) throw Napi::RangeError::New(env, "ewChain: a bad argument in the program");
    }
    if (used == 2 && st.a.kind == EwChainArg::kScalar && st.b.kind == EwChainArg::kScalar) throw Napi::RangeError::New(env, "ewChain: a step of two scalars");
    p->steps.push_back(st);
  }
  return p;
}

Napi::Value EwChain(const Napi::CallbackInfo& info) {
  std::shared_ptr<EwChainPlan> p = ChainPlan(info);
  uint64_t id = Submit(info.Env(), [p](uint64_t) -> std::string {
    RunEwChain(*p);
    return "";
  });
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

Napi::Value EwChainNow(const Napi::CallbackInfo& info) {
  std::shared_ptr<EwChainPlan> p = ChainPlan(info);
  SingleThreadedHere one;
  RunEwChain(*p);
  return info.Env().Undefined();
}

}  // namespace

void ExportElementwise(Napi::Env env, Napi::Object target) {
  target.Set("ew", Napi::Function::New(env, Ew, "ew"));
  target.Set("ewNow", Napi::Function::New(env, EwNow, "ewNow"));
  target.Set("ewChain", Napi::Function::New(env, EwChain, "ewChain"));
  target.Set("ewChainNow", Napi::Function::New(env, EwChainNow, "ewChainNow"));
}

}  // namespace xpu::compute
