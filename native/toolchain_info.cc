// Which compiler built the addon and which SIMD level it was allowed to use (from the compiler's
// own predefined macros, so the answer matches the code that was generated, not the host CPU).
#include <string>

#include "build_info.h"

namespace xpu {

std::string CompilerName() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return "gcc " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." +
         std::to_string(__GNUC_PATCHLEVEL__);
#elif defined(_MSC_VER)
  return "msvc " + std::to_string(_MSC_FULL_VER);
#else
  return "unknown";
#endif
}

std::string SimdLevel() {
#if defined(__AVX512F__)
  std::string s = "avx512";
#if defined(__AVX512BF16__)
  s += "+bf16";
#endif
#if defined(__AVX512FP16__)
  s += "+fp16";
#endif
#if defined(__AVX512VNNI__)
  s += "+vnni";
#endif
  return s;
#elif defined(__AVX2__)
  return "avx2";
#elif defined(__AVX__)
  return "avx";
#elif defined(__SSE4_2__)
  return "sse4.2";
#elif defined(__SSE2__)
  return "sse2";
#elif defined(__ARM_FEATURE_SVE)
  return "sve";
#elif defined(__ARM_NEON)
  return "neon";
#else
  return "none";
#endif
}

}  // namespace xpu
