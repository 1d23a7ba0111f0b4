// The native f32 GEMM: oneDNN's matmul primitive, run on the compute queue (queue.h) by
// gemm_binding.cc, which reads the descriptor and hands over a GemmRequest (gemm.h).
//
// The TypeScript side (src/backends/cpu/native_gemm.ts) hands over the CPU matmul spec as it is:
// operands as typed arrays with an element offset and one stride per output dim (0 where
// broadcast), the batch shape, and the epilogue. Here, on the JS thread, the call is planned:
//
//   - batches: when B (and any bias/residual) does not move along the batch while A's batch dims
//     and rows form one evenly strided run, the batch is folded into M (one big GEMM, what a
//     Linear over [B, S, K] is); otherwise one 2-D GEMM per batch entry, all with one primitive;
//   - layouts: an f32 operand whose strides fit a row-major or column-major matrix with a leading
//     dimension is read in place (oneDNN's strided memory descriptors = BLAS transA/transB + ld);
//     anything else (float16 operands, arbitrary strides, negative strides) is packed into a
//     dense f32 copy on the worker first;
//   - epilogue: act(alpha * acc + beta * bias) + residual as oneDNN post-ops (output scale alpha,
//     binary add of bias, eltwise relu / gelu_erf / swish, binary add of residual); a bias with
//     beta != 1 is packed as beta * bias. float16 output: f32 into a scratch, then converted.
//
// The primitive (oneDNN's JIT-compiled kernel) is created here, on the JS thread, so an
// unsupported case is known before anything is queued (the caller then keeps the TypeScript
// GEMM), and cached by layout. The worker only packs, executes and converts.
//
// Built with oneMKL as well (XPU_HAVE_MKL: scripts/fetch-mkl.sh, native/configure.mjs), oneMKL's
// cblas_sgemm / cblas_sgemv take the shapes where they measured faster than oneDNN 2.6.3 on this
// project's machine (native/compute/tools/gemm_mkl.cc; bench/results/README.md, "cpu GEMM on
// oneMKL"): every GEMM whose B is row-major, a Linear weight (B = W^T) from MklMinRowsWeightT()
// rows on, the one-row GEMV, and the small-M and inline paths that used dnnl_sgemm. oneDNN keeps
// the Linear shapes from 5 rows to below that (its small-M kernels beat oneMKL's there) and every
// case with an activation (fused as a post-op instead of a second pass). XPU_CPU_MKL=off: oneDNN
// and our GEMV only, as without oneMKL.
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "half.h"
#include "gemv.h"
#include "inline_team.h"

#ifdef XPU_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
extern "C" int omp_get_max_threads(void);
#endif
#ifdef XPU_HAVE_MKL
#include <mkl_cblas.h>
#include <mkl_service.h>
#endif

