// Reading the arguments the TypeScript side hands a native kernel (src/backends/cpu/native_*.ts):
// one set of readers for every binding (native/compute/*_binding.cc), so a kernel family's binding
// only says which fields it wants. Each reader takes `op`, the entry point's name, which starts
// every error message ("gemm: m must be a number"). A value of the wrong kind is a TypeError, a
// value out of range (a size, a stride that reads outside the array) a RangeError; both reach JS
// as exceptions, never as a read outside a buffer.
//
// JS thread only (they read JS values). The pointers they return are into ArrayBuffers the JS side
// keeps alive until the job that reads them is done (src/backends/cpu/native_jobs.ts).
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "strided_matrix.h"

namespace xpu::compute {

// How an error names an argument: `base` ("a"), then `suffix` (".strides") and `[index]` when
// index >= 0, composed only when an error is thrown (the readers run on every kernel call).
struct ArgName {
  const char* base;
  const char* suffix = "";
  int64_t index = -1;
  ArgName(const char* b) : base(b) {}  // NOLINT: implicit, so a literal names an argument
  ArgName(const char* b, const char* s, int64_t i = -1) : base(b), suffix(s), index(i) {}
  std::string str() const;
};

// The typed-array element types an argument accepts, and how an error names them
// ("must be a Float32Array"); count -1: any typed array (raw bytes, sized with CheckBytes).
struct Dtypes {
  napi_typedarray_type types[3];
  int count;
  const char* expected;
  bool Has(napi_typedarray_type t) const {
    if (count < 0) return true;
    for (int i = 0; i < count; i++) if (types[i] == t) return true;
    return false;
  }
};

inline constexpr Dtypes kF32{{napi_float32_array}, 1, "a Float32Array"};
inline constexpr Dtypes kF16Bits{{napi_uint16_array}, 1, "a Uint16Array (float16 bits)"};
inline constexpr Dtypes kF32OrF16{{napi_float32_array, napi_uint16_array}, 2, "a Float32Array or a Uint16Array (float16 bits)"};
inline constexpr Dtypes kF32F16OrI8{{napi_float32_array, napi_uint16_array, napi_int8_array}, 3, "a Float32Array, a Uint16Array (float16 bits) or an Int8Array"};
inline constexpr Dtypes kU8{{napi_uint8_array}, 1, "a Uint8Array"};
inline constexpr Dtypes kF64{{napi_float64_array}, 1, "a Float64Array"};
inline constexpr Dtypes kI32{{napi_int32_array}, 1, "an Int32Array"};
inline constexpr Dtypes kAnyArray{{}, -1, "a typed array"};

// A typed array's memory: `data` is its first element (the view's byte offset applied).
struct ArrayArg {
  bool present = false;  // false: an optional argument that was absent
  char* data = nullptr;
  size_t bytes = 0;
  int64_t length = 0;  // elements
  napi_typedarray_type type = napi_uint8_array;
};

// info[0] as the descriptor object ("<op>: expects a descriptor object").
Napi::Object DescriptorArg(const Napi::CallbackInfo& info, const char* op);

// desc[name] is undefined or null.
bool Absent(const Napi::Object& desc, const char* name);

// An integer: a number without a fractional part (TypeError "must be a number", RangeError "must
// be an integer").
int64_t IntArg(const Napi::Value& v, const char* op, const ArgName& what);
int64_t IntField(const Napi::Object& desc, const char* op, const char* name);

// A number, or `fallback` when the field is not a number (optional scalars: alpha, beta).
double NumberFieldOr(const Napi::Object& desc, const char* name, double fallback);

// An array of integers, of exactly `rank` entries unless rank is -1 (TypeError "must be an array",
// RangeError "must have N entries").
std::vector<int64_t> IntsArg(const Napi::Value& v, const char* op, const ArgName& what, int rank = -1);
std::vector<int64_t> IntsField(const Napi::Object& desc, const char* op, const char* name, int rank = -1);

// A typed array of one of `dtypes` (TypeError "must be a Float32Array" etc.) holding at least
// `minLength` elements (RangeError "is too small").
ArrayArg TypedArg(const Napi::Value& v, const char* op, const ArgName& what, const Dtypes& dtypes, int64_t minLength = 0);
// The same for desc[name]; an optional field that is absent (undefined or null) gives present false
// (TypeError "is required" when it is not optional).
ArrayArg TypedField(const Napi::Object& desc, const char* op, const char* name, const Dtypes& dtypes, int64_t minLength = 0, bool required = true);

// RangeError "<what> is too small (N bytes, needs M)" unless the array holds at least `bytes`.
void CheckBytes(Napi::Env env, const char* op, const ArgName& what, const ArrayArg& array, size_t bytes);

// desc[name] as an object ({ data, offset, strides } and the like); false when optional and absent
// (TypeError "is required", "must be an object").
bool ObjectField(const Napi::Object& desc, const char* op, const char* name, bool required, Napi::Object* out);

// The activation of an epilogue: 0 none (absent or ""), 1 relu, 2 gelu (erf), 3 silu
// (RangeError "activation must be relu, gelu or silu, got X").
int ActivationField(const Napi::Object& desc, const char* op);

// A strided view: element (i_0, ..., i_{r-1}) is at offset + sum_d i_d strides[d] of an array of
// `length` elements. Throws RangeError "<what> addresses elements [lo, hi] of an array of n" unless
// every element it addresses lies inside (dims of size 0 address nothing).
void CheckStridedView(Napi::Env env, const char* op, const ArgName& what, int64_t offset, const int64_t* dims, const int64_t* strides, size_t rank, int64_t length);

// { data, offset, strides: [one per dim] } read as such a view over dims and bounds-checked; `what`
// names it in errors ("a": "a.strides must have 2 entries"). StridedField reads desc[name]; present
// is false when the field is optional and absent.
struct StridedArg {
  bool present = false;
  ArrayArg array;
  int64_t offset = 0;
  std::vector<int64_t> strides;
};
StridedArg StridedOf(const Napi::Object& view, const char* op, const ArgName& what, const Dtypes& dtypes, const std::vector<int64_t>& dims);
StridedArg StridedField(const Napi::Object& desc, const char* op, const char* name, const Dtypes& dtypes, const std::vector<int64_t>& dims, bool required);

// desc[name] as a rows x cols StridedMatrix (float32, float16 bits or int8, as `dtypes` allows);
// present is false when optional and absent.
StridedMatrix MatrixField(const Napi::Object& desc, const char* op, const char* name, const Dtypes& dtypes, int64_t rows, int64_t cols, bool required);

// desc.mask of the attention forward and backward: absent, or { bool, data, offset, strides } over
// [B, H, L, S]. kind: 0 float32 additive, 1 float16-bits additive, 2 bool (Uint8Array, 0 = masked),
// -1 absent; element (b, h, i, j) at offset + b strides[0] + h strides[1] + i strides[2] + j strides[3].
struct AttentionMaskArg {
  int kind = -1;
  const void* data = nullptr;
  int64_t offset = 0;
  int64_t strides[4] = {0, 0, 0, 0};
};
AttentionMaskArg AttentionMaskField(const Napi::Object& desc, const char* op, const std::vector<int64_t>& dims);

}  // namespace xpu::compute
