// The native blocked (flash-style) attention for the CPU: dense SDPA with an optional mask
// operand (bool or additive, any broadcast strides), top-left causal, GQA. Flex score/mask
// modifications stay in TypeScript (src/backends/cpu/attention_blocked.ts).
//
// The structure is FlashAttention-2's (Dao, 2023), written here: per (batch, head, block of QT
// query rows) the keys are streamed in tiles of KT; a tile's scores S = Q K^T come from the K
// tile transposed into [E, KT] (so each query element is broadcast against 16-wide key lanes),
// then the online softmax update (running max m, running sum l, the unnormalised output rescaled
// by exp(m_old - m_new)) and acc += P V. Scores never exist beyond one [QT, KT] tile. With
// causal masking the key loop stops at the tile row's last query. A row whose keys are all
// masked (scores <= -3e38, -inf included) gives 0; a row with a NaN among the scores it attends
// to gives NaN (PyTorch's softmax over that row), while a NaN key the row is masked from is never
// part of it. Tasks (b, h, q block) are spread over the OpenMP threads; the whole call is one job
// on the compute queue. The JS face is attention_binding.cc.
// GCC 12 flags the AVX-512 reduction intrinsics in its own headers (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "attention_simd.h"
#include "half.h"

namespace xpu::compute {
namespace {

constexpr float kMasked = -3.0e38f;
constexpr int QT = 32;
constexpr int KT = 64;
// Gather offsets are 32-bit: 15 key rows of this stride must stay below 2^31 elements.
constexpr int64_t kMaxGatherStride = (int64_t{1} << 31) / 16;

using APlan = AttentionPlan;

inline float MaskAt(const APlan& p, int64_t b, int64_t h, int64_t i, int64_t j) {
  int64_t x = p.mOff + b * p.ms[0] + h * p.ms[1] + i * p.ms[2] + j * p.ms[3];
  if (p.maskKind == 0) return static_cast<const float*>(p.mask)[x];
  if (p.maskKind == 1) return HalfToFloat(static_cast<const uint16_t*>(p.mask)[x]);
  return static_cast<const uint8_t*>(p.mask)[x] ? 0.0f : kMasked;
}

struct Scratch {
  std::vector<float> kt, s, acc, m, l;
  std::vector<uint8_t> nan;  // rows that met a NaN score: their output is NaN
  Scratch(int64_t E, int64_t Ev) : kt(E * KT), s(QT * KT), acc(QT * Ev), m(QT), l(QT), nan(QT) {}
};

// One task: `rows` query rows of batch b that share the KV head hk, row r being query i[r] of
// head h[r]. Either one head's block of up to QT consecutive queries, or (decode: few queries
// under GQA) every query of the heads that share hk, so the K tile is transposed once for the
// group instead of once per head. Each row's arithmetic is the same either way.
void Task(const APlan& p, int64_t b, int64_t hk, const int64_t* hs, const int64_t* is, int rows, Scratch& w) {
  const int64_t E = p.E, Ev = p.Ev, S = p.S;
  const float* kh = p.k + p.kOff + b * p.ks[0] + hk * p.ks[1];
  const float* vh = p.v + p.vOff + b * p.vs[0] + hk * p.vs[1];
  int64_t iMax = 0;
  for (int r = 0; r < rows; r++) iMax = std::max(iMax, is[r]);
  float* kt = w.kt.data();
  float* sc = w.s.data();
  float* acc = w.acc.data();
  std::fill(w.m.begin(), w.m.end(), kMasked);
  std::fill(w.l.begin(), w.l.end(), 0.0f);
  std::fill(w.nan.begin(), w.nan.end(), uint8_t{0});
  std::fill(acc, acc + rows * Ev, 0.0f);
  const int64_t kEnd = p.causal ? std::min<int64_t>(S, iMax + 1) : S;
  for (int64_t j0 = 0; j0 < kEnd; j0 += KT) {
    const int cols = static_cast<int>(std::min<int64_t>(KT, kEnd - j0));
    // K tile transposed to [E, KT], zero beyond cols. With AVX-512, 16 keys at a time by gathers
    // (one per d) instead of 16 E scalar moves: the transpose was most of a decode step's time.
    int c0 = 0;
#ifdef __AVX512F__
    if (p.ks[2] <= kMaxGatherStride) {
      const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                             _mm512_set1_epi32(static_cast<int>(p.ks[2])));
      for (; c0 + 16 <= cols; c0 += 16) {
        const float* kr = kh + (j0 + c0) * p.ks[2];
        for (int64_t d = 0; d < E; d++) _mm512_storeu_ps(kt + d * KT + c0, _mm512_i32gather_ps(idx, kr + d, 4));
      }
    }
#endif
    for (int c = c0; c < cols; c++) {
      const float* kr = kh + (j0 + c) * p.ks[2];
      for (int64_t d = 0; d < E; d++) kt[d * KT + c] = kr[d];
    }
    if (cols < KT) for (int64_t d = 0; d < E; d++) std::fill(kt + d * KT + cols, kt + d * KT + KT, 0.0f);
    // Scores.
    for (int r = 0; r < rows; r++) {
      const float* qr = p.q + p.qOff + b * p.qs[0] + hs[r] * p.qs[1] + is[r] * p.qs[2];
      float* sr = sc + r * KT;
#ifdef __AVX512F__
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t d = 0; d < E; d++) {
        __m512 qv = _mm512_set1_ps(qr[d]);
        const float* kd = kt + d * KT;
        a0 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(kd), a0);
        a1 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(kd + 16), a1);
        a2 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(kd + 32), a2);
        a3 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(kd + 48), a3);
      }
      __m512 s = _mm512_set1_ps(p.scale);
      _mm512_storeu_ps(sr, _mm512_mul_ps(a0, s));
      _mm512_storeu_ps(sr + 16, _mm512_mul_ps(a1, s));
      _mm512_storeu_ps(sr + 32, _mm512_mul_ps(a2, s));
      _mm512_storeu_ps(sr + 48, _mm512_mul_ps(a3, s));