namespace xpu::compute {

#ifdef XPU_HAVE_DNNL

namespace {

using Operand = GemmOperand;

// Strides of a size-1 dim say nothing; make them ones oneDNN accepts.
void NormaliseStrides(int64_t rows, int64_t cols, int64_t& s0, int64_t& s1) {
  // A single row is row-major when its elements are adjacent, else column-major with ld = s1 (a
  // strided row stays in place); a single column likewise.
  if (rows == 1 && cols == 1) s0 = s1 = 1;
  else if (rows == 1) s0 = s1 == 1 ? cols : 1;
  else if (cols == 1) s1 = s0 == 1 ? rows : 1;
}

// A matrix oneDNN reads in place: row-major (s1 == 1) or column-major (s0 == 1) with a leading
// dimension at least the row/column length.
bool FitsInPlace(int64_t rows, int64_t cols, int64_t s0, int64_t s1) {
  if (rows == 1 && cols == 1) return true;
  return (s1 == 1 && s0 >= cols) || (s0 == 1 && s1 >= rows);
}

struct Prim {
  dnnl::matmul prim;
  std::string impl;
};

dnnl::engine& Engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

// Primitive cache by layout key (JS thread only), least recently used dropped beyond kCap.
constexpr size_t kCap = 128;
// Shared by every env's JS thread: guarded by cacheMu (stats too).
std::mutex cacheMu;
std::list<std::pair<std::string, std::shared_ptr<Prim>>> lru;
std::unordered_map<std::string, decltype(lru)::iterator> cacheIndex;

struct Stats {
  uint64_t calls = 0, folded = 0, packedA = 0, packedB = 0, refImpl = 0, cacheHits = 0;
  std::string lastImpl;
} stats;

using dnnl::memory;

memory::desc MatDesc(int64_t rows, int64_t cols, int64_t s0, int64_t s1) {
  return memory::desc({rows, cols}, memory::data_type::f32, memory::dims{s0, s1});
}

// The 2-D problem after planning: every stride as oneDNN sees it.
struct Problem {
  int64_t M = 0, N = 0, K = 0;
  int64_t as0, as1, bs0, bs1;
  bool hasBias = false, hasRes = false;
  int64_t biasRows, biasCols, biasS0, biasS1;
  int64_t resRows, resCols, resS0, resS1;
  float alpha = 1.0f;
  int act = 0;  // 0 none, 1 relu, 2 gelu (erf), 3 silu
  // Small M: dnnl_sgemm (oneDNN's BLAS-like GEMM, with GEMV kernels for a few rows) and the
  // epilogue as a second pass over the few output rows, instead of the matmul primitive.
  bool sgemm = false;
  // The `sgemm` path on oneMKL's cblas_sgemm / cblas_sgemv instead of dnnl_sgemm (any M).
  bool mkl = false;
  // A float16 weight read as W [N, K] with rows contiguous along K (B = W^T, bs0 == 1), never
  // converted whole: 1 = the streaming GEMV (M <= 8, gemv.cc), 2 = N-blocks converted to an
  // f32 tile and multiplied by dnnl_sgemm (accumulating into C block by block). wld: W's row
  // stride (B's column stride). Both with the epilogue as a second pass, as for `sgemm`.
  int f16w = 0;
  // An f32 weight read the same way (B = W^T, bs0 == 1) by the streaming GEMV (gemv.cc) for
  // M <= F32GemvMaxM(), where it outran dnnl_sgemm (docs/ARCHITECTURE.md, "CPU GEMM";
  // native/compute/tools/gemv_probe.cc).
  bool f32gemv = false;
  int64_t wld = 0;
  int64_t ldc = 0;  // C's row stride when not N (a tile primitive writes a column block of C)
};

std::string KeyOf(const Problem& p) {
  std::string k;
  auto add = [&](int64_t v) { k += std::to_string(v); k += ','; };
  add(p.M); add(p.N); add(p.K); add(p.as0); add(p.as1); add(p.bs0); add(p.bs1);
  add(p.hasBias);
  if (p.hasBias) { add(p.biasRows); add(p.biasCols); add(p.biasS0); add(p.biasS1); }
  add(p.hasRes);
  if (p.hasRes) { add(p.resRows); add(p.resCols); add(p.resS0); add(p.resS1); }
  uint32_t ab;
  std::memcpy(&ab, &p.alpha, 4);
  add(ab); add(p.act); add(p.ldc);
  return k;
}

std::shared_ptr<Prim> MakePrim(const Problem& p) {
  std::string key = KeyOf(p);
  std::lock_guard<std::mutex> lock(cacheMu);
  auto it = cacheIndex.find(key);
  if (it != cacheIndex.end()) {
    lru.splice(lru.begin(), lru, it->second);
    stats.cacheHits++;
    return it->second->second;
  }
  dnnl::primitive_attr attr;
  if (p.alpha != 1.0f) attr.set_output_scales(0, {p.alpha});
  dnnl::post_ops po;
  if (p.hasBias) po.append_binary(dnnl::algorithm::binary_add, MatDesc(p.biasRows, p.biasCols, p.biasS0, p.biasS1));
  if (p.act == 1) po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  if (p.act == 2) po.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f);
  if (p.act == 3) po.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.0f, 0.0f);
  if (p.hasRes) po.append_binary(dnnl::algorithm::binary_add, MatDesc(p.resRows, p.resCols, p.resS0, p.resS1));
  attr.set_post_ops(po);
  dnnl::matmul::desc d(MatDesc(p.M, p.K, p.as0, p.as1), MatDesc(p.K, p.N, p.bs0, p.bs1), MatDesc(p.M, p.N, p.ldc ? p.ldc : p.N, 1));
  dnnl::matmul::primitive_desc pd(d, attr, Engine());
  auto prim = std::make_shared<Prim>(Prim{dnnl::matmul(pd), pd.impl_info_str()});
  lru.emplace_front(key, prim);
  cacheIndex[key] = lru.begin();
  if (lru.size() > kCap) {
    cacheIndex.erase(lru.back().first);
    lru.pop_back();
  }
  return prim;
}

// Can dims [batch..., rows] with these strides be walked as one dim of their total size?
bool Merges(const std::vector<int64_t>& batch, const std::vector<int64_t>& bstrides, int64_t rows, int64_t rowStride, int64_t* merged) {
  bool known = rows != 1;  // a size-1 dim fits any stride
  int64_t stride = rowStride, size = rows;
  for (size_t i = batch.size(); i-- > 0;) {
    if (batch[i] == 1) continue;
    if (!known) {
      known = true;
      stride = bstrides[i];
      size = batch[i];
      continue;
    }
    if (bstrides[i] != stride * size) return false;
    size *= batch[i];
  }
  *merged = known ? stride : 0;
  return true;
}

}  // namespace

