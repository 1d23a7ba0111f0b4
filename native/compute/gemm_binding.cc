// The JS face of the native GEMM (gemm.h) and of the compute object itself: compute.gemm(desc)
// queues a GEMM and returns its job id, compute.gemmNow(desc) runs one on the calling thread,
// compute.info() describes oneDNN. The descriptor is src/backends/cpu/native_gemm.ts's:
// { m, n, k, batch, a, b, bias?, residual?: { data, f16, offset, strides: [batch..., row, col] },
//   out, outF16, alpha?, beta?, activation?, deps? }.
#include <memory>
#include <stdexcept>
#include <string>

#include "compute.h"
#include "gemm.h"
#include "napi_args.h"
#include "inline_team.h"
#include "queue.h"

namespace xpu::compute {
namespace {

constexpr const char* kOp = "gemm";

#ifdef XPU_HAVE_DNNL

// desc[name]: a float32 (or, with f16 set, float16-bits) matrix per batch entry, bounds-checked
// over [batch..., rows, cols].
GemmOperand OperandField(const Napi::Object& desc, const char* name, const std::vector<int64_t>& batch, int64_t rows, int64_t cols, bool required) {
  GemmOperand op;
  Napi::Object o;
  if (!ObjectField(desc, kOp, name, required, &o)) return op;
  op.f16 = o.Get("f16").ToBoolean().Value();
  std::vector<int64_t> dims = batch;
  dims.push_back(rows);
  dims.push_back(cols);
  StridedArg view = StridedOf(o, kOp, name, op.f16 ? kF16Bits : kF32, dims);
  op.present = true;
  op.base = view.array.data;
  op.bytes = view.array.bytes;
  op.offset = view.offset;
  const size_t nb = batch.size();
  op.bstrides.assign(view.strides.begin(), view.strides.begin() + nb);
  op.s0 = view.strides[nb];
  op.s1 = view.strides[nb + 1];
  return op;
}

GemmRequest ReadRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object d = DescriptorArg(info, kOp);
  GemmRequest r;
  r.m = IntField(d, kOp, "m");
  r.n = IntField(d, kOp, "n");
  r.k = IntField(d, kOp, "k");
  r.batch = IntsField(d, kOp, "batch");
  if (r.m < 1 || r.n < 1 || r.k < 1) throw Napi::RangeError::New(env, "gemm: m, n, k must be >= 1");
  for (int64_t s : r.batch) if (s < 1) throw Napi::RangeError::New(env, "gemm: batch dims must be >= 1");
  r.a = OperandField(d, "a", r.batch, r.m, r.k, true);
  r.b = OperandField(d, "b", r.batch, r.k, r.n, true);
  r.bias = OperandField(d, "bias", r.batch, r.m, r.n, false);
  r.res = OperandField(d, "residual", r.batch, r.m, r.n, false);
  r.outF16 = d.Get("outF16").ToBoolean().Value();
  if (!Absent(d, "deps")) {
    for (int64_t v : IntsField(d, kOp, "deps")) r.deps.push_back(static_cast<uint64_t>(v));
  }
  double outElements = static_cast<double>(r.m) * r.n;
  for (int64_t s : r.batch) outElements *= s;
  if (outElements > 9.0e15) throw Napi::RangeError::New(env, "gemm: out is too small");
  r.out = TypedField(d, kOp, "out", r.outF16 ? kF16Bits : kF32, static_cast<int64_t>(outElements)).data;
  r.alpha = NumberFieldOr(d, "alpha", 1.0);
  r.beta = NumberFieldOr(d, "beta", 1.0);
  r.act = ActivationField(d, kOp);
  return r;
}

std::shared_ptr<GemmPlan> Plan(const Napi::CallbackInfo& info, bool onJsThread) {
  GemmRequest r = ReadRequest(info);
  try {
    return PlanGemm(std::move(r), onJsThread);
  } catch (const std::runtime_error& e) {
    throw Napi::Error::New(info.Env(), std::string("gemm: ") + e.what());
  }
}

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  std::shared_ptr<GemmPlan> pl = Plan(info, false);
  uint64_t id = Submit(info.Env(), [pl](uint64_t id) -> std::string { return RunGemmJob(*pl, id); });
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

// gemmNow(desc): plans and runs the GEMM right here, on the calling (JS) thread: OpenMP limited to
// it, the BLAS calls split across the inline team (InlineTeamHere, inline_team.h). For GEMMs where
// handing the work to the compute thread and back (two thread wake-ups) costs more than the gain;
// the caller only uses it while the queue is idle, so order is kept.
Napi::Value GemmNow(const Napi::CallbackInfo& info) {
  std::shared_ptr<GemmPlan> pl = Plan(info, true);
  std::string err;
  {
    InlineTeamHere team;
    err = RunGemmNow(*pl);
  }
  if (!err.empty()) throw Napi::Error::New(info.Env(), "gemm: " + err);
  return info.Env().Undefined();
}

#endif  // XPU_HAVE_DNNL

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  GemmLibraryInfo g = GemmInfo();
  if (!g.present) {
    o.Set("library", env.Null());
    return o;
  }
  o.Set("library", "oneDNN");
  o.Set("version", g.version);
  o.Set("isa", g.isa);
  o.Set("runtime", g.runtime);
  o.Set("threads", g.threads);
  Napi::Object s = Napi::Object::New(env);
  s.Set("calls", static_cast<double>(g.calls));
  s.Set("folded", static_cast<double>(g.folded));
  s.Set("packedA", static_cast<double>(g.packedA));
  s.Set("packedB", static_cast<double>(g.packedB));
  s.Set("refImpl", static_cast<double>(g.refImpl));
  s.Set("cacheHits", static_cast<double>(g.cacheHits));
  s.Set("lastImpl", g.lastImpl);
  o.Set("stats", s);
  // oneMKL beside oneDNN: the large GEMMs and the one-row GEMV (gemm.cc says which shapes).
  if (!g.mklVersion.empty()) {
    Napi::Object m = Napi::Object::New(env);
    m.Set("library", "oneMKL");
    m.Set("version", g.mklVersion);
    m.Set("isa", g.mklIsa);
    m.Set("runtime", "GNU OpenMP");
    m.Set("enabled", g.mklEnabled);
    o.Set("blas", m);
  } else {
    o.Set("blas", env.Null());
  }
  return o;
}

}  // namespace

Napi::Object ExportCompute(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  ExportQueue(env, o);
  o.Set("info", Napi::Function::New(env, Info, "info"));
#ifdef XPU_HAVE_DNNL
  o.Set("gemm", Napi::Function::New(env, Gemm, "gemm"));
  o.Set("gemmNow", Napi::Function::New(env, GemmNow, "gemmNow"));
#endif
  return o;
}

}  // namespace xpu::compute
