// The quantized linear for GGUF block formats: out[M, N] = a[M, K] @ W^T + bias, where W [N, K]
// stays in its ggml blocks (q4_0, q4_1, q8_0, q4_k, q6_k) split into a q plane and a scale plane
// (src/quant/gguf_formats.ts has the layouts; the values are ggml's, nothing is re-quantized):
//
//   q4_0  q: 16 nibble bytes / block (byte j: weight j low, weight j + 16 high)  s: f16 d
//   q4_1  q: the same nibbles                                                      s: f16 d, f16 m
//   q8_0  q: 32 int8                                                               s: f16 d
//   q4_k  q: qs[128] / 256-weight block     s: 16 bytes = f16 d, f16 dmin, scales[12]
//   q6_k  q: ql[128], qh[64]                s: 20 bytes = int8 scales[16], f16 d, 2 zero bytes
//
// Each weight is decoded to exactly the float32 ggml's dequantize_row_* gives (the products it
// forms fit a float32 significand, so one rounding, fused or not; src/quant/gguf_dequant.ts says
// why), then multiplied in float32 with float32 activations. llama.cpp instead quantizes the
// activations to 8 bits and multiplies integers; we keep the activations exact, which costs
// int->float conversions but needs no second rounding of x.
//
//   - M <= 8 (decode): streaming GEMV. Each weight row is read once and decoded in registers,
//     16 (AVX-512) or 8 (AVX2) lanes at a time, and FMA'd with the M activation rows (in cache).
//     The nibble order of q4_0/q4_1 puts weights j and j + 16 in one byte, so the low nibbles of a
//     block's 16 bytes are weights 0..15 in lane order and the high nibbles weights 16..31: no
//     shuffle of weights or activations is needed. The K-quants decode each 256-weight block to a
//     stack buffer first (their sub-block scales vary inside a block) and dot from there.
//   - M > 8: rows of W decoded into an f32 tile (~4 MB), then oneDNN's sgemm against the tile
//     (compute-bound; the decode is O(N K) against O(M N K)).
// Rows of N are split across OpenMP threads (the libgomp pool oneDNN uses); the `Now` entry point
// runs single-threaded on the JS thread for small problems (SingleThreadedHere, queue.h).
// SIMD is chosen at compile time like the rest of the addon (-march from native/configure.mjs).
// With plan.q8act the product is llama.cpp's instead: activations quantized to int8 per block and
// integer dot products (qgemm_gguf_q8.cc); the gather and the epilogue below are shared.
// The JS face is qgemm_gguf_binding.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "qgemm_gguf.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "half.h"
#include "inline_team.h"