// The plan of gemm.h: the request with every layout decided.
struct GemmPlan {
  Problem p;
  std::shared_ptr<Prim> prim;
  int64_t tileRows = 0;  // the f16 blocked path: rows of W per converted tile
  Operand a, b, bias, res;
  char* out = nullptr;
  bool outF16 = false;
  std::vector<int64_t> batch;  // empty when folded
  std::vector<uint64_t> deps;  // pending jobs that write this job's inputs
  int64_t entries = 1;
  int64_t m = 0, n = 0, k = 0;  // per entry (before folding)
};

namespace {

using Plan = GemmPlan;

// ---- execution (worker thread) ------------------------------------------------------------------

// Dense f32 copy of a rows x cols matrix read through (s0, s1), times `scale`.
void PackInto(const Operand& op, int64_t off, int64_t rows, int64_t cols, int64_t s0, int64_t s1, float scale, float* dst) {
  for (int64_t i = 0; i < rows; i++) {
    float* d = dst + i * cols;
    if (op.f16) {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(op.base) + off + i * s0;
      if (s1 == 1) HalfToFloatN(s, d, cols);
      else for (int64_t j = 0; j < cols; j++) d[j] = HalfToFloat(s[j * s1]);
    } else {
      const float* s = reinterpret_cast<const float*>(op.base) + off + i * s0;
      if (s1 == 1) std::memcpy(d, s, cols * 4);
      else for (int64_t j = 0; j < cols; j++) d[j] = s[j * s1];
    }
    if (scale != 1.0f) for (int64_t j = 0; j < cols; j++) d[j] *= scale;
  }
}

// Scratch buffers, uninitialised (every element is written before it is read).
struct Scratch {
  std::unique_ptr<float[]> p;
  void resize(int64_t n) { p.reset(new float[static_cast<size_t>(n)]); }
  float* data() const { return p.get(); }
};

// The epilogue as a second pass over C (M x N, dense): bias, activation, residual (alpha was
// applied by the GEMM). For the paths that do not run oneDNN's post-ops.
template <class OffOf>
void Epilogue(const Plan& pl, float* C, OffOf offOf, Scratch& packBias, bool biasOnce, Scratch& packRes, bool resOnce, int64_t e) {
  const Problem& p = pl.p;
  const int64_t M = p.M, N = p.N;
  if (!p.hasBias && !p.act && !p.hasRes) return;
  auto source = [&](const Operand& o, Scratch& pack, bool once, int64_t rows, int64_t cols) -> const float* {
    if (!o.pack) return reinterpret_cast<const float*>(o.base) + offOf(o);
    if (e == 0 || !once) PackInto(o, offOf(o), rows, cols, o.s0, o.s1, o.scale, pack.data());
    return pack.data();
  };
  const float* bias = p.hasBias ? source(pl.bias, packBias, biasOnce, p.biasRows, p.biasCols) : nullptr;
  const float* res = p.hasRes ? source(pl.res, packRes, resOnce, p.resRows, p.resCols) : nullptr;
  // Rows across the OpenMP pool when there are many (the f16 blocked path runs this for
  // prefill-sized M; erf/exp per element add up).
#pragma omp parallel for schedule(static) if (M > 8 && M * N >= (int64_t{1} << 16))
  for (int64_t i = 0; i < M; i++) {
    float* c = C + i * N;
    const float* brow = bias ? bias + (p.biasRows == 1 ? 0 : i * p.biasS0) : nullptr;
    const float* rrow = res ? res + (p.resRows == 1 ? 0 : i * p.resS0) : nullptr;
    for (int64_t j = 0; j < N; j++) {
      float v = c[j];
      if (brow) v += brow[p.biasCols == 1 ? 0 : j * p.biasS1];
      if (p.act == 1) v = v > 0.0f ? v : (v == v ? 0.0f : v);
      else if (p.act == 2) v = 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f));
      else if (p.act == 3) v = v / (1.0f + std::exp(-v));
      if (rrow) v += rrow[p.resCols == 1 ? 0 : j * p.resS1];
      c[j] = v;
    }
  }
}

// cols(n0, n1) computes output columns [n0, n1) of an M-row product. On the JS thread (a `Now`
// entry point) the columns are split across the inline team in 64-column parts (whole cache lines
// of C) when the product is worth it: one row (a GEMV) from 2^15 multiply-adds, finely cut; several
// rows from 2^21, one part per thread, since each BLAS call packs its own operands. On the compute
// thread the BLAS call's own OpenMP threads split it: cols(0, N).
template <class Cols>
void SplitColumns(int64_t M, int64_t N, int64_t K, const Cols& cols) {
  constexpr int64_t kPart = 64;
  const bool oneRow = M == 1;
  if (!InlineTeamActive() || M * N * K < (int64_t{1} << (oneRow ? 15 : 21)) || N <= (oneRow ? kPart : 2 * kPart - 1)) return cols(0, N);
  InlineSplit((N + kPart - 1) / kPart, [&](int64_t c0, int64_t c1) { cols(c0 * kPart, std::min(N, c1 * kPart)); }, oneRow ? 4 : 1);
}

