// The JS face of the row kernels (rows.h): compute.rowOp / reduceRows / rotary queue one and
// return the job id, their ...Now run one on the calling thread (src/backends/cpu/native_rows.ts).
#include <memory>
#include <string>
#include <vector>

#include "kernels.h"
#include "inline_team.h"
#include "napi_args.h"
#include "queue.h"
#include "rows.h"

namespace xpu::compute {
namespace {

constexpr const char* kOp = "rows";

// The first `count` entries of a Float64Array of element offsets, one per row.
std::vector<int64_t> Offsets(const Napi::Value& v, int64_t count, const char* what) {
  ArrayArg a = TypedArg(v, kOp, what, kF64, count);
  std::vector<int64_t> out(count);
  const double* d = reinterpret_cast<const double*>(a.data);
  for (int64_t i = 0; i < count; i++) out[i] = static_cast<int64_t>(d[i]);
  return out;
}

// Every row [off, off + n) inside an array of len elements.
void CheckRows(Napi::Env env, const std::vector<int64_t>& offs, int64_t n, int64_t len, const char* what) {
  for (int64_t o : offs) {
    if (o < 0 || o + n > len) throw Napi::RangeError::New(env, std::string("rows: ") + what + " has a row outside its array");
  }
}

// rowOp(op, rows, n, out, outOffsets, x, xOffsets, weight|null, bias|null, eps)
// reduceRows(op, rows, n, out, x, xOffsets)
// rotary(rows, d, out, x, xOffsets, cos, cosOffsets, sin, sinOffsets)
std::shared_ptr<RowsPlan> Plan(const Napi::CallbackInfo& info, int kind) {
  using namespace row_ops;
  Napi::Env env = info.Env();
  auto p = std::make_shared<RowsPlan>();
  p->kind = kind;
  int a = 0;
  p->op = kind == kRotary ? 0 : static_cast<int>(IntArg(info[a++], kOp, "op"));
  if (kind == kRowOp && (p->op < kSoftmax || p->op > kRmsNorm)) throw Napi::RangeError::New(env, "rows: unknown row op");
  if (kind == kReduce && (p->op < kSum || p->op > kMin)) throw Napi::RangeError::New(env, "rows: unknown reduction");
  p->rows = IntArg(info[a++], kOp, "rows");
  p->n = IntArg(info[a++], kOp, "n");
  if (p->rows < 1 || p->n < 1 || (kind == kRotary && p->n % 2)) throw Napi::RangeError::New(env, "rows: bad sizes");
  if (kind == kRowOp) {
    ArrayArg y = TypedArg(info[a++], kOp, "out", kF32);
    p->y = reinterpret_cast<float*>(y.data);
    p->yOff = Offsets(info[a++], p->rows, "out offsets");
    CheckRows(env, p->yOff, p->n, y.length, "out");
  } else {
    p->y = reinterpret_cast<float*>(TypedArg(info[a++], kOp, "out", kF32, p->rows * (kind == kReduce ? 1 : p->n)).data);
  }
  ArrayArg x = TypedArg(info[a++], kOp, "x", kF32);
  p->x = reinterpret_cast<const float*>(x.data);
  p->xOff = Offsets(info[a++], p->rows, "x offsets");
  CheckRows(env, p->xOff, p->n, x.length, "x");
  if (kind == kRowOp) {
    if (!info[a].IsNull() && !info[a].IsUndefined()) p->w = reinterpret_cast<const float*>(TypedArg(info[a], kOp, "weight", kF32, p->n).data);
    a++;
    if (!info[a].IsNull() && !info[a].IsUndefined()) p->b = reinterpret_cast<const float*>(TypedArg(info[a], kOp, "bias", kF32, p->n).data);
    a++;
    p->eps = info[a++].As<Napi::Number>().DoubleValue();
  }
  if (kind == kRotary) {
    ArrayArg c = TypedArg(info[a++], kOp, "cos", kF32);
    p->cos = reinterpret_cast<const float*>(c.data);
    p->cOff = Offsets(info[a++], p->rows, "cos offsets");
    CheckRows(env, p->cOff, p->n, c.length, "cos");
    ArrayArg s = TypedArg(info[a++], kOp, "sin", kF32);
    p->sin = reinterpret_cast<const float*>(s.data);
    p->sOff = Offsets(info[a++], p->rows, "sin offsets");
    CheckRows(env, p->sOff, p->n, s.length, "sin");
  }
  return p;
}

template <int Kind>
Napi::Value Queued(const Napi::CallbackInfo& info) {
  std::shared_ptr<RowsPlan> p = Plan(info, Kind);
  uint64_t id = Submit(info.Env(), [p](uint64_t) -> std::string {
    try {
      RunRows(*p);
    } catch (const std::bad_alloc&) {
      return "out of memory in a native row kernel";
    }
    return "";
  });
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

template <int Kind>
Napi::Value Now(const Napi::CallbackInfo& info) {
  std::shared_ptr<RowsPlan> p = Plan(info, Kind);
  // Large row kernels split their rows across the inline team (rows.cc, kInlineRowsMin).
  InlineTeamHere team;
  RunRows(*p);
  return info.Env().Undefined();
}

}  // namespace

void ExportRows(Napi::Env env, Napi::Object target) {
  using namespace row_ops;
  target.Set("rowOp", Napi::Function::New(env, Queued<kRowOp>, "rowOp"));
  target.Set("rowOpNow", Napi::Function::New(env, Now<kRowOp>, "rowOpNow"));
  target.Set("reduceRows", Napi::Function::New(env, Queued<kReduce>, "reduceRows"));
  target.Set("reduceRowsNow", Napi::Function::New(env, Now<kReduce>, "reduceRowsNow"));
  target.Set("rotary", Napi::Function::New(env, Queued<kRotary>, "rotary"));
  target.Set("rotaryNow", Napi::Function::New(env, Now<kRotary>, "rotaryNow"));
}

}  // namespace xpu::compute
