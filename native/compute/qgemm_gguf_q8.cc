// The GGUF quantized linear with 8-bit activations: llama.cpp's CPU arithmetic for q4_0, q4_1 and
// q8_0 weights (the idea and the exact order of operations are ggml's: ggml-cpu's
// quantize_row_q8_0 / quantize_row_q8_1 and ggml_vec_dot_{q4_0_q8_0, q4_1_q8_1, q8_0_q8_0} for
// x86, read in the llama.cpp that node-llama-cpp 3.21.1 bundles; this is our own code).
//
// Activations: every 32-value block of an activation row becomes int8 values and a scale:
//   amax = max |x|;  d = amax / 127 (float32);  id = amax != 0 ? 127 / amax : 0 (float32)
//   q[i] = round-half-to-even(float32(x[i] * id))          (in [-127, 127])
//   stored d = float16(d) (round to nearest even), and for q4_1's partner (q8_1) also
//   s = float16(float32(d * sum(q)))                        (d the float32 one, not the float16)
// Dot product of weight row n and activation row m, block by block (b = 0, 1, ...):
//   lane[j] = sum of the 4 integer products of elements 4j..4j+3 (j = 0..7), exact in int32
//     q4_0: (nibble - 8) * q;   q4_1: nibble * q;   q8_0: w * q
//   acc[j] = fma(float32(dw_b * da_b), float32(lane[j]), acc[j])      (dw, da: the float16 scales)
//   q4_1 only: summs = fma(m_b, s_b, summs)                            (the block minimum's term)
// and out = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
// (+ summs for q4_1): the 8-lane horizontal sum of ggml's AVX2 code. Every step is float32 with
// one rounding, so the result is bit-for-bit llama.cpp's CPU result for the same activations.
//
// Non-finite activations: a block holding NaN or +-inf gets d = NaN, so every output it touches
// is NaN (llama.cpp's result there depends on the SIMD max's NaN rules; the exact-float path
// gives NaN or +-inf).
//
// Kernels: AVX-512 VNNI (256-bit vpdpbusd, as ggml uses it), AVX2 (vpmaddubsw + vpmaddwd, whose
// int16 pair sums cannot saturate here: |products| <= 128 * 127 * 2 < 32768) and portable scalar
// C++; all three produce the same integers and the same float32 operations. Weight rows are split
// into 16-row chunks across OpenMP threads (as RunGguf's float GEMV); inside a chunk 4 (M = 1) or
// 2 weight rows at a time meet every activation row (4 at a time for M > 1), so a weight row is
// read from memory once and from L1 for the other activation rows.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "half.h"
#include "inline_team.h"
#include "qgemm_gguf.h"
#include "qgemm_gguf_q8_wide.h"

namespace xpu::compute {
namespace {

using Fmt = GgufFormat;

// The activations of RunGguf's dense [M, K] copy, quantized per 32-value block.
struct Q8Acts {
  int64_t M = 0, B = 0;
  std::vector<int8_t> q;     // [M, B * 32]
  std::vector<float> d;      // [M, B]: float32 of the float16 scale
  std::vector<float> s;      // [M, B]: float32 of the float16 d * sum(q) (q4_1 only)
  std::vector<int32_t> g8;   // [M, B, 8]: 8 * (sum of q over elements 4j..4j+3) (q4_0 only)
  const int8_t* Q(int64_t m, int64_t b) const { return q.data() + (m * B + b) * 32; }
};

void QuantizeBlock(const float* x, int8_t* q, float* d, float* s, int32_t* g8) {
  float amax = 0.0f;
  bool finite = true;
#if defined(__AVX2__)
  {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 mx = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    for (int i = 0; i < 32; i += 8) {
      const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i));
      bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, _mm256_set1_ps(3.402823466e38f), _CMP_NLE_UQ));  // NaN or inf
      mx = _mm256_max_ps(mx, a);
    }
    alignas(32) float t[8];
    _mm256_store_ps(t, mx);
    for (float v : t) amax = std::max(amax, v);
    finite = _mm256_movemask_ps(bad) == 0;
  }