#ifdef XPU_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace xpu::compute {
namespace {

using Fmt = GgufFormat;

inline uint16_t U16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// ---- block decoders: ggml's float32 values ------------------------------------------------------

// The 6-bit scale and min of Q4_K sub-block j from its 12 scale bytes (ggml's get_scale_min_k4):
// j < 4: low 6 bits of b[j] and b[j + 4]; j >= 4: a nibble of b[j + 4] plus the top 2 bits of
// b[j - 4] (scale) and b[j] (min).
inline void ScaleMinK4(const uint8_t* b, int j, int* sc, int* mn) {
  if (j < 4) {
    *sc = b[j] & 63;
    *mn = b[j + 4] & 63;
  } else {
    *sc = (b[j + 4] & 15) | ((b[j - 4] >> 6) << 4);
    *mn = (b[j + 4] >> 4) | ((b[j] >> 6) << 4);
  }
}

#ifdef __AVX512F__
// 16 unsigned bytes -> 16 int32 lanes.
inline __m512i Bytes16(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
#endif

// Block b of row n into dst (32 or 256 floats).
void DecodeBlock(const GgufPlan& p, int64_t n, int64_t b, float* dst) {
  const uint8_t* q = p.QRow(n) + b * p.info.qBytes;
  const uint8_t* s = p.SRow(n) + b * p.info.scaleBytes;
  switch (p.fmt) {
    case Fmt::Q4_0:
    case Fmt::Q4_1: {
      const float d = HalfToFloat(U16(s));
      // q4_0: (q - 8) * d, both factors exact; q4_1: q * d + m, one rounding as in ggml.
      const float m = p.fmt == Fmt::Q4_1 ? HalfToFloat(U16(s + 2)) : 0.0f;
      const float off = p.fmt == Fmt::Q4_0 ? 8.0f : 0.0f;
#ifdef __AVX512F__
      __m512i v = Bytes16(q);
      __m512 lo = _mm512_sub_ps(_mm512_cvtepi32_ps(_mm512_and_si512(v, _mm512_set1_epi32(15))), _mm512_set1_ps(off));
      __m512 hi = _mm512_sub_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4)), _mm512_set1_ps(off));
      _mm512_storeu_ps(dst, _mm512_fmadd_ps(lo, _mm512_set1_ps(d), _mm512_set1_ps(m)));
      _mm512_storeu_ps(dst + 16, _mm512_fmadd_ps(hi, _mm512_set1_ps(d), _mm512_set1_ps(m)));
#else
      for (int j = 0; j < 16; j++) {
        dst[j] = (static_cast<float>(q[j] & 15) - off) * d + m;
        dst[j + 16] = (static_cast<float>(q[j] >> 4) - off) * d + m;
      }
#endif
      return;
    }
    case Fmt::Q8_0: {
      const float d = HalfToFloat(U16(s));
      const int8_t* v = reinterpret_cast<const int8_t*>(q);
      for (int j = 0; j < 32; j++) dst[j] = static_cast<float>(v[j]) * d;
      return;
    }
    case Fmt::Q4_K: {
      const float d = HalfToFloat(U16(s)), dmin = HalfToFloat(U16(s + 2));
      for (int r = 0; r < 4; r++) {
        int sc1, m1, sc2, m2;
        ScaleMinK4(s + 4, 2 * r, &sc1, &m1);
        ScaleMinK4(s + 4, 2 * r + 1, &sc2, &m2);
        // d * sc and dmin * m are exact (11 + 6 bits); w = d1 * q - mn1 rounds once.
        const float d1 = d * sc1, mn1 = dmin * m1, d2 = d * sc2, mn2 = dmin * m2;
        const uint8_t* qs = q + 32 * r;
        float* y = dst + 64 * r;
#ifdef __AVX512F__
        for (int h = 0; h < 2; h++) {
          __m512i v = Bytes16(qs + 16 * h);
          _mm512_storeu_ps(y + 16 * h, _mm512_fmsub_ps(_mm512_set1_ps(d1), _mm512_cvtepi32_ps(_mm512_and_si512(v, _mm512_set1_epi32(15))), _mm512_set1_ps(mn1)));
          _mm512_storeu_ps(y + 32 + 16 * h, _mm512_fmsub_ps(_mm512_set1_ps(d2), _mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4)), _mm512_set1_ps(mn2)));
        }
#else
        for (int l = 0; l < 32; l++) {
          y[l] = d1 * static_cast<float>(qs[l] & 15) - mn1;
          y[32 + l] = d2 * static_cast<float>(qs[l] >> 4) - mn2;
        }
#endif
      }
      return;
    }
    case Fmt::Q6_K: {
      const int8_t* sc = reinterpret_cast<const int8_t*>(s);
      const float d = HalfToFloat(U16(s + 16));
      for (int h = 0; h < 2; h++) {
        const uint8_t* ql = q + 64 * h;
        const uint8_t* qh = q + 128 + 32 * h;
        const int8_t* sh = sc + 8 * h;
        float* y = dst + 128 * h;
        // d * scale * q is a product of 11, 8 and 6 bits: exact in any order.
#ifdef __AVX512F__
        // 16 weights of each quarter at a time (l0 = 0, 16: one scale per quarter and half).
        for (int l0 = 0; l0 < 32; l0 += 16) {
          const int is = l0 >> 4;
          const __m512i lo = Bytes16(ql + l0), hi = Bytes16(ql + 32 + l0), hb = Bytes16(qh + l0);
          const __m512i m4 = _mm512_set1_epi32(15), m2 = _mm512_set1_epi32(3), k32 = _mm512_set1_epi32(32);
          const __m512i q[4] = {
              _mm512_or_si512(_mm512_and_si512(lo, m4), _mm512_slli_epi32(_mm512_and_si512(hb, m2), 4)),
              _mm512_or_si512(_mm512_and_si512(hi, m4), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hb, 2), m2), 4)),
              _mm512_or_si512(_mm512_srli_epi32(lo, 4), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hb, 4), m2), 4)),
              _mm512_or_si512(_mm512_srli_epi32(hi, 4), _mm512_slli_epi32(_mm512_srli_epi32(hb, 6), 4)),
          };
          for (int t = 0; t < 4; t++) {
            const __m512 ds = _mm512_set1_ps(d * static_cast<float>(sh[is + 2 * t]));
            _mm512_storeu_ps(y + 32 * t + l0, _mm512_mul_ps(ds, _mm512_cvtepi32_ps(_mm512_sub_epi32(q[t], k32))));
          }
        }
        continue;