// The small-M path: C = alpha * op(A) op(B) by dnnl_sgemm (row-major; a column-major operand is
// the transposed row-major one), then bias, activation and residual over C in one pass.
template <class OffOf>
void RunSgemm(const Plan& pl, const float* A, const float* B, float* C, OffOf offOf, Scratch& packBias, bool biasOnce, Scratch& packRes, bool resOnce, int64_t e) {
  const Problem& p = pl.p;
  const int64_t M = p.M, N = p.N, K = p.K;
  const bool ta = p.as1 != 1, tb = p.bs1 != 1;  // FitsInPlace: one of the two strides is 1
#ifdef XPU_HAVE_MKL
  if (p.mkl) {
    // The same products as below in CBLAS's row-major terms (a column-major operand is the
    // transposed row-major one); for one row, y = op(B)^T x with x = A's row (element stride as1).
    const auto tr = [](bool t) { return t ? CblasTrans : CblasNoTrans; };
    if (M == 1) {
      // Output columns [n0, n1): on the JS thread split across the inline team (inline_team.h).
      const auto cols = [&](int64_t n0, int64_t n1) {
        if (tb) cblas_sgemv(CblasRowMajor, CblasNoTrans, n1 - n0, K, p.alpha, B + n0 * p.bs1, p.bs1, A, p.as1, 0.0f, C + n0, 1);
        else cblas_sgemv(CblasRowMajor, CblasTrans, K, n1 - n0, p.alpha, B + n0, p.bs0, A, p.as1, 0.0f, C + n0, 1);
      };
      SplitColumns(M, N, K, cols);
    } else {
      // Output columns [n0, n1): B's columns n0.. (row-major) or rows n0.. (a Linear weight).
      const auto cols = [&](int64_t n0, int64_t n1) {
        const float* Bn = B + n0 * (tb ? p.bs1 : 1);
        cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), M, n1 - n0, K, p.alpha, A, ta ? p.as1 : p.as0, Bn, tb ? p.bs1 : p.bs0, 0.0f, C + n0, N);
      };
      SplitColumns(M, N, K, cols);
    }
    Epilogue(pl, C, offOf, packBias, biasOnce, packRes, resOnce, e);
    return;
  }
#endif
  // Output columns [n0, n1), as above; a failing part's status is kept (parts may run on helpers).
  std::atomic<int> failed{dnnl_success};
  const auto cols = [&](int64_t n0, int64_t n1) {
    const float* Bn = B + n0 * (tb ? p.bs1 : 1);
    // One row: C^T = op(B)^T A^T, a matrix-vector product over B's rows as stored (a Linear
    // weight [N, K] is read row by row), the layout GEMV kernels are fastest on.
    const dnnl_status_t s = M == 1 ? dnnl_sgemm(tb ? 'N' : 'T', 'N', n1 - n0, 1, K, p.alpha, Bn, tb ? p.bs1 : p.bs0, A, p.as1, 0.0f, C + n0, 1)
                                   : dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, n1 - n0, K, p.alpha, A, ta ? p.as1 : p.as0, Bn, tb ? p.bs1 : p.bs0, 0.0f, C + n0, N);
    if (s != dnnl_success) failed.store(s);
  };
  SplitColumns(M, N, K, cols);
  const dnnl_status_t st = static_cast<dnnl_status_t>(failed.load());
  if (st != dnnl_success) throw dnnl::error(st, "dnnl_sgemm");
  Epilogue(pl, C, offOf, packBias, biasOnce, packRes, resOnce, e);
}

// The float16-weight paths (Problem::f16w): W is B^T as stored, float16, rows p.wld apart.
// A is row-major (as1 == 1) for the GEMV; either BLAS layout for the blocked sgemm.
template <class OffOf>
void RunF16Weight(const Plan& pl, const float* A, const uint16_t* W, float* C, Scratch& tile, int64_t tileRows, OffOf offOf, Scratch& packBias, bool biasOnce, Scratch& packRes, bool resOnce, int64_t e) {
  const Problem& p = pl.p;
  const int64_t M = p.M, N = p.N, K = p.K;
  if (p.f16w == 1) {
    GemvF16(A, M, p.as0, W, p.wld, N, K, p.alpha, C, N);
  } else {
    // dnnl_sgemm per tile (it beat a matmul primitive per tile for prefill-sized M):
    // C[:, n0:n0+nb] = alpha * op(A) tile^T, the tile [nb, K] row-major being B's block transposed.
    const bool ta = p.as1 != 1;
    for (int64_t n0 = 0; n0 < N; n0 += tileRows) {
      const int64_t nb = std::min(tileRows, N - n0);
      HalfRowsToFloat(W + n0 * p.wld, p.wld, nb, K, tile.data());
      dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', 'T', M, nb, K, p.alpha, A, ta ? p.as1 : p.as0, tile.data(), K, 0.0f, C + n0, N);
      if (st != dnnl_success) throw dnnl::error(st, "dnnl_sgemm");
    }
  }
  Epilogue(pl, C, offOf, packBias, biasOnce, packRes, resOnce, e);
}