#else
  for (int i = 0; i < 32; i++) {
    const float a = std::fabs(x[i]);
    if (!(a <= 3.402823466e38f)) finite = false;  // NaN or inf
    amax = std::max(amax, a);
  }
#endif
  if (!finite) {
    std::memset(q, 0, 32);
    *d = std::nanf("");
    if (s) *s = std::nanf("");
    if (g8) std::memset(g8, 0, 32);
    return;
  }
  const float df = amax / 127.0f;
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  int sum = 0;
#if defined(__AVX2__)
  {
    // x * id rounded to float32, then to the nearest integer, ties to even (vroundps), as ggml.
    const __m256 vid = _mm256_set1_ps(id);
    __m256i acc = _mm256_setzero_si256();
    for (int i = 0; i < 32; i += 8) {
      const __m256i v = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      acc = _mm256_add_epi32(acc, v);
      alignas(32) int32_t t[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(t), v);
      for (int j = 0; j < 8; j++) q[i + j] = static_cast<int8_t>(t[j]);
    }
    alignas(32) int32_t t[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(t), acc);
    for (int j = 0; j < 8; j++) sum += t[j];
  }
#else
  for (int i = 0; i < 32; i++) {
    // nearbyint rounds half to even in the default rounding mode (as vroundps with
    // _MM_ROUND_NEAREST does); x * id is rounded to float32 first, as in ggml.
    const float v = x[i] * id;
    const int qi = static_cast<int>(std::nearbyint(v));
    q[i] = static_cast<int8_t>(qi);
    sum += qi;
  }
#endif
  *d = HalfToFloat(FloatToHalf(df));
  if (s) *s = HalfToFloat(FloatToHalf(df * static_cast<float>(sum)));
  if (g8) {
    for (int j = 0; j < 8; j++) g8[j] = 8 * (q[4 * j] + q[4 * j + 1] + q[4 * j + 2] + q[4 * j + 3]);
  }
}

Q8Acts QuantizeActs(const float* x, int64_t M, int64_t K, Fmt fmt) {
  Q8Acts a;
  a.M = M;
  a.B = K / 32;
  a.q.resize(M * K);
  a.d.resize(M * a.B);
  if (fmt == Fmt::Q4_1) a.s.resize(M * a.B);
  if (fmt == Fmt::Q4_0) a.g8.resize(M * a.B * 8);
#pragma omp parallel for schedule(static) if (M * K >= (1 << 16))
  for (int64_t m = 0; m < M; m++) {
    for (int64_t b = 0; b < a.B; b++) {
      const int64_t i = m * a.B + b;
      QuantizeBlock(x + m * K + b * 32, a.q.data() + i * 32, &a.d[i], a.s.empty() ? nullptr : &a.s[i],
                    a.g8.empty() ? nullptr : &a.g8[i * 8]);
    }
  }
  return a;
}

// ggml's 8-lane horizontal sum order (hsum_float_8).
inline float Hsum8(const float* v) {
  const float t0 = v[0] + v[4], t1 = v[1] + v[5], t2 = v[2] + v[6], t3 = v[3] + v[7];
  return (t0 + t2) + (t1 + t3);
}

// ---- portable scalar kernel -----------------------------------------------------------------------

// The 32 weights of block b of a row as small integers (q4_1: 0..15 with the minimum apart).
inline void WeightInts(Fmt fmt, const uint8_t* q, int* w) {
  if (fmt == Fmt::Q8_0) {
    for (int i = 0; i < 32; i++) w[i] = static_cast<int8_t>(q[i]);
    return;
  }
  const int off = fmt == Fmt::Q4_0 ? 8 : 0;
  for (int i = 0; i < 16; i++) {
    w[i] = (q[i] & 15) - off;
    w[i + 16] = (q[i] >> 4) - off;
  }
}