#endif
        for (int l = 0; l < 32; l++) {
          const int is = l >> 4;
          const int hb = qh[l];
          y[l] = d * sh[is] * static_cast<float>(((ql[l] & 15) | ((hb & 3) << 4)) - 32);
          y[l + 32] = d * sh[is + 2] * static_cast<float>(((ql[l + 32] & 15) | (((hb >> 2) & 3) << 4)) - 32);
          y[l + 64] = d * sh[is + 4] * static_cast<float>(((ql[l] >> 4) | (((hb >> 4) & 3) << 4)) - 32);
          y[l + 96] = d * sh[is + 6] * static_cast<float>(((ql[l + 32] >> 4) | (((hb >> 6) & 3) << 4)) - 32);
        }
      }
      return;
    }
  }
}

// ---- GEMV: R activation rows (x: R rows of K floats, ldx apart) ---------------------------------

// acc[r] += dot(w[0..len), x[r][0..len)) for a decoded block (len a multiple of 16).
#if defined(__AVX512F__)
using Vec = __m512;
constexpr int kLanes = 16;
inline Vec VZero() { return _mm512_setzero_ps(); }
inline Vec VLoad(const float* p) { return _mm512_loadu_ps(p); }
inline Vec VFma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline float VSum(Vec v) { return _mm512_reduce_add_ps(v); }
#elif defined(__AVX2__)
using Vec = __m256;
constexpr int kLanes = 8;
inline Vec VZero() { return _mm256_setzero_ps(); }
inline Vec VLoad(const float* p) { return _mm256_loadu_ps(p); }
inline Vec VFma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline float VSum(Vec v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#endif

template <int R>
void RowsDecoded(const GgufPlan& p, const float* x, int64_t ldx, float* C, int64_t ldc, int64_t n0, int64_t n1) {
  alignas(64) float w[256];
  const int bs = p.info.block;
#if defined(__AVX512F__) || defined(__AVX2__)
  for (int64_t n = n0; n < n1; n++) {
    Vec acc[R][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = VZero();
    for (int64_t b = 0; b < p.B; b++) {
      DecodeBlock(p, n, b, w);
      const float* xb = x + b * bs;
      for (int i = 0; i < bs; i += 2 * kLanes) {
        Vec w0 = VLoad(w + i), w1 = VLoad(w + i + kLanes);
        for (int r = 0; r < R; r++) {
          acc[r][0] = VFma(w0, VLoad(xb + r * ldx + i), acc[r][0]);
          acc[r][1] = VFma(w1, VLoad(xb + r * ldx + i + kLanes), acc[r][1]);
        }
      }
    }
    for (int r = 0; r < R; r++) C[r * ldc + n] = VSum(acc[r][0]) + VSum(acc[r][1]);
  }
#else
  for (int64_t n = n0; n < n1; n++) {
    float acc[R] = {};
    for (int64_t b = 0; b < p.B; b++) {
      DecodeBlock(p, n, b, w);
      for (int r = 0; r < R; r++) {
        const float* xb = x + r * ldx + b * bs;
        float s = 0;
        for (int i = 0; i < bs; i++) s += w[i] * xb[i];
        acc[r] += s;
      }
    }
    for (int r = 0; r < R; r++) C[r * ldc + n] = acc[r];
  }
#endif
}

// q4_0 / q4_1 / q8_0 decoded straight into registers (no trip through memory). The row's block
// scales are widened to f32 first (one F16C convert per 8 or 16 blocks rather than one per block).
template <int R>
void Rows32(const GgufPlan& p, const float* x, int64_t ldx, float* C, int64_t ldc, int64_t n0, int64_t n1) {
#if defined(__AVX512F__) || defined(__AVX2__)
  const int64_t B = p.B;
  const bool q41 = p.fmt == Fmt::Q4_1, q80 = p.fmt == Fmt::Q8_0;
  const int per = q41 ? 2 : 1;  // f16 scale words per block
  thread_local std::vector<float> sc;
  if (sc.size() < static_cast<size_t>(B * per)) sc.resize(B * per);
#if defined(__AVX512F__)
  const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512 iota8 = _mm512_sub_ps(iota, _mm512_set1_ps(8.0f));
#endif
  for (int64_t n = n0; n < n1; n++) {
    HalfToFloatN(reinterpret_cast<const uint16_t*>(p.SRow(n)), sc.data(), B * per);
    const uint8_t* qrow = p.QRow(n);
    Vec acc[R][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = VZero();
    for (int64_t b = 0; b < B; b++) {
      const float* xb = x + b * 32;
#if defined(__AVX512F__)
      const __m512 d = _mm512_set1_ps(sc[b * per]);
      __m512 w0, w1;
      if (q80) {
        const int8_t* v = reinterpret_cast<const int8_t*>(qrow + b * 32);
        w0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v)))), d);
        w1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + 16)))), d);
      } else {
        // The block's 16 possible weights as a table (one FMA: exactly ggml's q * d + m, or
        // (q - 8) * d), then each nibble looks its weight up with vpermps, which reads only the
        // low 4 bits of an index lane: the byte itself indexes its low nibble, the byte >> 4 its
        // high one. This moves the int->float conversions off the FMA ports (vpermps runs on the
        // shuffle port): 3 FMA-port operations a block instead of 6 for one activation row.
        const __m512 table = q41 ? _mm512_fmadd_ps(iota, d, _mm512_set1_ps(sc[b * 2 + 1])) : _mm512_mul_ps(iota8, d);
        __m512i v = Bytes16(qrow + b * 16);
        w0 = _mm512_permutexvar_ps(v, table);
        w1 = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table);
      }
      for (int r = 0; r < R; r++) {
        acc[r][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xb + r * ldx), acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xb + r * ldx + 16), acc[r][1]);
      }
