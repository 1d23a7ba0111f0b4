// The q8_0 / q4_0 GGUF linear on int8 activations for many activation rows (see qgemm_gguf_q8_wide.h).
//
// Why a second kernel: the row kernels (qgemm_gguf_q8.cc) keep ggml's vec_dot order, 8 lanes of 4
// products per 32-value block, which caps a 512-bit vpdpbusd at two block products and costs a
// convert, a multiply and an fma per 64 multiply-adds. Here the lanes are 16 weight rows instead
// (the layout of VNNI GEMMs such as oneDNN's and llama.cpp's repacked kernels): weights of 16 rows
// are repacked per call as [block][4-byte group][row][4 bytes], each activation's 4 bytes are
// broadcast, and one vpdpbusd does 64 multiply-adds for 16 outputs; the block's integer sums then
// take one convert, multiply and fma per 16 outputs x 32 multiply-adds.
//
// vpdpbusd multiplies unsigned by signed bytes: the weights go in biased, q8_0's as w + 128 (a
// sign-bit flip), q4_0's as the stored nibble (w + 8), and every block sum starts at -bias * (the
// activation block's sum), so the integer is w . q exactly (|w . q| <= 32 * 128 * 127 < 2^24:
// exact in float32 too).
#include "qgemm_gguf_q8_wide.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__AVX512F__) && defined(__AVX512VNNI__) && defined(__AVX512BW__)
#include <immintrin.h>
#define XPU_Q8_WIDE_VNNI 1
#endif

#include "half.h"
#include "inline_team.h"

namespace xpu::compute {
namespace {

constexpr int kRows = 16;  // weight rows per packed panel (the 16 lanes of a zmm)

// One panel: weight rows n0 .. n0 + 16 (rows past N are zero weights with scale 0).
struct Panel {
  std::vector<uint8_t> w;  // [B][8 groups][16 rows][4 bytes], biased (q8_0: + 128, q4_0: + 8)
  std::vector<float> d;    // [B][16]: the float32 of each row's float16 block scale
};

// Weight i of block b (biased, 0..255 for q8_0, 0..15 for q4_0: byte j of a q4_0 block holds
// weight j in its low nibble and weight j + 16 in its high one).
inline uint8_t BiasedWeight(GgufFormat f, const uint8_t* q, int64_t b, int i) {
  if (f == GgufFormat::Q8_0) return static_cast<uint8_t>(q[b * 32 + i] ^ 0x80);
  const uint8_t byte = q[b * 16 + (i & 15)];
  return i < 16 ? byte & 15 : byte >> 4;
}

void PackPanel(const GgufPlan& p, int64_t n0, Panel& panel) {
  const int64_t B = p.B;
  const uint8_t zero = p.fmt == GgufFormat::Q8_0 ? 0x80 : 8;  // rows past N: weight 0, scale 0
  panel.w.resize(B * 512);
  panel.d.resize(B * kRows);
#ifdef XPU_Q8_WIDE_VNNI
  // The weights: one gather of 16 rows' 4-byte group per output vector (a 16 x 8 dword transpose
  // per block; scalar packing took longer than the products at 128 rows). Rows past N gather
  // nothing and get the biased zero.
  {
    const int rows = static_cast<int>(std::min<int64_t>(kRows, p.N - n0));
    const __mmask16 live = static_cast<__mmask16>((1u << rows) - 1);
    const int64_t rowBytes = B * p.info.qBytes;
    const __m512i index = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(static_cast<int32_t>(rowBytes)));
    const uint8_t* base = p.QRow(n0);
    uint8_t* dst = panel.w.data();
    if (p.fmt == GgufFormat::Q8_0) {
      const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
      for (int64_t b = 0; b < B; b++)
        for (int g = 0; g < 8; g++) {
          const __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, index, base + b * 32 + g * 4, 1);
          _mm512_storeu_si512(dst + b * 512 + g * 64, _mm512_xor_si512(v, flip));
        }
    } else {  // q4_0: group g < 4 is the low nibbles of bytes 4g..4g+3, g >= 4 their high nibbles
      const __m512i low4 = _mm512_set1_epi8(15);
      const __m512i fill = _mm512_set1_epi8(static_cast<char>(0x88));  // both nibbles 8: weight 0
      for (int64_t b = 0; b < B; b++)
        for (int g = 0; g < 4; g++) {
          const __m512i v = _mm512_mask_i32gather_epi32(fill, live, index, base + b * 16 + g * 4, 1);
          _mm512_storeu_si512(dst + b * 512 + g * 64, _mm512_and_si512(v, low4));
          _mm512_storeu_si512(dst + b * 512 + (g + 4) * 64, _mm512_and_si512(_mm512_srli_epi16(v, 4), low4));
        }
    }
    for (int r = 0; r < kRows; r++) {
      const bool real = r < rows;
      const uint16_t* sr = real ? reinterpret_cast<const uint16_t*>(p.SRow(n0 + r)) : nullptr;
      for (int64_t b = 0; b < B; b++) panel.d[b * kRows + r] = real ? HalfToFloat(sr[b]) : 0.0f;
    }
    return;
  }
#endif
  for (int r = 0; r < kRows; r++) {
    const int64_t n = n0 + r;
    const bool real = n < p.N;
    const uint8_t* q = real ? p.QRow(n) : nullptr;
    const uint16_t* s = real ? reinterpret_cast<const uint16_t*>(p.SRow(n)) : nullptr;
    for (int64_t b = 0; b < B; b++) {
      panel.d[b * kRows + r] = real ? HalfToFloat(s[b]) : 0.0f;
      uint8_t* dst = panel.w.data() + b * 512 + r * 4;
      for (int g = 0; g < 8; g++)
        for (int i = 0; i < 4; i++) dst[g * 64 + i] = real ? BiasedWeight(p.fmt, q, b, g * 4 + i) : zero;
    }
  }
}