void RowsScalar(const GgufPlan& p, const Q8Acts& a, int64_t m0, int R, float* C, int64_t ldc, int64_t n0, int64_t n1) {
  const int per = p.fmt == Fmt::Q4_1 ? 2 : 1;
  std::vector<float> sc(p.B * per);
  int w[32];
  for (int64_t n = n0; n < n1; n++) {
    HalfToFloatN(reinterpret_cast<const uint16_t*>(p.SRow(n)), sc.data(), p.B * per);
    for (int r = 0; r < R; r++) {
      const int64_t m = m0 + r;
      float acc[8] = {}, summs = 0.0f;
      for (int64_t b = 0; b < p.B; b++) {
        WeightInts(p.fmt, p.QRow(n) + b * p.info.qBytes, w);
        const int8_t* qa = a.Q(m, b);
        const float scale = sc[b * per] * a.d[m * a.B + b];
        for (int j = 0; j < 8; j++) {
          int lane = 0;
          for (int i = 4 * j; i < 4 * j + 4; i++) lane += w[i] * qa[i];
          acc[j] = std::fma(scale, static_cast<float>(lane), acc[j]);
        }
        if (p.fmt == Fmt::Q4_1) summs = std::fma(sc[b * 2 + 1], a.s[m * a.B + b], summs);
      }
      float v = Hsum8(acc);
      if (p.fmt == Fmt::Q4_1) v += summs;
      C[m * ldc + n] = v;
    }
  }
}

#if defined(__AVX2__)
// ---- AVX2 / AVX-512 VNNI kernel -------------------------------------------------------------------

// 8 int32 lanes, lane j = sum of u[4j..4j+3] * s[4j..4j+3] (u unsigned, s signed bytes).
inline __m256i DotU8S8(__m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#elif defined(__AVXVNNI__)
  return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), u, s);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

inline float HsumPs8(__m256 v) {
  __m128 r = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

// The weight block b of a row as 32 bytes: q8_0 as stored, q4 nibbles as 0..15 (byte i of the
// block holds weight i in its low nibble and weight i + 16 in its high one).
template <Fmt F>
inline __m256i WeightBytes(const uint8_t* qrow, int64_t b) {
  if constexpr (F == Fmt::Q8_0) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qrow + b * 32));
  } else {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qrow + b * 16));
    return _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1), _mm256_set1_epi8(15));
  }
}

// A group of NR weight rows' float32 block scales: dw [NR][B], and for q4_1 the minimums
// transposed, mt [B][NR] (one vector fma per block advances all NR minimum sums, each lane its
// own chain in ggml's order).
struct RowScales {
  std::vector<float> dw, mt, tmp, prod;
  std::vector<float> dt;  // AVX-512 tiles: dw transposed, [B][4]
};

