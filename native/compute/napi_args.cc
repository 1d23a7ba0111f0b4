// The argument readers of napi_args.h.
#include "napi_args.h"

#include <cmath>

namespace xpu::compute {
namespace {

std::string Prefix(const char* op, const ArgName& what) { return std::string(op) + ": " + what.str(); }

}  // namespace

std::string ArgName::str() const {
  std::string s = std::string(base) + suffix;
  if (index >= 0) s += "[" + std::to_string(index) + "]";
  return s;
}

Napi::Object DescriptorArg(const Napi::CallbackInfo& info, const char* op) {
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(info.Env(), std::string(op) + ": expects a descriptor object");
  return info[0].As<Napi::Object>();
}

bool Absent(const Napi::Object& desc, const char* name) {
  Napi::Value v = desc.Get(name);
  return v.IsUndefined() || v.IsNull();
}

int64_t IntArg(const Napi::Value& v, const char* op, const ArgName& what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), Prefix(op, what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  // 9e15: below 2^53, so every integer up to it is exact.
  if (d != std::floor(d) || std::fabs(d) > 9.0e15) throw Napi::RangeError::New(v.Env(), Prefix(op, what) + " must be an integer");
  return static_cast<int64_t>(d);
}

int64_t IntField(const Napi::Object& desc, const char* op, const char* name) { return IntArg(desc.Get(name), op, name); }

double NumberFieldOr(const Napi::Object& desc, const char* name, double fallback) {
  Napi::Value v = desc.Get(name);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}

std::vector<int64_t> IntsArg(const Napi::Value& v, const char* op, const ArgName& what, int rank) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), Prefix(op, what) + " must be an array");
  Napi::Array a = v.As<Napi::Array>();
  if (rank >= 0 && a.Length() != static_cast<uint32_t>(rank)) throw Napi::RangeError::New(v.Env(), Prefix(op, what) + " must have " + std::to_string(rank) + " entries");
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out[i] = IntArg(a.Get(i), op, ArgName(what.base, what.suffix, i));
  return out;
}

std::vector<int64_t> IntsField(const Napi::Object& desc, const char* op, const char* name, int rank) { return IntsArg(desc.Get(name), op, name, rank); }

ArrayArg TypedArg(const Napi::Value& v, const char* op, const ArgName& what, const Dtypes& dtypes, int64_t minLength) {
  if (!v.IsTypedArray() || !dtypes.Has(v.As<Napi::TypedArray>().TypedArrayType())) {
    throw Napi::TypeError::New(v.Env(), Prefix(op, what) + " must be " + dtypes.expected);
  }
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  ArrayArg a;
  a.present = true;
  a.data = static_cast<char*>(t.ArrayBuffer().Data()) + t.ByteOffset();
  a.bytes = t.ByteLength();
  a.length = static_cast<int64_t>(t.ElementLength());
  a.type = t.TypedArrayType();
  if (a.length < minLength) {
    throw Napi::RangeError::New(v.Env(), Prefix(op, what) + " is too small (" + std::to_string(a.length) + " elements, needs " + std::to_string(minLength) + ")");
  }
  return a;
}

ArrayArg TypedField(const Napi::Object& desc, const char* op, const char* name, const Dtypes& dtypes, int64_t minLength, bool required) {
  Napi::Value v = desc.Get(name);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) throw Napi::TypeError::New(desc.Env(), Prefix(op, name) + " is required");
    return ArrayArg{};
  }
  return TypedArg(v, op, name, dtypes, minLength);
}

void CheckBytes(Napi::Env env, const char* op, const ArgName& what, const ArrayArg& array, size_t bytes) {
  if (array.bytes < bytes) throw Napi::RangeError::New(env, Prefix(op, what) + " is too small (" + std::to_string(array.bytes) + " bytes, needs " + std::to_string(bytes) + ")");
}