#ifdef XPU_Q8_WIDE_VNNI
// Activation rows m0 .. m0 + R against one panel; out rows of C get the panel's 16 columns (the
// last panel's columns past N masked off).
template <int R>
inline void PanelRows(const Panel& panel, int64_t B, int64_t K, const int8_t* qa, const float* da, const int32_t* corr, int64_t m0, float* C,
                      int64_t ldc, int64_t n0, __mmask16 mask) {
  __m512 acc[R];
  for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
  const uint8_t* w = panel.w.data();
  for (int64_t b = 0; b < B; b++) {
    __m512i dot[R];
    for (int r = 0; r < R; r++) dot[r] = _mm512_set1_epi32(corr[(m0 + r) * B + b]);
    const uint8_t* wb = w + b * 512;
    for (int g = 0; g < 8; g++) {
      const __m512i wv = _mm512_loadu_si512(wb + g * 64);
      for (int r = 0; r < R; r++) {
        int32_t a4;
        std::memcpy(&a4, qa + (m0 + r) * K + b * 32 + g * 4, 4);
        dot[r] = _mm512_dpbusd_epi32(dot[r], wv, _mm512_set1_epi32(a4));
      }
    }
    const __m512 dw = _mm512_loadu_ps(panel.d.data() + b * kRows);
    for (int r = 0; r < R; r++)
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r]), _mm512_mul_ps(dw, _mm512_set1_ps(da[(m0 + r) * B + b])), acc[r]);
  }
  for (int r = 0; r < R; r++) _mm512_mask_storeu_ps(C + (m0 + r) * ldc + n0, mask, acc[r]);
}
#endif

// Portable C++ of the same arithmetic (same integers, same float32 fma chain).
void PanelRowsScalar(const Panel& panel, int64_t B, int64_t K, const int8_t* qa, const float* da, const int32_t* corr, int64_t m, float* C,
                     int64_t ldc, int64_t n0, int cols) {
  for (int c = 0; c < cols; c++) {
    float acc = 0.0f;
    for (int64_t b = 0; b < B; b++) {
      int32_t dot = corr[m * B + b];
      for (int g = 0; g < 8; g++)
        for (int i = 0; i < 4; i++) dot += static_cast<int32_t>(panel.w[b * 512 + g * 64 + c * 4 + i]) * qa[m * K + b * 32 + g * 4 + i];
      acc = std::fma(static_cast<float>(dot), panel.d[b * kRows + c] * da[m * B + b], acc);
    }
    C[m * ldc + n0 + c] = acc;
  }
}

}  // namespace

bool GgufQ8WideSupports(GgufFormat f) { return f == GgufFormat::Q8_0 || f == GgufFormat::Q4_0; }

void GgufQ8Wide(const GgufPlan& p, const int8_t* qa, const float* da, float* C) {
  const int64_t M = p.M, N = p.N, K = p.K, B = p.B;
  // -bias * each activation block's sum: what the unsigned weights add to every block product.
  const int32_t bias = p.fmt == GgufFormat::Q8_0 ? 128 : 8;
  std::vector<int32_t> corr(M * B);
  for (int64_t i = 0; i < M * B; i++) {
    int32_t s = 0;
    for (int j = 0; j < 32; j++) s += qa[i * 32 + j];
    corr[i] = -bias * s;
  }
  const int64_t panels = (N + kRows - 1) / kRows;
  const auto run = [&](int64_t c0, int64_t c1) {
    thread_local Panel panel;  // one panel per thread, reused across calls
    for (int64_t c = c0; c < c1; c++) {
      const int64_t n0 = c * kRows;
      const int cols = static_cast<int>(std::min<int64_t>(kRows, N - n0));
      PackPanel(p, n0, panel);
      int64_t m = 0;
#ifdef XPU_Q8_WIDE_VNNI
      const __mmask16 mask = static_cast<__mmask16>((1u << cols) - 1);
      for (; m + 8 <= M; m += 8) PanelRows<8>(panel, B, K, qa, da, corr.data(), m, C, N, n0, mask);
      for (; m + 4 <= M; m += 4) PanelRows<4>(panel, B, K, qa, da, corr.data(), m, C, N, n0, mask);
      for (; m < M; m++) PanelRows<1>(panel, B, K, qa, da, corr.data(), m, C, N, n0, mask);
#endif
      for (; m < M; m++) PanelRowsScalar(panel, B, K, qa, da, corr.data(), m, C, N, n0, cols);
    }
  };
  if (InlineTeamActive()) return InlineSplit(panels, run);
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < panels; c++) run(c, c + 1);
}

}  // namespace xpu::compute
