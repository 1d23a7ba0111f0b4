// The JS face of the fused optimizer step (optim.h): compute.optimStepNow(...) reads a parameter
// group's arrays and runs the step on the calling thread (src/backends/cpu/optim.ts).
#include <string>
#include <vector>

#include "kernels.h"
#include "napi_args.h"
#include "optim.h"
#include "queue.h"

namespace xpu::compute {
namespace {

constexpr const char* kOp = "optimStep";

// list[i] as a Float32Array of exactly n floats, its parameter's length; `what` names the list in
// errors ("optimStep: grads[3] must be a Float32Array").
float* SegmentArray(const Napi::Array& list, uint32_t i, const char* what, int64_t n) {
  ArrayArg a = TypedArg(list.Get(i), kOp, ArgName(what, "", i), kF32);
  if (a.length != n) {
    throw Napi::RangeError::New(list.Env(), std::string(kOp) + ": " + ArgName(what, "", i).str() + " has " + std::to_string(a.length) + " elements, its parameter " + std::to_string(n));
  }
  return reinterpret_cast<float*>(a.data);
}

// One array entry per parameter (grads, the state lists).
Napi::Array ListArg(const Napi::Value& v, const char* what, uint32_t length) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(kOp) + ": " + what + " must be an array of Float32Arrays");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != length) throw Napi::RangeError::New(v.Env(), std::string(kOp) + ": " + what + " has " + std::to_string(a.Length()) + " entries, params " + std::to_string(length));
  return a;
}

// optimStepNow(flags Int32Array [rule, amsgrad, nesterov, maximize],
//              scalars Float64Array [lr, wd, mom, 1 - dampening, b1, 1 - b1, b2, 1 - b2, eps, 1 - lr wd],
//              segScalars Float64Array [stepSize, bc2Sqrt, first] per segment,
//              params Float32Array[], grads Float32Array[], state0[] | null, state1[] | null, state2[] | null)
Napi::Value OptimStepNow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int32_t* flags = reinterpret_cast<const int32_t*>(TypedArg(info[0], kOp, "flags", kI32, 4).data);
  const double* sc = reinterpret_cast<const double*>(TypedArg(info[1], kOp, "scalars", kF64, 10).data);
  if (!info[3].IsArray()) throw Napi::TypeError::New(env, std::string(kOp) + ": params must be an array of Float32Arrays");
  Napi::Array params = info[3].As<Napi::Array>();
  const uint32_t nseg = params.Length();
  Napi::Array grads = ListArg(info[4], "grads", nseg);
  const double* seg = reinterpret_cast<const double*>(TypedArg(info[2], kOp, "segScalars", kF64, 3 * static_cast<int64_t>(nseg)).data);
  OptimHyper h;
  h.rule = flags[0];
  if (h.rule < kSgd || h.rule > kAdamW) throw Napi::RangeError::New(env, std::string(kOp) + ": unknown rule " + std::to_string(h.rule));
  h.amsgrad = flags[1] != 0;
  h.nesterov = flags[2] != 0;
  h.maximize = flags[3] != 0;
  float* hv[] = {&h.lr, &h.wd, &h.mom, &h.damp1, &h.b1, &h.omb1, &h.b2, &h.omb2, &h.eps, &h.decay};
  for (int k = 0; k < 10; k++) *hv[k] = static_cast<float>(sc[k]);
  // Which state lists this rule reads.
  const int nstate = h.rule == kSgd ? (h.mom != 0 ? 1 : 0) : (h.amsgrad ? 3 : 2);
  const char* stateNames[3] = {"state0", "state1", "state2"};
  Napi::Array state[3];
  for (int k = 0; k < nstate; k++) state[k] = ListArg(info[5 + k], stateNames[k], nseg);
  std::vector<OptimSegment> segs(nseg);
  for (uint32_t i = 0; i < nseg; i++) {
    OptimSegment& s = segs[i];
    ArrayArg p = TypedArg(params.Get(i), kOp, ArgName("params", "", i), kF32);
    s.p = reinterpret_cast<float*>(p.data);
    s.n = p.length;
    s.g = SegmentArray(grads, i, "grads", s.n);
    float** sp[] = {&s.s0, &s.s1, &s.s2};
    for (int k = 0; k < nstate; k++) *sp[k] = SegmentArray(state[k], i, stateNames[k], s.n);
    s.stepSize = static_cast<float>(seg[3 * i]);
    s.bc2Sqrt = static_cast<float>(seg[3 * i + 1]);
    s.first = seg[3 * i + 2] != 0;
  }
  SingleThreadedHere one;
  RunOptimStep(h, segs);
  return env.Undefined();
}

}  // namespace

void ExportOptim(Napi::Env env, Napi::Object target) {
  target.Set("optimStepNow", Napi::Function::New(env, OptimStepNow, "optimStepNow"));
}

}  // namespace xpu::compute