#else
      for (int c = 0; c < KT; c++) sr[c] = 0.0f;
      for (int64_t d = 0; d < E; d++) {
        const float qv = qr[d];
        const float* kd = kt + d * KT;
        for (int c = 0; c < KT; c++) sr[c] += qv * kd[c];
      }
      for (int c = 0; c < KT; c++) sr[c] *= p.scale;
#endif
      for (int c = cols; c < KT; c++) sr[c] = kMasked;
      const int64_t i = is[r], h = hs[r];
      if (p.causal) for (int c = 0; c < cols; c++) if (j0 + c > i) sr[c] = kMasked;
      if (p.maskKind >= 0) {
        for (int c = 0; c < cols; c++) {
          // Only a pair masked already is skipped: a NaN score still meets its mask (a bool mask
          // hides it; an additive one keeps it NaN, as in PyTorch).
          if (sr[c] <= kMasked) continue;
          float mv = MaskAt(p, b, h, i, j0 + c);
          if (p.maskKind == 2) { if (mv != 0.0f) sr[c] = kMasked; }
          else sr[c] += mv;
        }
      }
    }
    // Online softmax and P V.
    for (int r = 0; r < rows; r++) {
      if (w.nan[r]) continue;
      float* sr = sc + r * KT;
      float tmax = kMasked;
      bool nan = false;
      for (int c = 0; c < cols; c++) {
        if (sr[c] > tmax) tmax = sr[c];
        else if (std::isnan(sr[c])) nan = true;
      }
      // The comparisons drop a NaN score as if it were masked; the row's output is NaN instead.
      if (nan) {
        w.nan[r] = 1;
        continue;
      }
      const float mOld = w.m[r];
      const float mNew = std::max(mOld, tmax);
      if (!(mNew > kMasked)) continue;
      const float corr = mOld > kMasked ? std::exp(mOld - mNew) : 0.0f;
      float* ar = acc + r * Ev;
      if (corr != 1.0f) for (int64_t d = 0; d < Ev; d++) ar[d] *= corr;
      float add = 0;
#ifdef __AVX512F__
      const __m512 mn = _mm512_set1_ps(mNew), lim = _mm512_set1_ps(kMasked);
      __m512 sum = _mm512_setzero_ps();
      for (int c = 0; c < KT; c += 16) {
        __m512 x = _mm512_loadu_ps(sr + c);
        __mmask16 keep = _mm512_cmp_ps_mask(x, lim, _CMP_GT_OQ);
        __m512 e = _mm512_maskz_mov_ps(keep, Exp512(_mm512_sub_ps(x, mn)));
        _mm512_storeu_ps(sr + c, e);
        sum = _mm512_add_ps(sum, e);
      }
      add = _mm512_reduce_add_ps(sum);
#else
      for (int c = 0; c < KT; c++) {
        sr[c] = sr[c] > kMasked ? std::exp(sr[c] - mNew) : 0.0f;
        add += sr[c];
      }
#endif
      // acc += P V. A masked key (p = 0) is skipped, so a NaN in its V row never reaches the row.
#ifdef __AVX512F__
      if (Ev % 16 == 0 && Ev <= 128) {
        // The row's accumulator stays in registers across the tile's keys (it went through memory
        // once per key before); the same mul then add per element, so the same sums.
        const int nv = static_cast<int>(Ev / 16);
        __m512 av[8];
        for (int v = 0; v < nv; v++) av[v] = _mm512_loadu_ps(ar + 16 * v);
        for (int c = 0; c < cols; c++) {
          const float pc = sr[c];
          if (pc == 0.0f) continue;
          const float* vr = vh + (j0 + c) * p.vs[2];
          const __m512 pv = _mm512_set1_ps(pc);
          for (int v = 0; v < nv; v++) av[v] = _mm512_add_ps(av[v], _mm512_mul_ps(pv, _mm512_loadu_ps(vr + 16 * v)));
        }
        for (int v = 0; v < nv; v++) _mm512_storeu_ps(ar + 16 * v, av[v]);
      } else
#endif
      for (int c = 0; c < cols; c++) {
        const float pc = sr[c];
        if (pc == 0.0f) continue;
        const float* vr = vh + (j0 + c) * p.vs[2];
        for (int64_t d = 0; d < Ev; d++) ar[d] += pc * vr[d];
      }
      w.l[r] = w.l[r] * corr + add;
      w.m[r] = mNew;
    }
  }
  for (int r = 0; r < rows; r++) {
    float* o = p.out + ((b * p.H + hs[r]) * p.L + is[r]) * Ev;
    if (w.nan[r]) {
      std::fill(o, o + Ev, std::numeric_limits<float>::quiet_NaN());
      continue;
    }
    const float inv = w.l[r] > 0 ? 1.0f / w.l[r] : 0.0f;
    for (int64_t d = 0; d < Ev; d++) o[d] = acc[r * Ev + d] * inv;
  }
}

}  // namespace