#else  // AVX2: a block is two halves of 8 bytes (q4: weights j..j+7 and j+16..j+23)
      const __m256 d = _mm256_set1_ps(sc[b * per]);
      for (int h = 0; h < 2; h++) {
        __m256 w0, w1;
        if (q80) {
          const int8_t* v = reinterpret_cast<const int8_t*>(qrow + b * 32 + 16 * h);
          w0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(v)))), d);
          w1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(v + 8)))), d);
        } else {
          __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(qrow + b * 16 + 8 * h)));
          __m256 lo = _mm256_cvtepi32_ps(_mm256_and_si256(v, _mm256_set1_epi32(15)));
          __m256 hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(v, 4));
          if (q41) {
            const __m256 m = _mm256_set1_ps(sc[b * 2 + 1]);
            w0 = _mm256_fmadd_ps(lo, d, m);
            w1 = _mm256_fmadd_ps(hi, d, m);
          } else {
            const __m256 eight = _mm256_set1_ps(8.0f);
            w0 = _mm256_mul_ps(_mm256_sub_ps(lo, eight), d);
            w1 = _mm256_mul_ps(_mm256_sub_ps(hi, eight), d);
          }
        }
        // q8_0: w0, w1 are weights 16h..16h+7 and 16h+8..16h+15; q4: 8h..8h+7 and 16+8h..16+8h+7.
        const int o0 = q80 ? 16 * h : 8 * h, o1 = q80 ? 16 * h + 8 : 16 + 8 * h;
        for (int r = 0; r < R; r++) {
          acc[r][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xb + r * ldx + o0), acc[r][0]);
          acc[r][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xb + r * ldx + o1), acc[r][1]);
        }
      }
#endif
    }
    for (int r = 0; r < R; r++) C[r * ldc + n] = VSum(acc[r][0]) + VSum(acc[r][1]);
  }
#else
  RowsDecoded<R>(p, x, ldx, C, ldc, n0, n1);
#endif
}

template <int R>
void GemvRows(const GgufPlan& p, const float* x, int64_t ldx, float* C, int64_t ldc, int64_t n0, int64_t n1) {
  if (p.fmt == Fmt::Q4_K || p.fmt == Fmt::Q6_K) RowsDecoded<R>(p, x, ldx, C, ldc, n0, n1);
  else Rows32<R>(p, x, ldx, C, ldc, n0, n1);
}