#if defined(__AVX512F__) && defined(__AVX512VNNI__) && defined(__AVX512BW__)
// 4 weight rows x R activation rows with 512-bit vectors: a zmm holds two weight rows' 8 ggml
// lanes (lanes 0-7 row i, 8-15 row i + 1) for the same block, so one vpdpbusd / cvt / mul / fma
// does two block dot products; each lane keeps its own sequential chain, ggml's order.
template <Fmt F, int R>
inline void Tile512(const GgufPlan& p, const Q8Acts& a, RowScales& rs, int64_t n, int64_t m0, float* C, int64_t ldc) {
  const int64_t B = p.B;
  const uint8_t* qrow[4];
  for (int i = 0; i < 4; i++) qrow[i] = p.QRow(n + i);
  __m512 acc[2][R];
  __m128 summs[R];
  for (int r = 0; r < R; r++) acc[0][r] = acc[1][r] = _mm512_setzero_ps(), summs[r] = _mm_setzero_ps();
  const __m512i low4 = _mm512_set1_epi8(15);
  const __m512i pair0 = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i pair1 = _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2);
  for (int64_t b = 0; b < B; b++) {
    // The 4 rows' weight scales, each spread over its row's 8 lanes (a pair of rows per zmm);
    // times the activation's scale below, that is ggml's float32 dw * da in every lane.
    const __m512 dt4 = _mm512_castps128_ps512(_mm_loadu_ps(rs.dt.data() + b * 4));
    const __m512 dpair[2] = {_mm512_permutexvar_ps(pair0, dt4), _mm512_permutexvar_ps(pair1, dt4)};
    __m512i w[2];
    if constexpr (F != Fmt::Q8_0) {
      // The 4 rows' 16 nibble bytes as one zmm, its low and high nibbles, then each pair of rows
      // as [lo i, hi i, lo i+1, hi i+1] (128-bit lanes) with one two-source permute.
      const __m512i z = _mm512_inserti64x4(
          _mm512_castsi256_si512(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qrow[0] + b * 16))),
                                                         _mm_loadu_si128(reinterpret_cast<const __m128i*>(qrow[1] + b * 16)), 1)),
          _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qrow[2] + b * 16))),
                                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(qrow[3] + b * 16)), 1),
          1);
      const __m512i lo = _mm512_and_si512(z, low4), hi = _mm512_and_si512(_mm512_srli_epi16(z, 4), low4);
      w[0] = _mm512_permutex2var_epi64(lo, _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0), hi);
      w[1] = _mm512_permutex2var_epi64(lo, _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4), hi);
    }
    if constexpr (F == Fmt::Q8_0)
      for (int h = 0; h < 2; h++)
        w[h] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qrow[2 * h] + b * 32))),
                                  _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qrow[2 * h + 1] + b * 32)), 1);
    // q8_0: vpdpbusd multiplies unsigned by signed bytes, so the activations go in biased,
    // q + 128 (a sign-bit flip), and each lane starts from -128 * (its 4 weights' sum): the
    // integer dot product w . q exactly, with one instruction fewer per product than applying
    // w's signs to q. Where w = -128, |w| would not fit a signed byte either way.
    __m512i start[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
    if constexpr (F == Fmt::Q8_0)
      for (int h = 0; h < 2; h++) start[h] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(-128), w[h]));
    for (int r = 0; r < R; r++) {
      const __m512i act = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q.data() + ((m0 + r) * B + b) * 32)));
      const __m512 da = _mm512_set1_ps(a.d[(m0 + r) * B + b]);
      __m512i actU;
      if constexpr (F == Fmt::Q8_0) actU = _mm512_xor_si512(act, _mm512_set1_epi8(-128));
      for (int h = 0; h < 2; h++) {
        __m512i lanes;
        if constexpr (F == Fmt::Q8_0) {
          lanes = _mm512_dpbusd_epi32(start[h], actU, w[h]);
        } else {
          lanes = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[h], act);
          if constexpr (F == Fmt::Q4_0)
            lanes = _mm512_sub_epi32(lanes, _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(&a.g8[((m0 + r) * B + b) * 8]))));
        }
        acc[h][r] = _mm512_fmadd_ps(_mm512_mul_ps(dpair[h], da), _mm512_cvtepi32_ps(lanes), acc[h][r]);
      }
    }
    if constexpr (F == Fmt::Q4_1) {
      const __m128 mt = _mm_loadu_ps(rs.mt.data() + b * 4);
      for (int r = 0; r < R; r++) summs[r] = _mm_fmadd_ps(mt, _mm_set1_ps(a.s[(m0 + r) * B + b]), summs[r]);
    }
  }
  for (int r = 0; r < R; r++) {
    alignas(16) float sm[4];
    _mm_store_ps(sm, summs[r]);
    for (int h = 0; h < 2; h++) {
      const __m512 v = acc[h][r];
      float o0 = HsumPs8(_mm512_castps512_ps256(v)), o1 = HsumPs8(_mm512_extractf32x8_ps(v, 1));
      if constexpr (F == Fmt::Q4_1) o0 += sm[2 * h], o1 += sm[2 * h + 1];
      C[(m0 + r) * ldc + n + 2 * h] = o0;
      C[(m0 + r) * ldc + n + 2 * h + 1] = o1;
    }
  }
}
#define XPU_Q8_TILE512 1
constexpr bool kTile512 = true;
#else
constexpr bool kTile512 = false;
#endif

