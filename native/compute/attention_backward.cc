// The native attention backward for the CPU: dense SDPA (mask operand, top-left causal, GQA) on
// contiguous float32 arrays, the twin of src/backends/cpu/attention_backward_host.ts (which also
// runs flex problems). FlashAttention-2's backward (Dao, 2023) in two sweeps that each own their
// outputs, so no thread needs atomics and no [L, S] matrix exists beyond one [QT, KT] tile:
//   A. per (batch, head, block of QT query rows), key tiles of KT: first each row's logsumexp (an
//      online max / sum, as the forward), and delta = dOut . out; then per tile S = Q K^T scale
//      (masked), P = exp(S - lse), dP = dOut V^T, dS = P (dP - delta), dQ += dS K;
//   B. per (batch, KV head, tile of KT keys), over the query tiles of every head of the GQA group
//      (causal: rows from the tile's first key): S, P, dP, dS again, dV += P^T dOut, dK += dS^T Q.
// The [QT, KT] products come from K and V tiles transposed to [E, KT] (a q element broadcast
// against 16-key lanes, as attention.cc); the accumulations dQ += dS K, dV += P^T dOut and
// dK += dS^T Q keep a 128-column strip of the output row in eight AVX-512 registers while the
// tile's coefficients stream past (AccRows). Masked pairs (score <= -3e38) have P = dS = 0, a
// fully masked row has no pair left, and a NaN score makes its row's lse NaN, so its dq row and
// the dk / dv rows of the keys it attends are NaN (the composed softmax backward's result).
// Accumulation in float32. The whole call is one job on the compute queue; its arguments are read
// by attention_backward_binding.cc.
// GCC 12 flags the AVX-512 reduction intrinsics in its own headers (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "attention_backward.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "attention_simd.h"
#include "half.h"