void Gemv(int r, const GgufPlan& p, const float* x, int64_t ldx, float* C, int64_t ldc, int64_t n0, int64_t n1) {
  switch (r) {
    case 1: GemvRows<1>(p, x, ldx, C, ldc, n0, n1); break;
    case 2: GemvRows<2>(p, x, ldx, C, ldc, n0, n1); break;
    case 3: GemvRows<3>(p, x, ldx, C, ldc, n0, n1); break;
    case 4: GemvRows<4>(p, x, ldx, C, ldc, n0, n1); break;
    case 5: GemvRows<5>(p, x, ldx, C, ldc, n0, n1); break;
    case 6: GemvRows<6>(p, x, ldx, C, ldc, n0, n1); break;
    case 7: GemvRows<7>(p, x, ldx, C, ldc, n0, n1); break;
    default: GemvRows<8>(p, x, ldx, C, ldc, n0, n1); break;
  }
}

#ifdef XPU_HAVE_DNNL  // only the oneDNN tile path decodes whole rows
// Weight rows [n0, n1) as a dense f32 [n1 - n0, K] tile (threaded over rows).
void DecodeRows(const GgufPlan& p, int64_t n0, int64_t n1, float* dst) {
#pragma omp parallel for schedule(static)
  for (int64_t n = n0; n < n1; n++) {
    for (int64_t b = 0; b < p.B; b++) DecodeBlock(p, n, b, dst + (n - n0) * p.K + b * p.info.block);
  }
}
#endif

}  // namespace

std::string RunGguf(const GgufPlan& p) {
  const int64_t M = p.M, N = p.N, K = p.K;
  // The activations as a dense f32 [M, K] (one pass; strided and float16 operands included).
  std::vector<float> x(M * K);
  for (int64_t i = 0; i < M; i++) {
    if (p.a.kind == StridedMatrix::kF32 && p.a.s1 == 1) std::memcpy(x.data() + i * K, static_cast<const float*>(p.a.data) + p.a.offset + i * p.a.s0, K * 4);
    else for (int64_t k = 0; k < K; k++) x[i * K + k] = p.a.At(i, k);
  }
  // Written in place when the output is f32 (every element is stored by exactly one kernel).
  std::vector<float> tmp;
  float* C = p.outF16 ? (tmp.resize(M * N), tmp.data()) : reinterpret_cast<float*>(p.out);
  bool gemv = M <= 8;
#ifndef XPU_HAVE_DNNL
  gemv = true;
#endif
  if (p.q8act) {
    GgufQ8Matmul(p, x.data(), C);
  } else if (gemv) {
    // 16-row chunks (each thread streams whole weight rows); 8 activation rows per pass.
    const int64_t chunk = 16, chunks = (N + chunk - 1) / chunk;
    for (int64_t m0 = 0; m0 < M; m0 += 8) {
      const int r = static_cast<int>(std::min<int64_t>(8, M - m0));
      const auto chunkRows = [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; c++) Gemv(r, p, x.data() + m0 * K, K, C + m0 * N, N, c * chunk, std::min(N, (c + 1) * chunk));
      };
      if (InlineTeamActive()) {
        InlineSplit(chunks, chunkRows);
        continue;
      }
#pragma omp parallel for schedule(static)
      for (int64_t c = 0; c < chunks; c++) chunkRows(c, c + 1);
    }
  } else {
#ifdef XPU_HAVE_DNNL
    const int64_t NB = std::max<int64_t>(64, std::min<int64_t>(N, (1 << 20) / K));  // ~4 MB tiles
    std::vector<float> tile(NB * K);
    for (int64_t n0 = 0; n0 < N; n0 += NB) {
      const int64_t n1 = std::min(N, n0 + NB);
      DecodeRows(p, n0, n1, tile.data());
      dnnl_status_t st = dnnl_sgemm('N', 'T', M, n1 - n0, K, 1.0f, x.data(), K, tile.data(), K, 0.0f, C + n0, N);
      if (st != dnnl_success) return "dnnl_sgemm failed in the GGUF quantized linear";
    }
#endif
  }
  // Epilogue, as the dense GEMM's (gemm.cc): act(C + bias) + residual.
  if (p.bias.present || p.act || p.res.present) {
    for (int64_t i = 0; i < M; i++) {
      for (int64_t j = 0; j < N; j++) {
        float v = C[i * N + j];
        if (p.bias.present) v += p.bias.At(i, j);
        if (p.act == 1) v = v > 0.0f ? v : (v == v ? 0.0f : v);
        else if (p.act == 2) v = 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f));
        else if (p.act == 3) v = v / (1.0f + std::exp(-v));
        if (p.res.present) v += p.res.At(i, j);
        C[i * N + j] = v;
      }
    }
  }
  if (p.outF16) FloatToHalfN(C, reinterpret_cast<uint16_t*>(p.out), M * N);
  return "";
}

}  // namespace xpu::compute