// NR weight rows n .. n + NR - 1 against activation rows m0 .. m0 + R - 1. The NR * R accumulator
// chains are independent, which hides the fma latency that one ggml-order chain per output would
// expose; the block scale products dw * da (one float32 rounding, as ggml's) are formed first,
// 8 blocks per instruction.
template <Fmt F, int NR, int R>
inline void Tile(const GgufPlan& p, const Q8Acts& a, RowScales& rs, int64_t n, int64_t m0, float* C, int64_t ldc) {
  const int64_t B = p.B;
  const uint8_t* qrow[NR];
  for (int i = 0; i < NR; i++) qrow[i] = p.QRow(n + i);
  const int8_t* qa[R];
  const int32_t* g8[R];
  for (int r = 0; r < R; r++) {
    qa[r] = a.q.data() + (m0 + r) * B * 32;
    g8[r] = F == Fmt::Q4_0 ? a.g8.data() + (m0 + r) * B * 8 : nullptr;
  }
  float* prod = rs.prod.data();  // [NR][R][B]
  for (int i = 0; i < NR; i++)
    for (int r = 0; r < R; r++) {
      const float* dw = rs.dw.data() + i * B;
      const float* da = a.d.data() + (m0 + r) * B;
      float* pr = prod + (i * R + r) * B;
      int64_t b = 0;
      for (; b + 8 <= B; b += 8) _mm256_storeu_ps(pr + b, _mm256_mul_ps(_mm256_loadu_ps(dw + b), _mm256_loadu_ps(da + b)));
      for (; b < B; b++) pr[b] = dw[b] * da[b];
    }
  __m256 acc[NR][R];
  for (int i = 0; i < NR; i++)
    for (int r = 0; r < R; r++) acc[i][r] = _mm256_setzero_ps();
  __m128 summs[R];  // q4_1, lanes = weight rows (NR <= 4)
  for (int r = 0; r < R; r++) summs[r] = _mm_setzero_ps();
  for (int64_t b = 0; b < B; b++) {
    __m256i act[R];
    for (int r = 0; r < R; r++) act[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qa[r] + b * 32));
    for (int i = 0; i < NR; i++) {
      const __m256i wq = WeightBytes<F>(qrow[i], b);
      __m256i wabs;
      if constexpr (F == Fmt::Q8_0) wabs = _mm256_sign_epi8(wq, wq);
      for (int r = 0; r < R; r++) {
        __m256i lanes;
        if constexpr (F == Fmt::Q8_0) {
          lanes = DotU8S8(wabs, _mm256_sign_epi8(act[r], wq));  // |w| * (sign(w) q) = w * q
        } else {
          lanes = DotU8S8(wq, act[r]);
          if constexpr (F == Fmt::Q4_0)  // (nibble - 8) * q = nibble * q - 8 q, per 4-group
            lanes = _mm256_sub_epi32(lanes, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g8[r] + b * 8)));
        }
        acc[i][r] = _mm256_fmadd_ps(_mm256_broadcast_ss(prod + (i * R + r) * B + b), _mm256_cvtepi32_ps(lanes), acc[i][r]);
      }
    }
    if constexpr (F == Fmt::Q4_1) {
      const __m128 mt = NR == 4 ? _mm_loadu_ps(rs.mt.data() + b * 4) : _mm_set_ps(0, 0, NR > 1 ? rs.mt[b * NR + 1] : 0, rs.mt[b * NR]);
      for (int r = 0; r < R; r++) summs[r] = _mm_fmadd_ps(mt, _mm_set1_ps(a.s[(m0 + r) * B + b]), summs[r]);
    }
  }
  for (int r = 0; r < R; r++) {
    alignas(16) float sm[4];
    _mm_store_ps(sm, summs[r]);
    for (int i = 0; i < NR; i++) {
      float v = HsumPs8(acc[i][r]);
      if constexpr (F == Fmt::Q4_1) v += sm[i];
      C[(m0 + r) * ldc + n + i] = v;
    }
  }
}