bool ObjectField(const Napi::Object& desc, const char* op, const char* name, bool required, Napi::Object* out) {
  Napi::Value v = desc.Get(name);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) throw Napi::TypeError::New(desc.Env(), Prefix(op, name) + " is required");
    return false;
  }
  if (!v.IsObject()) throw Napi::TypeError::New(desc.Env(), Prefix(op, name) + " must be an object");
  *out = v.As<Napi::Object>();
  return true;
}

int ActivationField(const Napi::Object& desc, const char* op) {
  Napi::Value v = desc.Get("activation");
  if (v.IsUndefined() || v.IsNull()) return 0;
  std::string a = v.ToString().Utf8Value();
  if (a.empty()) return 0;
  if (a == "relu") return 1;
  if (a == "gelu") return 2;
  if (a == "silu") return 3;
  throw Napi::RangeError::New(desc.Env(), std::string(op) + ": activation must be relu, gelu or silu, got " + a);
}

void CheckStridedView(Napi::Env env, const char* op, const ArgName& what, int64_t offset, const int64_t* dims, const int64_t* strides, size_t rank, int64_t length) {
  int64_t lo = offset, hi = offset;
  for (size_t d = 0; d < rank; d++) {
    if (dims[d] <= 0) continue;
    int64_t ext = (dims[d] - 1) * strides[d];
    if (ext < 0) lo += ext; else hi += ext;
  }
  if (lo < 0 || hi >= length) {
    throw Napi::RangeError::New(env, Prefix(op, what) + " addresses elements [" + std::to_string(lo) + ", " + std::to_string(hi) + "] of an array of " + std::to_string(length));
  }
}

StridedArg StridedOf(const Napi::Object& view, const char* op, const ArgName& what, const Dtypes& dtypes, const std::vector<int64_t>& dims) {
  StridedArg s;
  s.present = true;
  s.array = TypedArg(view.Get("data"), op, ArgName(what.base, ".data"), dtypes);
  s.offset = IntArg(view.Get("offset"), op, ArgName(what.base, ".offset"));
  s.strides = IntsArg(view.Get("strides"), op, ArgName(what.base, ".strides"), static_cast<int>(dims.size()));
  CheckStridedView(view.Env(), op, what, s.offset, dims.data(), s.strides.data(), dims.size(), s.array.length);
  return s;
}

StridedArg StridedField(const Napi::Object& desc, const char* op, const char* name, const Dtypes& dtypes, const std::vector<int64_t>& dims, bool required) {
  Napi::Object view;
  if (!ObjectField(desc, op, name, required, &view)) return StridedArg{};
  return StridedOf(view, op, name, dtypes, dims);
}

StridedMatrix MatrixField(const Napi::Object& desc, const char* op, const char* name, const Dtypes& dtypes, int64_t rows, int64_t cols, bool required) {
  StridedArg v = StridedField(desc, op, name, dtypes, {rows, cols}, required);
  StridedMatrix m;
  if (!v.present) return m;
  m.present = true;
  m.data = v.array.data;
  m.kind = v.array.type == napi_uint16_array ? StridedMatrix::kF16 : v.array.type == napi_int8_array ? StridedMatrix::kI8 : StridedMatrix::kF32;
  m.offset = v.offset;
  m.s0 = v.strides[0];
  m.s1 = v.strides[1];
  return m;
}

AttentionMaskArg AttentionMaskField(const Napi::Object& desc, const char* op, const std::vector<int64_t>& dims) {
  AttentionMaskArg mask;
  Napi::Value mv = desc.Get("mask");
  if (!mv.IsObject()) return mask;
  Napi::Object m = mv.As<Napi::Object>();
  const bool isBool = m.Get("bool").ToBoolean().Value();
  StridedArg s = StridedOf(m, op, "mask", isBool ? kU8 : kF32OrF16, dims);
  mask.data = s.array.data;
  mask.kind = isBool ? 2 : s.array.type == napi_float32_array ? 0 : 1;
  mask.offset = s.offset;
  for (int i = 0; i < 4; i++) mask.strides[i] = s.strides[i];
  return mask;
}

}  // namespace xpu::compute
