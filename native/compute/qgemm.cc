// The native quantized linear: out[M, N] = a[M, K] @ dequant(w)^T + bias, on the compute queue.
// Formats (docs/quantization.md, src/quant/pack.ts):
//   int8: int8 q [N, KP] (KP = ceil(K / 32) * 32, rows zero-padded), scales [N];
//   int4: uint32 q [N, K / 8]; word w of a row holds elements 8w..8w+7: byte b's low nibble is
//         element 8w + b, its high nibble element 8w + 4 + b; scales and uint8 zeros [N, K / gs]
//         (gs in {32, 64, 128, 256}); value = (q - zero) * scale;
//   w8a8 (int8_dynamic): a is int8 [M, KP] with float32 scales per row; integer products are
//         summed exactly in int32 and rescaled by aScale[m] * scale[n].
//
// Kernels (our own; the ideas follow llama.cpp's q4/q8 dot kernels, the code is written here):
//   - few rows (M <= 8, or always for w8a8): GEMV-style streaming of the weight bytes, each
//     weight row unpacked once into f32 lanes and FMA'd with up to 8 activation rows held in
//     registers. int4: 16 bytes (32 nibbles) -> 16 int32 lanes (vpmovzxbd), low nibbles by a
//     mask, high ones by a shift; the activations are permuted once per call into the same lane
//     order (so the weights never need shuffling), and the zero point is applied per group as
//     sum_g scale_g * (sum q x - zero_g * sum_g x) with sum_g x precomputed.
//   - many rows (M > 8, weight-only): blocks of weight rows dequantized to an f32 tile, then
//     oneDNN's sgemm against the tile (compute-bound there; the dequantization is O(N K)).
// Rows of N are split across OpenMP threads (the same libgomp pool oneDNN uses). The JS face is
// qgemm_binding.cc.
// GCC 12 flags the AVX-512 reduction intrinsics in its own headers (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "qgemm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "half.h"

#ifdef XPU_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace xpu::compute {
namespace {

inline float HSum(const float* v, int n) {
  float s = 0;
  for (int i = 0; i < n; i++) s += v[i];
  return s;
}

#ifdef __AVX512F__
inline float Reduce(__m512 v) { return _mm512_reduce_add_ps(v); }
#endif

// ---- int4, few rows -----------------------------------------------------------------------------
// xp: per row, K floats in "lane order": for each 32-element block, 16 values for the low
// nibbles of its 16 bytes then 16 for the high nibbles. sx: per row, G group sums of x.
template <int R>
void Int4Rows(const QuantPlan& p, const float* xp, const float* sx, const float* sc, float* C, int64_t m0, int64_t n0, int64_t n1) {
  const int64_t K = p.K, G = p.G, gs = p.gs, wordsPerRow = K / 8;
  const uint32_t* words = reinterpret_cast<const uint32_t*>(p.q);
  const uint8_t* zeros = p.zeros;
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t* row = reinterpret_cast<const uint8_t*>(words + n * wordsPerRow);
    const float* scn = sc + n * G;
    const uint8_t* zn = zeros + n * G;
    float zterm[R];
    for (int r = 0; r < R; r++) zterm[r] = 0;
#ifdef __AVX512F__
    // Low and high nibbles accumulate in separate registers, and with few rows two blocks at a
    // time, so the FMAs form independent chains (one chain would wait on the FMA latency).
    constexpr int U = R <= 2 ? 2 : 1;
    __m512 acc[R];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    const __m512i mask = _mm512_set1_epi32(0xF);
    const int64_t bpg = gs / 32;
    for (int64_t g = 0; g < G; g++) {
      __m512 dl[U][R], dh[U][R];
      for (int u = 0; u < U; u++) for (int r = 0; r < R; r++) dl[u][r] = dh[u][r] = _mm512_setzero_ps();
      int64_t blk = g * bpg;
      const int64_t end = blk + bpg;
      for (; blk + U <= end; blk += U) {
        for (int u = 0; u < U; u++) {
          __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + (blk + u) * 16)));
          __m512 lo = _mm512_cvtepi32_ps(_mm512_and_si512(v, mask));
          __m512 hi = _mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4));
          for (int r = 0; r < R; r++) {
            const float* x = xp + (m0 + r) * K + (blk + u) * 32;
            dl[u][r] = _mm512_fmadd_ps(lo, _mm512_loadu_ps(x), dl[u][r]);
            dh[u][r] = _mm512_fmadd_ps(hi, _mm512_loadu_ps(x + 16), dh[u][r]);
          }
        }
      }
      for (; blk < end; blk++) {
        __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + blk * 16)));
        __m512 lo = _mm512_cvtepi32_ps(_mm512_and_si512(v, mask));
        __m512 hi = _mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4));
        for (int r = 0; r < R; r++) {
          const float* x = xp + (m0 + r) * K + blk * 32;
          dl[0][r] = _mm512_fmadd_ps(lo, _mm512_loadu_ps(x), dl[0][r]);
          dh[0][r] = _mm512_fmadd_ps(hi, _mm512_loadu_ps(x + 16), dh[0][r]);
        }
      }
      __m512 s = _mm512_set1_ps(scn[g]);
      float sz = scn[g] * zn[g];
      for (int r = 0; r < R; r++) {
        __m512 dot = _mm512_add_ps(dl[0][r], dh[0][r]);
        for (int u = 1; u < U; u++) dot = _mm512_add_ps(dot, _mm512_add_ps(dl[u][r], dh[u][r]));
        acc[r] = _mm512_fmadd_ps(dot, s, acc[r]);
        zterm[r] += sz * sx[(m0 + r) * G + g];
      }
    }
    for (int r = 0; r < R; r++) C[(m0 + r) * p.N + n] = Reduce(acc[r]) - zterm[r];
