// Streaming weight-row kernels for the native GEMM (gemm.cc), for a Linear weight W [N, K] whose
// rows are contiguous along K (B = W^T). A float16 weight stays float16 in memory and is converted
// as it is streamed, never copied to float32 whole.
//
//   - GemvF16 / GemvF32: C[M, N] = alpha * A[M, K] W^T for few rows (M <= 8, decode). Each weight
//     row is read once (float16: converted 16 (AVX-512) or 8 (AVX2) lanes at a time with F16C) and
//     FMA'd with the M activation rows, which stay in cache; NB weight rows at a time give
//     independent FMA chains. Rows of W are split across OpenMP threads (libgomp, the pool oneDNN
//     uses). Such a GEMV is bound by reading W: a float16 weight is half the bytes of an f32 one.
//     The f32 one replaces dnnl_sgemm for decode: oneDNN's GEMV measured 0.6-0.8x numpy's
//     OpenBLAS sgemv at M = 1 on a 4096x4096 weight (bench gemm, linear-llm).
//   - HalfRowsToFloat: rows of W converted to a dense f32 tile (threaded), for the many-row path
//     in gemm.cc that multiplies tile by tile with sgemm.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "gemv.h"

#include <algorithm>
#include <cstdint>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "half.h"
#include "inline_team.h"

namespace xpu::compute {
namespace {

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define XPU_F16_AVX512 1
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define XPU_F16_AVX2 1
#endif

// 16 (AVX-512) or 8 (AVX2) weight elements as f32 lanes, a masked tail, and one element.
#if defined(XPU_F16_AVX512)
inline __m512 LoadW(const uint16_t* w) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w))); }
inline __m512 LoadW(const float* w) { return _mm512_loadu_ps(w); }
inline __m512 LoadWTail(const uint16_t* w, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w)); }
inline __m512 LoadWTail(const float* w, __mmask16 m) { return _mm512_maskz_loadu_ps(m, w); }
#elif defined(XPU_F16_AVX2)
inline __m256 LoadW(const uint16_t* w) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w))); }
inline __m256 LoadW(const float* w) { return _mm256_loadu_ps(w); }
#endif
inline float WAt(const uint16_t* w, int64_t k) { return HalfToFloat(w[k]); }
inline float WAt(const float* w, int64_t k) { return w[k]; }

// Weight rows n..n+NB (independent FMA chains, each activation load reused NB times) against R
// activation rows. x: R rows of K floats, row stride ldx. C row stride ldc. T: uint16_t (float16
// bits) or float.
template <int R, int NB, class T>
void Rows(const float* x, int64_t ldx, const T* W, int64_t ldw, int64_t K, float alpha, float* C, int64_t ldc, int64_t n) {
  const T* w[NB];
  for (int b = 0; b < NB; b++) w[b] = W + (n + b) * ldw;
  float out[R][NB];
#if defined(XPU_F16_AVX512)
  __m512 acc[R][NB];
  for (int r = 0; r < R; r++) for (int b = 0; b < NB; b++) acc[r][b] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 wv[NB];
    for (int b = 0; b < NB; b++) wv[b] = LoadW(w[b] + k);
    for (int r = 0; r < R; r++) {
      __m512 xv = _mm512_loadu_ps(x + r * ldx + k);
      for (int b = 0; b < NB; b++) acc[r][b] = _mm512_fmadd_ps(wv[b], xv, acc[r][b]);
    }
  }
  if (k < K) {
    const __mmask16 m = static_cast<__mmask16>((1u << (K - k)) - 1);
    __m512 wv[NB];
    for (int b = 0; b < NB; b++) wv[b] = LoadWTail(w[b] + k, m);
    for (int r = 0; r < R; r++) {
      __m512 xv = _mm512_maskz_loadu_ps(m, x + r * ldx + k);
      for (int b = 0; b < NB; b++) acc[r][b] = _mm512_fmadd_ps(wv[b], xv, acc[r][b]);
    }
  }
  for (int r = 0; r < R; r++) for (int b = 0; b < NB; b++) out[r][b] = _mm512_reduce_add_ps(acc[r][b]);
#elif defined(XPU_F16_AVX2)
  __m256 acc[R][NB];
  for (int r = 0; r < R; r++) for (int b = 0; b < NB; b++) acc[r][b] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 wv[NB];
    for (int b = 0; b < NB; b++) wv[b] = LoadW(w[b] + k);
    for (int r = 0; r < R; r++) {
      __m256 xv = _mm256_loadu_ps(x + r * ldx + k);
      for (int b = 0; b < NB; b++) acc[r][b] = _mm256_fmadd_ps(wv[b], xv, acc[r][b]);
    }
  }
  for (int r = 0; r < R; r++) {
    for (int b = 0; b < NB; b++) {
      __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc[r][b]), _mm256_extractf128_ps(acc[r][b], 1));
      s = _mm_hadd_ps(s, s);
      s = _mm_hadd_ps(s, s);
      out[r][b] = _mm_cvtss_f32(s);
    }
  }
  for (; k < K; k++) {
    for (int b = 0; b < NB; b++) {
      float wk = WAt(w[b], k);
      for (int r = 0; r < R; r++) out[r][b] += wk * x[r * ldx + k];
    }
  }