// float16 weights (B = W^T, W's rows contiguous along K). XPU_CPU_F16_GEMM, read once:
// `stream` (default): the GEMV for M <= 8 and N-blocks converted to an f32 tile for more rows;
// `gemv`: the GEMV for few rows, the whole-weight conversion + matmul primitive for more;
// `convert`: always the whole-weight conversion (the old path, for comparison).
int F16WeightMode() {
  static const int v = [] {
    const char* e = std::getenv("XPU_CPU_F16_GEMM");
    std::string s = e ? e : "";
    return s == "convert" ? 0 : s == "gemv" ? 1 : 2;
  }();
  return v;
}
int64_t F16GemvMaxM() { return 8; }

// Rows of W per converted tile in the blocked path: about XPU_CPU_F16_TILE_KB (default 2048) of
// f32, at least 16 rows, a multiple of 16.
int64_t F16TileRows(int64_t K, int64_t N) {
  static const int64_t kb = [] {
    const char* e = std::getenv("XPU_CPU_F16_TILE_KB");
    int64_t v = e && *e ? std::atoll(e) : 0;
    return v > 0 ? v : int64_t{2048};
  }();
  int64_t rows = kb * 1024 / (4 * K);
  rows = std::max<int64_t>(16, rows / 16 * 16);
  return std::min(rows, N);
}

// Ids of the jobs that failed on this worker thread: a job reading the output of one fails too.
thread_local std::set<uint64_t> failed;

std::string Run(const Plan& pl, uint64_t id) {
  if (!failed.empty()) {
    for (uint64_t d : pl.deps) {
      if (failed.count(d)) {
        failed.insert(id);
        return "an input was produced by a native GEMM that failed (job " + std::to_string(d) + ")";
      }
    }
  }
  const Problem& p = pl.p;
  const int64_t M = p.M, N = p.N, K = p.K;
  Scratch packA, packB, packBias, packRes, scratch;
  // Operands that do not move along the batch are packed once.
  auto batchFixed = [&](const Operand& o) {
    for (int64_t s : o.bstrides) if (s != 0) return false;
    return true;
  };
  bool aOnce = pl.a.pack && batchFixed(pl.a), bOnce = pl.b.pack && batchFixed(pl.b);
  bool biasOnce = pl.bias.pack && batchFixed(pl.bias), resOnce = pl.res.pack && batchFixed(pl.res);
  if (pl.a.pack) packA.resize(M * K);
  if (pl.b.pack) packB.resize(K * N);
  if (pl.bias.pack) packBias.resize(p.biasRows * p.biasCols);
  if (pl.res.pack) packRes.resize(p.resRows * p.resCols);
  if (pl.outF16) scratch.resize(M * N);
  Scratch tile;
  const int64_t tileRows = pl.tileRows;
  if (tileRows) tile.resize(tileRows * K);
  dnnl::stream stream(Engine());
  std::vector<int64_t> idx(pl.batch.size(), 0);
  for (int64_t e = 0; e < pl.entries; e++) {
    auto offOf = [&](const Operand& o) {
      int64_t off = o.offset;
      for (size_t d = 0; d < idx.size(); d++) off += idx[d] * o.bstrides[d];
      return off;
    };
    int64_t ao = offOf(pl.a), bo = offOf(pl.b);
    const float* A;
    const float* B;
    if (pl.a.pack) {
      if (e == 0 || !aOnce) PackInto(pl.a, ao, M, K, pl.a.s0, pl.a.s1, 1.0f, packA.data());
      A = packA.data();
    } else {
      A = reinterpret_cast<const float*>(pl.a.base) + ao;
    }
    float* C = pl.outF16 ? scratch.data() : reinterpret_cast<float*>(pl.out) + e * M * N;
    // After each entry: the float16 output converted, the batch index moved on.
    auto finishEntry = [&] {
      if (pl.outF16) FloatToHalfN(scratch.data(), reinterpret_cast<uint16_t*>(pl.out) + e * M * N, M * N);
      for (size_t d = idx.size(); d-- > 0;) {
        if (++idx[d] < pl.batch[d]) break;
        idx[d] = 0;
      }
    };
    if (p.f16w) {
      const uint16_t* W = reinterpret_cast<const uint16_t*>(pl.b.base) + bo;
      RunF16Weight(pl, A, W, C, tile, tileRows, offOf, packBias, biasOnce, packRes, resOnce, e);
      finishEntry();
      continue;
    }
    if (p.f32gemv) {
      const float* W = reinterpret_cast<const float*>(pl.b.base) + bo;
      GemvF32(A, M, p.as0, W, p.wld, N, K, p.alpha, C, N);
      Epilogue(pl, C, offOf, packBias, biasOnce, packRes, resOnce, e);
      finishEntry();
      continue;
    }
    if (pl.b.pack) {
      if (e == 0 || !bOnce) PackInto(pl.b, bo, K, N, pl.b.s0, pl.b.s1, 1.0f, packB.data());
      B = packB.data();
    } else {
      B = reinterpret_cast<const float*>(pl.b.base) + bo;
    }
    if (p.sgemm) {
      RunSgemm(pl, A, B, C, offOf, packBias, biasOnce, packRes, resOnce, e);
      finishEntry();
      continue;
    }
    std::unordered_map<int, memory> args;
    args.emplace(DNNL_ARG_SRC, memory(MatDesc(M, K, p.as0, p.as1), Engine(), const_cast<float*>(A)));
    args.emplace(DNNL_ARG_WEIGHTS, memory(MatDesc(K, N, p.bs0, p.bs1), Engine(), const_cast<float*>(B)));
    args.emplace(DNNL_ARG_DST, memory(MatDesc(M, N, N, 1), Engine(), C));
    int post = 0;
    auto binary = [&](const Operand& o, Scratch& pack, bool once, int64_t rows, int64_t cols, int64_t s0, int64_t s1) {
      const float* ptr;
      if (o.pack) {
        // Packed with broadcast dims kept at size 1 (rows/cols as oneDNN sees them).
        if (e == 0 || !once) PackInto(o, offOf(o), rows, cols, o.s0, o.s1, o.scale, pack.data());
        ptr = pack.data();
      } else {
        ptr = reinterpret_cast<const float*>(o.base) + offOf(o);
      }
      args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(post) | DNNL_ARG_SRC_1, memory(MatDesc(rows, cols, s0, s1), Engine(), const_cast<float*>(ptr)));
      post++;
    };
    if (p.hasBias) binary(pl.bias, packBias, biasOnce, p.biasRows, p.biasCols, p.biasS0, p.biasS1);
    if (p.act) post++;
    if (p.hasRes) binary(pl.res, packRes, resOnce, p.resRows, p.resCols, p.resS0, p.resS1);
    pl.prim->prim.execute(stream, args);
    stream.wait();
    finishEntry();
  }
  return "";
}

