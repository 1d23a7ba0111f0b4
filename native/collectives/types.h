// The codes the TypeScript side passes for dtypes and reductions (src/distributed/native.ts mirrors
// them), and float16 <-> float32 conversion for engines without a half type (MPI).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace xpu::coll {

enum class DType : int { kFloat32 = 0, kFloat16 = 1, kInt32 = 2, kInt8 = 3, kUint8 = 4 };
enum class RedOp : int { kSum = 0, kAvg = 1, kMax = 2, kMin = 3, kProd = 4 };

inline bool ValidDType(int d) { return d >= 0 && d <= 4; }
inline bool ValidRedOp(int o) { return o >= 0 && o <= 4; }

inline size_t ItemSize(DType d) {
  switch (d) {
    case DType::kFloat32:
    case DType::kInt32: return 4;
    case DType::kFloat16: return 2;
    default: return 1;
  }
}

inline const char* DTypeName(DType d) {
  static const char* names[] = {"float32", "float16", "int32", "int8", "uint8"};
  return names[static_cast<int>(d)];
}

inline const char* RedOpName(RedOp o) {
  static const char* names[] = {"sum", "avg", "max", "min", "prod"};
  return names[static_cast<int>(o)];
}

inline float HalfToFloat(uint16_t h) {
  const float sign = (h & 0x8000u) ? -1.0f : 1.0f;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) return sign * std::ldexp(static_cast<float>(mant), -24);  // zero and subnormals
  if (exp == 31) return mant ? std::nanf("") : sign * INFINITY;
  uint32_t bits = (static_cast<uint32_t>(h & 0x8000u) << 16) | ((exp + 112u) << 23) | (mant << 13);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even, as IEEE 754 (and numberToF16Bits in src/tensor/dtype.ts, bit for bit).
inline uint16_t FloatToHalf(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  const uint32_t sign = (b >> 16) & 0x8000u;
  const uint32_t exp = (b >> 23) & 0xffu;
  uint32_t mant = b & 0x7fffffu;
  if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));
  const int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    const int shift = 14 - e;
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) h++;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;  // may carry into the exponent: still right
  return static_cast<uint16_t>(sign | h);
}

// AVG = SUM, then this on the result. Integers truncate toward zero (C++ division), as documented
// in README's Collectives section; floats divide in double and round once to the dtype.
inline void DivideInPlace(void* buf, size_t count, DType dt, int n) {
  switch (dt) {
    case DType::kFloat32: {
      float* p = static_cast<float*>(buf);
      for (size_t i = 0; i < count; i++) p[i] = static_cast<float>(static_cast<double>(p[i]) / n);
      break;
    }
    case DType::kFloat16: {
      uint16_t* p = static_cast<uint16_t*>(buf);
      for (size_t i = 0; i < count; i++) p[i] = FloatToHalf(static_cast<float>(static_cast<double>(HalfToFloat(p[i])) / n));
      break;
    }
    case DType::kInt32: {
      int32_t* p = static_cast<int32_t*>(buf);
      for (size_t i = 0; i < count; i++) p[i] = p[i] / n;
      break;
    }
    case DType::kInt8: {
      int8_t* p = static_cast<int8_t*>(buf);
      for (size_t i = 0; i < count; i++) p[i] = static_cast<int8_t>(p[i] / n);
      break;
    }
    case DType::kUint8: {
      uint8_t* p = static_cast<uint8_t*>(buf);
      for (size_t i = 0; i < count; i++) p[i] = static_cast<uint8_t>(p[i] / n);
      break;
    }
  }
}

}  // namespace xpu::coll