namespace xpu::compute {
namespace {

constexpr float kMasked = -3.0e38f;
constexpr int QT = 32;
constexpr int KT = 64;
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// The plan with its workspace.
struct BPlan : AttentionBackwardPlan {
  std::vector<float> lse, delta;  // per query row, from sweep A
  // K and V transposed once per call into tiles [B Hkv][S / KT][E or Ev][KT] (zero past S): every
  // row block reads them, so transposing per block cost more than the products at L = 512.
  std::vector<float> kT, vT;
  int64_t kBlocks = 0;
  const float* KTile(int64_t bk, int64_t tile) const { return kT.data() + (bk * kBlocks + tile) * E * KT; }
  const float* VTile(int64_t bk, int64_t tile) const { return vT.data() + (bk * kBlocks + tile) * Ev * KT; }
};

// Per-thread tiles.
struct Scratch {
  std::vector<float> s, p, ds, acc;
  Scratch(int64_t E, int64_t Ev) : s(QT * KT), p(QT * KT), ds(QT * KT), acc(std::max<int64_t>(QT * E, KT * (E + Ev))) {}
};

// rows [n, ld] (n rows from `src`, row stride ld) -> t [d, KT] with zeros past n.
void Transpose(const float* src, int n, int64_t d, int64_t ld, float* t) {
  for (int c = 0; c < n; c++) {
    const float* r = src + c * ld;
    for (int64_t x = 0; x < d; x++) t[x * KT + c] = r[x];
  }
  if (n < KT) for (int64_t x = 0; x < d; x++) std::fill(t + x * KT + n, t + x * KT + KT, 0.0f);
}

// out[0..KT) = a[0..d) . t[:, c] (t: [d, KT]).
inline void RowTile(const float* a, const float* t, int64_t d, float* out) {
#ifdef __AVX512F__
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t x = 0; x < d; x++) {
    const __m512 av = _mm512_set1_ps(a[x]);
    const float* tr = t + x * KT;
    a0 = _mm512_fmadd_ps(av, _mm512_loadu_ps(tr), a0);
    a1 = _mm512_fmadd_ps(av, _mm512_loadu_ps(tr + 16), a1);
    a2 = _mm512_fmadd_ps(av, _mm512_loadu_ps(tr + 32), a2);
    a3 = _mm512_fmadd_ps(av, _mm512_loadu_ps(tr + 48), a3);
  }
  _mm512_storeu_ps(out, a0);
  _mm512_storeu_ps(out + 16, a1);
  _mm512_storeu_ps(out + 32, a2);
  _mm512_storeu_ps(out + 48, a3);
#else
  for (int c = 0; c < KT; c++) out[c] = 0.0f;
  for (int64_t x = 0; x < d; x++) {
    const float av = a[x];
    const float* tr = t + x * KT;
    for (int c = 0; c < KT; c++) out[c] += av * tr[c];
  }
#endif
}

#ifdef __AVX512F__
template <int NV>
void AccStrip(float* acc, int w, const float* coef, int64_t cs, int count, const float* rows, int64_t rs) {
  const __mmask16 last = (w % 16) ? static_cast<__mmask16>((1u << (w % 16)) - 1) : static_cast<__mmask16>(0xFFFF);
  __m512 a[NV];
  for (int u = 0; u < NV; u++) a[u] = _mm512_maskz_loadu_ps(u == NV - 1 ? last : 0xFFFF, acc + 16 * u);
  for (int t = 0; t < count; t++) {
    const float c = coef[t * cs];
    if (c == 0.0f) continue;  // a masked pair (NaN is not 0 and goes through)
    const __m512 cv = _mm512_set1_ps(c);
    const float* r = rows + t * rs;
    for (int u = 0; u < NV; u++) a[u] = _mm512_fmadd_ps(cv, _mm512_maskz_loadu_ps(u == NV - 1 ? last : 0xFFFF, r + 16 * u), a[u]);
  }
  for (int u = 0; u < NV; u++) _mm512_mask_storeu_ps(acc + 16 * u, u == NV - 1 ? last : 0xFFFF, a[u]);
}
#endif

// acc[0..n) += sum_{t < count} coef[t cs] * rows[t rs + 0..n): dQ += dS K (cs 1), dK += dS^T Q and
// dV += P^T dOut (cs KT). Strips of 128 columns stay in registers over all `count` terms.
void AccRows(float* acc, int64_t n, const float* coef, int64_t cs, int count, const float* rows, int64_t rs) {
#ifdef __AVX512F__
  for (int64_t d0 = 0; d0 < n; d0 += 128) {
    const int w = static_cast<int>(std::min<int64_t>(128, n - d0));
    float* a = acc + d0;
    const float* r = rows + d0;
    switch ((w + 15) / 16) {
      case 1: AccStrip<1>(a, w, coef, cs, count, r, rs); break;
      case 2: AccStrip<2>(a, w, coef, cs, count, r, rs); break;
      case 3: AccStrip<3>(a, w, coef, cs, count, r, rs); break;
      case 4: AccStrip<4>(a, w, coef, cs, count, r, rs); break;
      case 5: AccStrip<5>(a, w, coef, cs, count, r, rs); break;
      case 6: AccStrip<6>(a, w, coef, cs, count, r, rs); break;
      case 7: AccStrip<7>(a, w, coef, cs, count, r, rs); break;
      default: AccStrip<8>(a, w, coef, cs, count, r, rs); break;
    }
  }
#else
  for (int t = 0; t < count; t++) {
    const float c = coef[t * cs];
    if (c == 0.0f) continue;
    const float* r = rows + t * rs;
    for (int64_t d = 0; d < n; d++) acc[d] += c * r[d];
  }
#endif
}

// Scales a row of KT raw scores and masks: columns past `cols`, the causal rule, the mask operand.
void MaskRow(const BPlan& p, float* sr, int64_t b, int64_t h, int64_t i, int64_t j0, int cols) {
  for (int c = 0; c < KT; c++) sr[c] = c < cols ? sr[c] * p.scale : kMasked;
  if (p.causal) for (int c = 0; c < cols; c++) if (j0 + c > i) sr[c] = kMasked;
  if (p.maskKind < 0) return;
  for (int c = 0; c < cols; c++) {
    if (sr[c] <= kMasked) continue;
    const int64_t x = p.mOff + b * p.ms[0] + h * p.ms[1] + i * p.ms[2] + (j0 + c) * p.ms[3];
    if (p.maskKind == 2) { if (!static_cast<const uint8_t*>(p.mask)[x]) sr[c] = kMasked; }
    else sr[c] += p.maskKind == 0 ? static_cast<const float*>(p.mask)[x] : HalfToFloat(static_cast<const uint16_t*>(p.mask)[x]);
  }
}

// P = exp(S - lse) (0 where masked; NaN everywhere kept when lse is NaN), dS = P (dP - delta).
void SoftmaxGrad(const float* sr, const float* dpr, float lse, float delta, float* pr, float* dsr) {
  if (std::isnan(lse)) {
    for (int c = 0; c < KT; c++) {
      const bool kept = !(sr[c] <= kMasked);
      pr[c] = kept ? kNaN : 0.0f;
      dsr[c] = pr[c];
    }
    return;
  }
#ifdef __AVX512F__
  const __m512 l = _mm512_set1_ps(lse), dl = _mm512_set1_ps(delta), lim = _mm512_set1_ps(kMasked);
  for (int c = 0; c < KT; c += 16) {
    const __m512 x = _mm512_loadu_ps(sr + c);
    const __mmask16 keep = _mm512_cmp_ps_mask(x, lim, _CMP_GT_OQ);
    const __m512 e = _mm512_maskz_mov_ps(keep, Exp512(_mm512_sub_ps(x, l)));
    _mm512_storeu_ps(pr + c, e);
    _mm512_storeu_ps(dsr + c, _mm512_mul_ps(e, _mm512_sub_ps(_mm512_loadu_ps(dpr + c), dl)));
  }
#else
  for (int c = 0; c < KT; c++) {
    pr[c] = sr[c] > kMasked ? std::exp(sr[c] - lse) : 0.0f;
    dsr[c] = pr[c] * (dpr[c] - delta);
  }
#endif
}

void RowTask(BPlan& p, int64_t b, int64_t h, int64_t i0, Scratch& w) {
  const int64_t E = p.E, Ev = p.Ev, S = p.S, L = p.L;
  const int64_t hk = h / (p.H / p.Hkv);
  const float* kh = p.k + (b * p.Hkv + hk) * S * E;
  const int rows = static_cast<int>(std::min<int64_t>(QT, L - i0));
  const int64_t row0 = (b * p.H + h) * L + i0;
  const float* qb = p.q + row0 * E;
  const float* gb = p.dOut + row0 * Ev;
  const int64_t kEnd = p.causal ? std::min<int64_t>(S, i0 + rows) : S;
  float m[QT], l[QT], lse[QT], delta[QT];
  bool nan[QT];
  for (int r = 0; r < rows; r++) { m[r] = kMasked; l[r] = 0.0f; nan[r] = false; }
  const int64_t bk = b * p.Hkv + hk;
  // 1. Each row's logsumexp.
  for (int64_t j0 = 0; j0 < kEnd; j0 += KT) {
    const int cols = static_cast<int>(std::min<int64_t>(KT, kEnd - j0));
    const float* kt = p.KTile(bk, j0 / KT);
    for (int r = 0; r < rows; r++) {
      if (nan[r]) continue;
      float* sr = w.s.data();
      RowTile(qb + r * E, kt, E, sr);
      MaskRow(p, sr, b, h, i0 + r, j0, cols);
      float tmax = kMasked;
      for (int c = 0; c < cols; c++) {
        if (sr[c] > tmax) tmax = sr[c];
        else if (std::isnan(sr[c])) nan[r] = true;
      }
      if (nan[r]) continue;
      const float mNew = std::max(m[r], tmax);
      if (!(mNew > kMasked)) continue;
      float add = 0.0f;
      for (int c = 0; c < cols; c++) if (sr[c] > kMasked) add += std::exp(sr[c] - mNew);
      l[r] = l[r] * (m[r] > kMasked ? std::exp(m[r] - mNew) : 0.0f) + add;
      m[r] = mNew;
    }
  }
  for (int r = 0; r < rows; r++) {
    lse[r] = nan[r] ? kNaN : l[r] > 0 ? m[r] + std::log(l[r]) : std::numeric_limits<float>::infinity();
    float dsum = 0.0f;
    const float* g = gb + r * Ev;
    const float* o = p.out + (row0 + r) * Ev;
    for (int64_t d = 0; d < Ev; d++) dsum += g[d] * o[d];
    delta[r] = dsum;
    p.lse[row0 + r] = lse[r];
    p.delta[row0 + r] = delta[r];
  }
  // 2. dQ over the key tiles.
  float* acc = w.acc.data();
  std::fill(acc, acc + rows * E, 0.0f);
  for (int64_t j0 = 0; j0 < kEnd; j0 += KT) {
    const int cols = static_cast<int>(std::min<int64_t>(KT, kEnd - j0));
    const float* kt = p.KTile(bk, j0 / KT);
    const float* vt = p.VTile(bk, j0 / KT);
    for (int r = 0; r < rows; r++) {
      if (!(l[r] > 0) && !nan[r]) continue;  // fully masked so far: nothing kept
      float* sr = w.s.data();
      float* dpr = w.p.data() + KT;  // scratch row for dP
      RowTile(qb + r * E, kt, E, sr);
      MaskRow(p, sr, b, h, i0 + r, j0, cols);
      RowTile(gb + r * Ev, vt, Ev, dpr);
      float* pr = w.p.data();
      float* dsr = w.ds.data();
      SoftmaxGrad(sr, dpr, lse[r], delta[r], pr, dsr);
      AccRows(acc + r * E, E, dsr, 1, cols, kh + j0 * E, E);
    }
  }
  for (int r = 0; r < rows; r++) {
    float* o = p.dq + (row0 + r) * E;
    for (int64_t d = 0; d < E; d++) o[d] = acc[r * E + d] * p.scale;
  }
}

void KeyTask(BPlan& p, int64_t b, int64_t hk, int64_t j0, Scratch& w) {
  const int64_t E = p.E, Ev = p.Ev, S = p.S, L = p.L;
  const int64_t group = p.H / p.Hkv;
  const int cols = static_cast<int>(std::min<int64_t>(KT, S - j0));
  const int64_t key0 = (b * p.Hkv + hk) * S + j0;
  const float* kt = p.KTile(b * p.Hkv + hk, j0 / KT);
  const float* vt = p.VTile(b * p.Hkv + hk, j0 / KT);
  float* dk = w.acc.data();
  float* dv = w.acc.data() + KT * E;
  std::fill(dk, dk + KT * (E + Ev), 0.0f);
  float dp[KT];
  for (int64_t h = hk * group; h < (hk + 1) * group; h++) {
    const int64_t rowH = (b * p.H + h) * L;
    for (int64_t i0 = p.causal ? j0 : 0; i0 < L; i0 += QT) {
      const int rows = static_cast<int>(std::min<int64_t>(QT, L - i0));
      const float* qb = p.q + (rowH + i0) * E;
      const float* gb = p.dOut + (rowH + i0) * Ev;
      for (int r = 0; r < rows; r++) {
        float* sr = w.s.data() + r * KT;
        RowTile(qb + r * E, kt, E, sr);
        MaskRow(p, sr, b, h, i0 + r, j0, cols);
        RowTile(gb + r * Ev, vt, Ev, dp);
        SoftmaxGrad(sr, dp, p.lse[rowH + i0 + r], p.delta[rowH + i0 + r], w.p.data() + r * KT, w.ds.data() + r * KT);
      }
      for (int c = 0; c < cols; c++) {
        AccRows(dv + c * Ev, Ev, w.p.data() + c, KT, rows, gb, Ev);
        AccRows(dk + c * E, E, w.ds.data() + c, KT, rows, qb, E);
      }
    }
  }
  for (int c = 0; c < cols; c++) {
    float* ko = p.dk + (key0 + c) * E;
    for (int64_t d = 0; d < E; d++) ko[d] = dk[c * E + d] * p.scale;
    float* vo = p.dv + (key0 + c) * Ev;
    for (int64_t d = 0; d < Ev; d++) vo[d] = dv[c * Ev + d];
  }
}

std::string Run(BPlan& p) {
  const int64_t qBlocks = (p.L + QT - 1) / QT, kBlocks = (p.S + KT - 1) / KT;
  const int64_t rowTasks = p.B * p.H * qBlocks, keyTasks = p.B * p.Hkv * kBlocks;
  p.kBlocks = kBlocks;
  p.kT.resize(keyTasks * p.E * KT);
  p.vT.resize(keyTasks * p.Ev * KT);
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t t = 0; t < keyTasks; t++) {
      const int64_t kb = t % kBlocks, bk = t / kBlocks;
      const int cols = static_cast<int>(std::min<int64_t>(KT, p.S - kb * KT));
      Transpose(p.k + (bk * p.S + kb * KT) * p.E, cols, p.E, p.E, p.kT.data() + t * p.E * KT);
      Transpose(p.v + (bk * p.S + kb * KT) * p.Ev, cols, p.Ev, p.Ev, p.vT.data() + t * p.Ev * KT);
    }
    Scratch w(p.E, p.Ev);
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < rowTasks; t++) {
      const int64_t qb = qBlocks - 1 - t % qBlocks, bh = t / qBlocks;  // causal: longest rows first
      RowTask(p, bh / p.H, bh % p.H, qb * QT, w);
    }
    // The implicit barrier of `omp for`: every lse / delta is written before sweep B reads it.
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < keyTasks; t++) {
      const int64_t kb = t % kBlocks, bk = t / kBlocks;  // causal: the first keys have the most rows
      KeyTask(p, bk / p.Hkv, bk % p.Hkv, kb * KT, w);
    }
  }
  return "";
}

}  // namespace

std::string RunAttentionBackward(const AttentionBackwardPlan& plan) {
  BPlan p;
  static_cast<AttentionBackwardPlan&>(p) = plan;
  p.lse.resize(p.B * p.H * p.L);
  p.delta.resize(p.B * p.H * p.L);
  return Run(p);
}

}  // namespace xpu::compute