#else
  for (int r = 0; r < R; r++) for (int b = 0; b < NB; b++) out[r][b] = 0.0f;
  for (int64_t k = 0; k < K; k++) {
    for (int b = 0; b < NB; b++) {
      float wk = WAt(w[b], k);
      for (int r = 0; r < R; r++) out[r][b] += wk * x[r * ldx + k];
    }
  }
#endif
  for (int r = 0; r < R; r++) for (int b = 0; b < NB; b++) C[r * ldc + n + b] = alpha * out[r][b];
}

// Weight rows [n0, n1) against R activation rows: NB rows at a time while they last, then one.
template <int R, class T>
void RowsRange(const float* x, int64_t ldx, const T* W, int64_t ldw, int64_t K, float alpha, float* C, int64_t ldc, int64_t n0, int64_t n1) {
  // Few activation rows: more weight rows per step for independent chains; registers bound it
  // (R x NB accumulators + NB weight vectors).
  constexpr int NB = R <= 2 ? 4 : R <= 4 ? 2 : 1;
  int64_t n = n0;
  for (; n + NB <= n1; n += NB) Rows<R, NB>(x, ldx, W, ldw, K, alpha, C, ldc, n);
  for (; n < n1; n++) Rows<R, 1>(x, ldx, W, ldw, K, alpha, C, ldc, n);
}

template <class T>
void RowsDispatch(int R, const float* x, int64_t ldx, const T* W, int64_t ldw, int64_t K, float alpha, float* C, int64_t ldc, int64_t n0, int64_t n1) {
  switch (R) {
    case 1: RowsRange<1>(x, ldx, W, ldw, K, alpha, C, ldc, n0, n1); break;
    case 2: RowsRange<2>(x, ldx, W, ldw, K, alpha, C, ldc, n0, n1); break;
    case 3: RowsRange<3>(x, ldx, W, ldw, K, alpha, C, ldc, n0, n1); break;
    case 4: RowsRange<4>(x, ldx, W, ldw, K, alpha, C, ldc, n0, n1); break;
    case 5: RowsRange<5>(x, ldx, W, ldw, K, alpha, C, ldc, n0, n1); break;
    case 6: RowsRange<6>(x, ldx, W, ldw, K, alpha, C, ldc, n0, n1); break;
    case 7: RowsRange<7>(x, ldx, W, ldw, K, alpha, C, ldc, n0, n1); break;
    default: RowsRange<8>(x, ldx, W, ldw, K, alpha, C, ldc, n0, n1); break;
  }
}

template <class T>
void Gemv(const float* A, int64_t M, int64_t lda, const T* W, int64_t ldw, int64_t N, int64_t K, float alpha, float* C, int64_t ldc) {
  // Chunks of 16 weight rows per OpenMP task; a small weight stays on the calling thread.
  const int64_t chunk = 16, chunks = (N + chunk - 1) / chunk;
  const bool threaded = N * K >= (int64_t{1} << 15);
  for (int64_t m0 = 0; m0 < M; m0 += 8) {
    const int r = static_cast<int>(std::min<int64_t>(8, M - m0));
    const auto chunkRows = [&](int64_t c0, int64_t c1) {
      RowsDispatch<T>(r, A + m0 * lda, lda, W, ldw, K, alpha, C + m0 * ldc, ldc, c0 * chunk, std::min(N, c1 * chunk));
    };
    if (InlineTeamActive()) {
      // On the JS thread (a `...Now` entry point): the inline team's helpers, not an OpenMP pool.
      if (threaded) InlineSplit(chunks, chunkRows);
      else chunkRows(0, chunks);
      continue;
    }
#pragma omp parallel for schedule(static) if (threaded)
    for (int64_t c = 0; c < chunks; c++) chunkRows(c, c + 1);
  }
}

}  // namespace

void GemvF16(const float* A, int64_t M, int64_t lda, const uint16_t* W, int64_t ldw, int64_t N, int64_t K, float alpha, float* C, int64_t ldc) {
  Gemv(A, M, lda, W, ldw, N, K, alpha, C, ldc);
}

void GemvF32(const float* A, int64_t M, int64_t lda, const float* W, int64_t ldw, int64_t N, int64_t K, float alpha, float* C, int64_t ldc) {
  Gemv(A, M, lda, W, ldw, N, K, alpha, C, ldc);
}

void HalfRowsToFloat(const uint16_t* W, int64_t ldw, int64_t rows, int64_t K, float* dst) {
#pragma omp parallel for schedule(static) if (rows * K >= (int64_t{1} << 15))
  for (int64_t i = 0; i < rows; i++) HalfToFloatN(W + i * ldw, dst + i * K, K);
}

}  // namespace xpu::compute