// ---- planning (JS thread) -----------------------------------------------------------------------

// Where `op` (a rows x cols matrix, maybe broadcast) is read from: in place or packed.
void PlaceBinary(Operand& op, int64_t M, int64_t N, int64_t& rows, int64_t& cols, int64_t& s0, int64_t& s1) {
  rows = op.s0 == 0 ? 1 : M;
  cols = op.s1 == 0 ? 1 : N;
  s0 = op.s0;
  s1 = op.s1;
  NormaliseStrides(rows, cols, s0, s1);
  // Post-op operands are read in place only when dense row-major (what oneDNN's JIT handles);
  // f16, a scale, or any other layout is packed to dense.
  bool dense = s1 == 1 && s0 == cols;
  if (op.f16 || op.scale != 1.0f || !dense || op.s0 < 0 || op.s1 < 0) {
    op.pack = true;
    s0 = cols;
    s1 = 1;
  }
}

// Up to this many rows (after folding) the GEMM goes through dnnl_sgemm. XPU_DNNL_SGEMM_MAX_M
// overrides it (0: always the matmul primitive), read once.
int64_t SgemmMaxM() {
  static const int64_t v = [] {
    const char* e = std::getenv("XPU_DNNL_SGEMM_MAX_M");
    return e && *e ? std::atoll(e) : int64_t{4};
  }();
  return v;
}

// Up to this many rows an f32 Linear weight (B = W^T) goes through the streaming GEMV.
// XPU_CPU_F32_GEMV_MAX_M overrides it (0: never), read once.
int64_t F32GemvMaxM() {
  static const int64_t v = [] {
    const char* e = std::getenv("XPU_CPU_F32_GEMV_MAX_M");
    return e && *e ? std::atoll(e) : int64_t{4};
  }();
  return v;
}

// oneMKL for the shapes it measured faster at, unless XPU_CPU_MKL is off (read per plan, so a
// test or a benchmark can compare the two in one process).
bool MklEnabled() {
#ifdef XPU_HAVE_MKL
  const char* e = std::getenv("XPU_CPU_MKL");
  if (!e) return true;
  const std::string s = e;
  return !(s == "0" || s == "off" || s == "false" || s == "no");
#else
  return false;
#endif
}

// From this many rows a Linear weight (B = W^T, read along K) goes to oneMKL's sgemm; below it,
// oneDNN's matmul primitive, whose small-M kernels measured faster (the figures: docs/ARCHITECTURE.md,
// "oneMKL beside oneDNN").
constexpr int64_t MklMinRowsWeightT() { return 384; }