#elif defined(__AVX2__)
    __m256 acc[R];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    const __m256i mask = _mm256_set1_epi32(0xF);
    for (int64_t g = 0; g < G; g++) {
      __m256 dot[R];
      for (int r = 0; r < R; r++) dot[r] = _mm256_setzero_ps();
      for (int64_t blk = g * gs / 32; blk < (g + 1) * gs / 32; blk++) {
        for (int h = 0; h < 2; h++) {
          __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + blk * 16 + h * 8)));
          __m256 lo = _mm256_cvtepi32_ps(_mm256_and_si256(v, mask));
          __m256 hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(v, 4));
          for (int r = 0; r < R; r++) {
            const float* x = xp + (m0 + r) * K + blk * 32 + h * 8;
            dot[r] = _mm256_fmadd_ps(lo, _mm256_loadu_ps(x), dot[r]);
            dot[r] = _mm256_fmadd_ps(hi, _mm256_loadu_ps(x + 16), dot[r]);
          }
        }
      }
      __m256 s = _mm256_set1_ps(scn[g]);
      float sz = scn[g] * zn[g];
      for (int r = 0; r < R; r++) {
        acc[r] = _mm256_fmadd_ps(dot[r], s, acc[r]);
        zterm[r] += sz * sx[(m0 + r) * G + g];
      }
    }
    for (int r = 0; r < R; r++) {
      alignas(32) float t[8];
      _mm256_store_ps(t, acc[r]);
      C[(m0 + r) * p.N + n] = HSum(t, 8) - zterm[r];
    }
#else
    float acc[R];
    for (int r = 0; r < R; r++) acc[r] = 0;
    for (int64_t g = 0; g < G; g++) {
      float dot[R];
      for (int r = 0; r < R; r++) dot[r] = 0;
      for (int64_t blk = g * gs / 32; blk < (g + 1) * gs / 32; blk++) {
        for (int t = 0; t < 16; t++) {
          uint8_t byte = row[blk * 16 + t];
          float lo = static_cast<float>(byte & 0xF), hi = static_cast<float>(byte >> 4);
          for (int r = 0; r < R; r++) {
            const float* x = xp + (m0 + r) * K + blk * 32;
            dot[r] += lo * x[t] + hi * x[16 + t];
          }
        }
      }
      for (int r = 0; r < R; r++) {
        acc[r] += dot[r] * scn[g];
        zterm[r] += scn[g] * zn[g] * sx[(m0 + r) * G + g];
      }
    }
    for (int r = 0; r < R; r++) C[(m0 + r) * p.N + n] = acc[r] - zterm[r];
#endif
  }
}

// ---- int8 weight-only, few rows (x: [rows, KP] f32, zero-padded) --------------------------------
template <int R>
void Int8Rows(const QuantPlan& p, const float* x, const float* sc, float* C, int64_t m0, int64_t n0, int64_t n1) {
  const int64_t KP = p.KP;
  const int8_t* q = reinterpret_cast<const int8_t*>(p.q);
  for (int64_t n = n0; n < n1; n++) {
    const int8_t* row = q + n * KP;
#ifdef __AVX512F__
    // Two 16-element halves of each 32-byte step in separate accumulators (independent chains).
    __m512 acc[2][R];
    for (int r = 0; r < R; r++) acc[0][r] = acc[1][r] = _mm512_setzero_ps();
    for (int64_t kk = 0; kk < KP; kk += 32) {
      for (int u = 0; u < 2; u++) {
        __m512 w = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + kk + 16 * u))));
        for (int r = 0; r < R; r++) acc[u][r] = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + (m0 + r) * KP + kk + 16 * u), acc[u][r]);
      }
    }
    for (int r = 0; r < R; r++) C[(m0 + r) * p.N + n] = Reduce(_mm512_add_ps(acc[0][r], acc[1][r])) * sc[n];