std::string RunAttention(const AttentionPlan& p) {
  const int64_t group = p.H / p.Hkv;
  if (group > 1 && group * p.L <= QT) {
    // Decode under GQA: one task per (batch, KV head) with all its heads' queries as rows.
    const int64_t tasks = p.B * p.Hkv;
#pragma omp parallel
    {
      Scratch w(p.E, p.Ev);
      int64_t hs[QT], is[QT];
#pragma omp for schedule(dynamic, 1)
      for (int64_t t = 0; t < tasks; t++) {
        const int64_t hk = t % p.Hkv;
        int rows = 0;
        for (int64_t g = 0; g < group; g++)
          for (int64_t i = 0; i < p.L; i++, rows++) {
            hs[rows] = hk * group + g;
            is[rows] = i;
          }
        Task(p, t / p.Hkv, hk, hs, is, rows, w);
      }
    }
    return "";
  }
  const int64_t qBlocks = (p.L + QT - 1) / QT;
  const int64_t tasks = p.B * p.H * qBlocks;
#pragma omp parallel
  {
    Scratch w(p.E, p.Ev);
    int64_t hs[QT], is[QT];
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; t++) {
      // Causal: the last query blocks are the longest; hand them out first.
      int64_t qb = qBlocks - 1 - t % qBlocks, bh = t / qBlocks, h = bh % p.H;
      const int rows = static_cast<int>(std::min<int64_t>(QT, p.L - qb * QT));
      for (int r = 0; r < rows; r++) {
        hs[r] = h;
        is[r] = qb * QT + r;
      }
      Task(p, bh / p.H, h / group, hs, is, rows, w);
    }
  }
  return "";
}

}  // namespace xpu::compute