std::shared_ptr<Plan> MakePlan(GemmRequest req, bool onJsThread) {
  auto pl = std::make_shared<Plan>();
  pl->m = req.m;
  pl->n = req.n;
  pl->k = req.k;
  pl->batch = std::move(req.batch);
  pl->a = std::move(req.a);
  pl->b = std::move(req.b);
  pl->bias = std::move(req.bias);
  pl->res = std::move(req.res);
  pl->out = req.out;
  pl->outF16 = req.outF16;
  pl->deps = std::move(req.deps);
  const double alpha = req.alpha, beta = req.beta;
  const int actCode = req.act;
  int64_t entries = 1;
  for (int64_t s : pl->batch) entries *= s;
  const int64_t m = pl->m, n = pl->n, k = pl->k;

  Problem& p = pl->p;
  p.N = n;
  p.K = k;
  p.alpha = static_cast<float>(alpha);
  p.act = actCode;
  // Fold the batch into M when B, bias and residual stay put along it and A's rows run evenly.
  p.M = m;
  pl->entries = entries;
  if (entries > 1) {
    bool fixedB = true;
    for (int64_t s : pl->b.bstrides) fixedB = fixedB && s == 0;
    int64_t sa = 0, sbias = 0, sres = 0;
    bool ok = fixedB && Merges(pl->batch, pl->a.bstrides, m, pl->a.s0, &sa);
    auto mergesRows = [&](Operand& o, int64_t* s) {
      if (!o.present) return true;
      // Broadcast along rows and batch (a bias row) stays a broadcast; otherwise the batch must
      // continue the rows evenly.
      return Merges(pl->batch, o.bstrides, m, o.s0, s);
    };
    ok = ok && mergesRows(pl->bias, &sbias) && mergesRows(pl->res, &sres);
    if (ok) {
      p.M = m * entries;
      pl->entries = 1;
      pl->batch.clear();
      pl->a.s0 = sa;
      pl->a.bstrides.clear();
      pl->b.bstrides.clear();
      if (pl->bias.present) { pl->bias.s0 = sbias; pl->bias.bstrides.clear(); }
      if (pl->res.present) { pl->res.s0 = sres; pl->res.bstrides.clear(); }
      std::lock_guard<std::mutex> lock(cacheMu);
      stats.folded++;
    }
  }
  const int64_t M = p.M;
  // A and B: in place when the strides fit and the data is f32; packed (dense row-major) otherwise.
  p.as0 = pl->a.s0; p.as1 = pl->a.s1;
  NormaliseStrides(M, k, p.as0, p.as1);
  if (pl->a.f16 || !FitsInPlace(M, k, p.as0, p.as1)) {
    pl->a.pack = true;
    p.as0 = k; p.as1 = 1;
    std::lock_guard<std::mutex> lock(cacheMu);
    stats.packedA++;
  }
  p.bs0 = pl->b.s0; p.bs1 = pl->b.s1;
  NormaliseStrides(k, n, p.bs0, p.bs1);
  // A float16 weight with its K run contiguous (B = W^T of a Linear): streamed (few rows) or
  // converted block by block (many rows), never as a whole f32 copy. Other f16 layouts: packed.
  const int f16Mode = F16WeightMode();
  if (pl->b.f16 && p.bs0 == 1 && f16Mode != 0) {
    p.f16w = M <= F16GemvMaxM() ? 1 : f16Mode == 2 ? 2 : 0;
    p.wld = p.bs1;
  }
  const bool mkl = MklEnabled();
  // One row with oneMKL: its sgemv streams the weight a few per cent faster than GemvF32.
  p.f32gemv = !pl->b.f16 && p.bs0 == 1 && p.bs1 >= k && k > 1 && M <= F32GemvMaxM() && !(mkl && M == 1);
  if (p.f32gemv) p.wld = p.bs1;
  if (p.f16w || p.f32gemv) {
    // Read in place as W; bs0/bs1 only matter for the key, which these paths do not use.
    if ((p.f16w == 1 || p.f32gemv) && p.as1 != 1 && !pl->a.pack) {
      // The GEMV reads A's rows contiguously: pack a column-major or strided A (M <= 8 rows).
      pl->a.pack = true;
      p.as0 = k; p.as1 = 1;
      std::lock_guard<std::mutex> lock(cacheMu);
      stats.packedA++;
    }
  } else if (pl->b.f16 || !FitsInPlace(k, n, p.bs0, p.bs1)) {
    pl->b.pack = true;
    p.bs0 = n; p.bs1 = 1;
    std::lock_guard<std::mutex> lock(cacheMu);
    stats.packedB++;
  }
  // A packed A/B is dense: the row stride the packer reads with stays the caller's.
  if (pl->bias.present) {
    p.hasBias = true;
    pl->bias.scale = static_cast<float>(beta);
    PlaceBinary(pl->bias, M, n, p.biasRows, p.biasCols, p.biasS0, p.biasS1);
  }
  if (pl->res.present) {
    p.hasRes = true;
    PlaceBinary(pl->res, M, n, p.resRows, p.resCols, p.resS0, p.resS1);
  }
  p.sgemm = !p.f16w && !p.f32gemv && (p.M <= SgemmMaxM() || onJsThread);
  if (mkl && !p.f16w && !p.f32gemv) {
    // B as it is read: row-major (bs1 == 1) or a Linear weight (column-major, bs0 == 1).
    const bool weightT = p.bs1 != 1;
    p.mkl = p.sgemm || (!p.act && (!weightT || M >= MklMinRowsWeightT()));
    p.sgemm = p.sgemm || p.mkl;
  }
  if (p.f16w == 2) pl->tileRows = F16TileRows(k, n);
  if (!p.sgemm && !p.f16w && !p.f32gemv) {
    try {
      pl->prim = MakePrim(p);
    } catch (const dnnl::error& e) {
      throw std::runtime_error(std::string("oneDNN cannot run this case: ") + e.what());
    }
  }
  {
    std::lock_guard<std::mutex> lock(cacheMu);
    stats.calls++;
    stats.lastImpl = p.f16w == 1 ? "f16_gemv" : p.f16w == 2 ? "f16_blocked_sgemm" : p.f32gemv ? "f32_gemv" : p.mkl ? (p.M == 1 ? "mkl_sgemv" : "mkl_sgemm") : p.sgemm ? "dnnl_sgemm" : pl->prim->impl;
    if (!p.sgemm && !p.f16w && !p.f32gemv && pl->prim->impl.rfind("ref", 0) == 0) stats.refImpl++;
  }
  return pl;
}