#elif defined(__AVX2__)
    __m256 acc[R];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t kk = 0; kk < KP; kk += 8) {
      __m256 w = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + kk))));
      for (int r = 0; r < R; r++) acc[r] = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + (m0 + r) * KP + kk), acc[r]);
    }
    for (int r = 0; r < R; r++) {
      alignas(32) float t[8];
      _mm256_store_ps(t, acc[r]);
      C[(m0 + r) * p.N + n] = HSum(t, 8) * sc[n];
    }
#else
    for (int r = 0; r < R; r++) {
      const float* xr = x + (m0 + r) * KP;
      float acc = 0;
      for (int64_t kk = 0; kk < KP; kk++) acc += row[kk] * xr[kk];
      C[(m0 + r) * p.N + n] = acc * sc[n];
    }
#endif
  }
}

// ---- w8a8: exact int32 dot products (a8: [M, KP] int8, zero-padded) -----------------------------
template <int R>
void W8A8Rows(const QuantPlan& p, const int8_t* a8, const float* as, const float* sc, float* C, int64_t m0, int64_t n0, int64_t n1) {
  const int64_t KP = p.KP;
  const int8_t* q = reinterpret_cast<const int8_t*>(p.q);
  for (int64_t n = n0; n < n1; n++) {
    const int8_t* row = q + n * KP;
    int64_t tot[R];
#if defined(__AVX512BW__)
    __m512i acc[R];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_si512();
    for (int64_t kk = 0; kk < KP; kk += 32) {
      __m512i w = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + kk)));
      for (int r = 0; r < R; r++) {
        __m512i x = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a8 + (m0 + r) * KP + kk)));
        acc[r] = _mm512_add_epi32(acc[r], _mm512_madd_epi16(w, x));  // |sum| < 2^31 for K < 2^17
      }
    }
    for (int r = 0; r < R; r++) tot[r] = _mm512_reduce_add_epi32(acc[r]);
#else
    for (int r = 0; r < R; r++) {
      const int8_t* xr = a8 + (m0 + r) * KP;
      int64_t s = 0;
      for (int64_t kk = 0; kk < KP; kk++) s += static_cast<int32_t>(row[kk]) * xr[kk];
      tot[r] = s;
    }
#endif
    for (int r = 0; r < R; r++) C[(m0 + r) * p.N + n] = static_cast<float>(static_cast<double>(tot[r]) * as[m0 + r] * sc[n]);
  }
}

template <template <int> class F, class... Args>
void Dispatch(int r, Args&&... args) {
  switch (r) {
    case 1: F<1>::run(args...); break;
    case 2: F<2>::run(args...); break;
    case 3: F<3>::run(args...); break;
    case 4: F<4>::run(args...); break;
    case 5: F<5>::run(args...); break;
    case 6: F<6>::run(args...); break;
    case 7: F<7>::run(args...); break;
    default: F<8>::run(args...); break;
  }
}
template <int R> struct Int4F { template <class... A> static void run(A&&... a) { Int4Rows<R>(a...); } };
template <int R> struct Int8F { template <class... A> static void run(A&&... a) { Int8Rows<R>(a...); } };
template <int R> struct W8A8F { template <class... A> static void run(A&&... a) { W8A8Rows<R>(a...); } };

#ifdef XPU_HAVE_DNNL  // only the oneDNN tile path dequantizes
// Rows n0..n1 of the weight dequantized to f32 [n1 - n0, K].
void Dequant(const QuantPlan& p, const float* sc, int64_t n0, int64_t n1, float* dst) {
  const int64_t K = p.K;
#pragma omp parallel for schedule(static)
  for (int64_t n = n0; n < n1; n++) {
    float* d = dst + (n - n0) * K;
    if (!p.int4) {
      const int8_t* row = reinterpret_cast<const int8_t*>(p.q) + n * p.KP;
      float s = sc[n];
      for (int64_t kk = 0; kk < K; kk++) d[kk] = row[kk] * s;
    } else {
      const uint8_t* row = reinterpret_cast<const uint8_t*>(reinterpret_cast<const uint32_t*>(p.q) + n * (K / 8));
      const uint8_t* zn = p.zeros + n * p.G;
      for (int64_t g = 0; g < p.G; g++) {
        float s = sc[n * p.G + g], z = zn[g];
        for (int64_t e = g * p.gs; e < (g + 1) * p.gs; e++) {
          uint8_t byte = row[(e >> 3) * 4 + (e & 3)];
          d[e] = (static_cast<float>((e & 4) ? byte >> 4 : byte & 0xF) - z) * s;
        }
      }
    }
  }
}
#endif