// The block scales of weight rows n .. n + 3 transposed: dt[b] = their 4 d, and for q4_1 mt[b] =
// their 4 minimums (float16 -> float32 with F16C, then 4 x 8 transposes, 8 halves per row at a
// time; the tail through the scalar converter).
template <Fmt F>
void TransposeScales4(const GgufPlan& p, int64_t n, RowScales& rs) {
  const int64_t B = p.B;
  constexpr int per = F == Fmt::Q4_1 ? 2 : 1;
  const uint16_t* src[4];
  for (int i = 0; i < 4; i++) src[i] = reinterpret_cast<const uint16_t*>(p.SRow(n + i));
  float* dt = rs.dt.data();
  float* mt = rs.mt.data();
  constexpr int step = 8 / per;  // blocks per 8 halves
  int64_t b = 0;
  for (; b + step <= B; b += step) {
    __m256 r[4];
    for (int i = 0; i < 4; i++) r[i] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src[i] + b * per)));
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpacklo_ps(r[2], r[3]);
    const __m256 t2 = _mm256_unpackhi_ps(r[0], r[1]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    // t0 / t1: elements 0, 1 (and 4, 5 in the upper half) of rows 0, 1 / 2, 3; t2 / t3: 2, 3 (6, 7).
    const __m256 e0 = _mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(1, 0, 1, 0)), e1 = _mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 e2 = _mm256_shuffle_ps(t2, t3, _MM_SHUFFLE(1, 0, 1, 0)), e3 = _mm256_shuffle_ps(t2, t3, _MM_SHUFFLE(3, 2, 3, 2));
    // e_j holds element j (lower 128) and j + 4 (upper 128) of the 4 rows.
    const __m256 e[4] = {e0, e1, e2, e3};
    for (int j = 0; j < 8; j++) {
      const __m128 v = j < 4 ? _mm256_castps256_ps128(e[j]) : _mm256_extractf128_ps(e[j - 4], 1);
      if constexpr (per == 1) _mm_storeu_ps(dt + (b + j) * 4, v);
      else _mm_storeu_ps((j % 2 == 0 ? dt : mt) + (b + j / 2) * 4, v);
    }
  }
  for (; b < B; b++)
    for (int i = 0; i < 4; i++) {
      dt[b * 4 + i] = HalfToFloat(src[i][b * per]);
      if constexpr (per == 2) mt[b * 4 + i] = HalfToFloat(src[i][b * 2 + 1]);
    }
}