const char* IsaName(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

#ifdef XPU_HAVE_MKL
// "2026.2.1": oneMKL's MKLVersion counts major, update, patch (MinorVersion stays 0).
std::string MklVersion() {
  MKLVersion v;
  mkl_get_version(&v);
  std::string s = std::to_string(v.MajorVersion) + "." + std::to_string(v.UpdateVersion);
  if (v.PatchVersion) s += "." + std::to_string(v.PatchVersion);
  return s;
}

// The code branch oneMKL dispatched to on this CPU (its CNR "auto" branch).
const char* MklIsa() {
  switch (mkl_cbwr_get_auto_branch()) {
    case MKL_CBWR_SSE2: return "sse2";
    case MKL_CBWR_SSE4_2: return "sse4_2";
    case MKL_CBWR_AVX2: return "avx2";
    case MKL_CBWR_AVX512: return "avx512";
    case MKL_CBWR_AVX512_E1: return "avx512_e1";
#ifdef MKL_CBWR_AVX10
    case MKL_CBWR_AVX10: return "avx10";
#endif
    default: return "other";
  }
}
#endif

}  // namespace

bool HaveGemm() { return true; }

std::shared_ptr<GemmPlan> PlanGemm(GemmRequest req, bool onJsThread) { return MakePlan(std::move(req), onJsThread); }

std::string RunGemmJob(const GemmPlan& plan, uint64_t id) {
  try {
    return Run(plan, id);
  } catch (const dnnl::error& e) {
    failed.insert(id);
    return std::string("oneDNN: ") + e.what();
  } catch (const std::bad_alloc&) {
    failed.insert(id);
    return "out of memory in the native GEMM (packing scratch)";
  }
}

// Through dnnl_sgemm rather than a matmul primitive (whose thread count is fixed when it is built):
// PlanGemm(..., onJsThread = true) chose it.
std::string RunGemmNow(const GemmPlan& plan) {
  try {
    return Run(plan, 0);
  } catch (const dnnl::error& e) {
    return std::string("oneDNN: ") + e.what();
  } catch (const std::bad_alloc&) {
    return "out of memory in the native GEMM (packing scratch)";
  }
}

GemmLibraryInfo GemmInfo() {
  GemmLibraryInfo o;
  const dnnl_version_t* v = dnnl_version();
  o.present = true;
  o.version = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  o.isa = IsaName(dnnl::get_effective_cpu_isa());
  o.runtime = v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : v->cpu_runtime == DNNL_RUNTIME_TBB ? "TBB" : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential" : "threadpool";
  o.threads = omp_get_max_threads();
  std::lock_guard<std::mutex> lock(cacheMu);
  o.calls = stats.calls;
  o.folded = stats.folded;
  o.packedA = stats.packedA;
  o.packedB = stats.packedB;
  o.refImpl = stats.refImpl;
  o.cacheHits = stats.cacheHits;
  o.lastImpl = stats.lastImpl;
#ifdef XPU_HAVE_MKL
  o.mklVersion = MklVersion();
  o.mklIsa = MklIsa();
  o.mklEnabled = MklEnabled();
#endif
  return o;
}

#else  // no oneDNN: no GEMM, and compute.info() says so

bool HaveGemm() { return false; }

GemmLibraryInfo GemmInfo() { return GemmLibraryInfo{}; }

#endif  // XPU_HAVE_DNNL

}  // namespace xpu::compute