void RowsParallel(int64_t N, const std::function<void(int64_t, int64_t)>& f) {
  const int64_t chunk = 16;
  const int64_t chunks = (N + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; c++) f(c * chunk, std::min(N, (c + 1) * chunk));
}

}  // namespace

std::string RunQuant(const QuantPlan& p) {
  const int64_t M = p.M, N = p.N, K = p.K, KP = p.KP;
  // Scales as f32.
  const int64_t ns = p.int4 ? N * p.G : N;
  std::vector<float> sc(ns);
  if (p.scalesF16) HalfToFloatN(reinterpret_cast<const uint16_t*>(p.scales), sc.data(), ns);
  else std::memcpy(sc.data(), p.scales, ns * 4);
  std::vector<float> C(M * N);
  if (p.w8a8) {
    std::vector<int8_t> a8(M * KP, 0);
    for (int64_t i = 0; i < M; i++) for (int64_t kk = 0; kk < K; kk++) a8[i * KP + kk] = static_cast<const int8_t*>(p.a.data)[p.a.offset + i * p.a.s0 + kk * p.a.s1];
    const float* as = p.aScales;
    for (int64_t m0 = 0; m0 < M; m0 += 8) {
      int r = static_cast<int>(std::min<int64_t>(8, M - m0));
      RowsParallel(N, [&](int64_t n0, int64_t n1) { Dispatch<W8A8F>(r, p, a8.data(), as, sc.data(), C.data(), m0, n0, n1); });
    }
  } else {
    bool gemv = M <= 8;
#ifndef XPU_HAVE_DNNL
    gemv = true;
#endif
    if (gemv && p.int4) {
      std::vector<float> xp(M * K), sx(M * p.G);
      for (int64_t i = 0; i < M; i++) {
        for (int64_t blk = 0; blk < K / 32; blk++) {
          float* d = xp.data() + i * K + blk * 32;
          for (int t = 0; t < 16; t++) {
            int64_t e = blk * 32 + 8 * (t >> 2) + (t & 3);
            d[t] = p.a.At(i, e);
            d[16 + t] = p.a.At(i, e + 4);
          }
        }
        for (int64_t g = 0; g < p.G; g++) {
          double s = 0;
          for (int64_t e = g * p.gs; e < (g + 1) * p.gs; e++) s += xp[i * K + e];
          sx[i * p.G + g] = static_cast<float>(s);
        }
      }
      for (int64_t m0 = 0; m0 < M; m0 += 8) {
        int r = static_cast<int>(std::min<int64_t>(8, M - m0));
        RowsParallel(N, [&](int64_t n0, int64_t n1) { Dispatch<Int4F>(r, p, xp.data(), sx.data(), sc.data(), C.data(), m0, n0, n1); });
      }
    } else if (gemv) {
      std::vector<float> x(M * KP, 0.0f);
      for (int64_t i = 0; i < M; i++) for (int64_t kk = 0; kk < K; kk++) x[i * KP + kk] = p.a.At(i, kk);
      for (int64_t m0 = 0; m0 < M; m0 += 8) {
        int r = static_cast<int>(std::min<int64_t>(8, M - m0));
        RowsParallel(N, [&](int64_t n0, int64_t n1) { Dispatch<Int8F>(r, p, x.data(), sc.data(), C.data(), m0, n0, n1); });
      }
    } else {
#ifdef XPU_HAVE_DNNL
      std::vector<float> x(M * K);
      for (int64_t i = 0; i < M; i++) for (int64_t kk = 0; kk < K; kk++) x[i * K + kk] = p.a.At(i, kk);
      const int64_t NB = std::max<int64_t>(64, std::min<int64_t>(N, (1 << 20) / K));  // ~4 MB tiles
      std::vector<float> tile(NB * K);
      for (int64_t n0 = 0; n0 < N; n0 += NB) {
        int64_t n1 = std::min(N, n0 + NB);
        Dequant(p, sc.data(), n0, n1, tile.data());
        dnnl_status_t st = dnnl_sgemm('N', 'T', M, n1 - n0, K, 1.0f, x.data(), K, tile.data(), K, 0.0f, C.data() + n0, N);
        if (st != dnnl_success) return "dnnl_sgemm failed in the quantized linear";
      }
#endif
    }
  }
  // Epilogue: bias, then the output dtype.
  if (p.bias.present) {
    for (int64_t i = 0; i < M; i++) for (int64_t j = 0; j < N; j++) C[i * N + j] += p.bias.At(i, j);
  }
  if (p.outF16) FloatToHalfN(C.data(), reinterpret_cast<uint16_t*>(p.out), M * N);
  else std::memcpy(p.out, C.data(), M * N * 4);
  return "";
}

}  // namespace xpu::compute