// Weight rows [n0, n1) against every activation row: NR weight rows at a time (their scales
// widened once), all M activation rows R at a time while those rows sit in L1.
template <Fmt F, int NR, int R>
void RowsSimd(const GgufPlan& p, const Q8Acts& a, float* C, int64_t ldc, int64_t n0, int64_t n1) {
  static_assert(NR <= 4, "the q4_1 minimum sums keep one lane per weight row in a 4-lane vector");
  const int64_t B = p.B, M = a.M;
  constexpr int per = F == Fmt::Q4_1 ? 2 : 1;
  thread_local RowScales rs;  // reused: a call covers 16 weight rows
  rs.dw.resize(NR * B);
  rs.mt.resize(NR * B);
  rs.tmp.resize(B * per);
  rs.prod.resize(NR * R * B);
  int64_t n = n0;
  auto rowsAt = [&](auto nr) {
    constexpr int kNr = decltype(nr)::value;
    constexpr bool wide = kNr == 4 && kTile512;  // Tile512 reads the scales transposed (dt)
    if constexpr (wide) {
      rs.dt.resize(B * 4 + 8);
      TransposeScales4<F>(p, n, rs);
    } else
    for (int i = 0; i < kNr; i++) {
      HalfToFloatN(reinterpret_cast<const uint16_t*>(p.SRow(n + i)), rs.tmp.data(), B * per);
      for (int64_t b = 0; b < B; b++) {
        if constexpr (wide) rs.dt[b * 4 + i] = rs.tmp[b * per];
        else rs.dw[i * B + b] = rs.tmp[b * per];
        if constexpr (F == Fmt::Q4_1) rs.mt[b * kNr + i] = rs.tmp[b * 2 + 1];
      }
    }
    int64_t m0 = 0;
#ifdef XPU_Q8_TILE512
    if constexpr (wide) {
      for (; m0 + R <= M; m0 += R) Tile512<F, R>(p, a, rs, n, m0, C, ldc);
      if constexpr (R > 4) for (; m0 + 4 <= M; m0 += 4) Tile512<F, 4>(p, a, rs, n, m0, C, ldc);
      for (; m0 < M; m0++) Tile512<F, 1>(p, a, rs, n, m0, C, ldc);
    }
#endif
    for (; m0 + R <= M; m0 += R) Tile<F, kNr, R>(p, a, rs, n, m0, C, ldc);
    for (; m0 < M; m0++) Tile<F, kNr, 1>(p, a, rs, n, m0, C, ldc);
  };
  for (; n + NR <= n1; n += NR) rowsAt(std::integral_constant<int, NR>{});
  for (; n < n1; n++) rowsAt(std::integral_constant<int, 1>{});
}

template <Fmt F>
void RowsSimdF(const GgufPlan& p, const Q8Acts& a, float* C, int64_t ldc, int64_t n0, int64_t n1) {
  if (a.M == 1) RowsSimd<F, 4, 1>(p, a, C, ldc, n0, n1);
#ifdef XPU_Q8_TILE512
  else RowsSimd<F, 4, 8>(p, a, C, ldc, n0, n1);
#else
  else RowsSimd<F, 2, 4>(p, a, C, ldc, n0, n1);
#endif
}
#endif

void Rows(const GgufPlan& p, const Q8Acts& a, float* C, int64_t ldc, int64_t n0, int64_t n1) {
#if defined(__AVX2__)
  switch (p.fmt) {
    case Fmt::Q4_0: return RowsSimdF<Fmt::Q4_0>(p, a, C, ldc, n0, n1);
    case Fmt::Q4_1: return RowsSimdF<Fmt::Q4_1>(p, a, C, ldc, n0, n1);
    case Fmt::Q8_0: return RowsSimdF<Fmt::Q8_0>(p, a, C, ldc, n0, n1);
    default: break;
  }
#endif
  for (int64_t m0 = 0; m0 < a.M; m0 += 4) RowsScalar(p, a, m0, static_cast<int>(std::min<int64_t>(4, a.M - m0)), C, ldc, n0, n1);
}

}  // namespace

bool GgufQ8Supports(GgufFormat f) { return f == Fmt::Q4_0 || f == Fmt::Q4_1 || f == Fmt::Q8_0; }

void GgufQ8Matmul(const GgufPlan& p, const float* x, float* C) {
  const int64_t N = p.N;
  const Q8Acts a = QuantizeActs(x, p.M, p.K, p.fmt);
  if (GgufQ8WideSupports(p.fmt) && p.M >= kQ8WideMinRows) return GgufQ8Wide(p, a.q.data(), a.d.data(), C);
  const int64_t chunk = 16, chunks = (N + chunk - 1) / chunk;
  const auto chunkRows = [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) Rows(p, a, C, N, c * chunk, std::min(N, (c + 1) * chunk));
  };
  if (InlineTeamActive()) return InlineSplit(chunks, chunkRows);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; c++) chunkRows(c, c + 1);
}

}  // namespace xpu::compute
