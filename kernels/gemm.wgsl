// Tiled GEMM template: C[b, m, n] = epilogue(sum_k A[b, m, k] * B[b, k, n]), accumulated in f32.
//
// The kernel only tiles and accumulates; all memory access goes through hook functions that the
// prelude (src/backends/webgpu/gemm_codegen.ts) supplies, the idea of tfjs's
// matmul_packed_webgpu.ts (mm_readA / mm_readB / mm_write), so one template serves dense
// strided operands, and later quantized B (an mm_readB that dequantizes in registers) and other
// fused epilogues (another mm_write):
//
//   struct MmBatch, fn mm_batch(batch) -> MmBatch   per-batch element offsets (gemm_batch.wgsl)
//   fn mm_readA(bt, row, k) -> vec4<f32>            A[row, k .. k+3], zeros past K; any row
//   fn mm_readB(bt, k, col) -> vec4<f32>            B_ALONG_K: B[k .. k+3, col], zeros past K;
//                                                   else B[k, col .. col+3], zeros when k >= K;
//                                                   any col
//   (hooks are called with k % 4 == 0 and k < K rounded up to 4; rows and columns past M, N may
//   return anything finite or not: those results are never stored)
//   fn mm_write(bt, row, col, v: vec4<f32>)         C[row, col .. col+3] (col % 4 == 0) through the
//                                                   epilogue; skips what lies outside M x N
//
// and the constants WG_X, WG_Y (threads), TM x TN (outputs per thread, TN % 4 == 0), B_ALONG_K,
// SHARED and, for the shared variant, TK (K-tile) with AS_LEN / BS_LEN (tile sizes in vec4s).
//
// Two strategies, chosen by SHARED (src/backends/webgpu/gemm_config.ts picks per adapter):
// - register blocking (SHARED = false): every invocation reads its own A rows and B columns
//   straight from global memory, 4 k at a time. On lavapipe (a CPU) this is the fastest: a
//   workgroup barrier is a coroutine switch there and "shared" memory is ordinary cache.
// - shared-memory tiles (SHARED = true): the workgroup stages a (WG_Y*TM) x TK tile of A and a
//   TK x (WG_X*TN) tile of B in workgroup memory, then every invocation computes from it; the
//   classic GPU GEMM, which wins where global memory is far.
//
// The grid is linear (the queue folds it into 2-D past the per-dimension limit): workgroup g
// covers output tile (g % tilesN, (g / tilesN) % tilesM) of batch g / (tilesN * tilesM).
const TN4: u32 = TN / 4u;
const BM: u32 = WG_Y * TM;
const BN: u32 = WG_X * TN;

var<workgroup> As: array<vec4<f32>, AS_LEN>; // [BM][TK / 4], vec4 along k
var<workgroup> Bs: array<vec4<f32>, BS_LEN>; // [TK][BN / 4], vec4 along n

fn register_tile(bt: MmBatch, tileM: u32, tileN: u32, lid: vec3<u32>) {
  let row0 = (tileM * WG_Y + lid.y) * TM;
  let col0 = (tileN * WG_X + lid.x) * TN;
  var acc: array<array<vec4<f32>, TN4>, TM>;
  for (var k = 0u; k < P.k; k += 4u) {
    var a: array<vec4<f32>, TM>;
    for (var r = 0u; r < TM; r++) {
      a[r] = mm_readA(bt, row0 + r, k);
    }
    if (B_ALONG_K) {
      // B is contiguous along k (e.g. a Linear weight [N, K] read transposed): 4 k per load and
      // dot products, so the weight is never copied.
      for (var c = 0u; c < TN4; c++) {
        let b0 = mm_readB(bt, k, col0 + 4u * c);
        let b1 = mm_readB(bt, k, col0 + 4u * c + 1u);
        let b2 = mm_readB(bt, k, col0 + 4u * c + 2u);
        let b3 = mm_readB(bt, k, col0 + 4u * c + 3u);
        for (var r = 0u; r < TM; r++) {
          acc[r][c] += vec4<f32>(dot(a[r], b0), dot(a[r], b1), dot(a[r], b2), dot(a[r], b3));
        }
      }
    } else {
      // Every B read of the 4-k step first, then each accumulator takes its 4 FMAs in a row. On
      // lavapipe a texel fetch (the texture variant) is a call that clobbers the vector
      // registers, and the TM x TN accumulators live in memory (spilled) there: this order loads
      // and stores each accumulator once per 4 k instead of once per k (measured 1.2x with
      // bench/tools/gemm_probe.ts, texf vs tex rows). A GPU compiler schedules either order alike.
      var b: array<array<vec4<f32>, TN4>, 4>;
      for (var kk = 0u; kk < 4u; kk++) {
        for (var c = 0u; c < TN4; c++) {
          b[kk][c] = mm_readB(bt, k + kk, col0 + 4u * c);
        }
      }
      for (var r = 0u; r < TM; r++) {
        for (var c = 0u; c < TN4; c++) {
          var s = acc[r][c];
          s = fma(vec4<f32>(a[r].x), b[0][c], s);
          s = fma(vec4<f32>(a[r].y), b[1][c], s);
          s = fma(vec4<f32>(a[r].z), b[2][c], s);
          s = fma(vec4<f32>(a[r].w), b[3][c], s);
          acc[r][c] = s;
        }
      }
    }
  }
  for (var r = 0u; r < TM; r++) {
    for (var c = 0u; c < TN4; c++) {
      mm_write(bt, row0 + r, col0 + 4u * c, acc[r][c]);
    }
  }
}

fn shared_tile(bt: MmBatch, tileM: u32, tileN: u32, lid: vec3<u32>, li: u32) {
  let threads = WG_X * WG_Y;
  let tk4 = TK / 4u;
  let bn4 = BN / 4u;
  let rowBase = tileM * BM;
  let colBase = tileN * BN;
  var acc: array<array<vec4<f32>, TN4>, TM>;
  for (var k0 = 0u; k0 < P.k; k0 += TK) {
    // The last K-tile may run past K: those slots get zeros, not reads.
    for (var i = li; i < BM * tk4; i += threads) {
      let k = k0 + 4u * (i % tk4);
      var v = vec4<f32>(0.0);
      if (k < P.k) {
        v = mm_readA(bt, rowBase + i / tk4, k);
      }
      As[i] = v;
    }
    if (B_ALONG_K) {
      for (var i = li; i < BN * tk4; i += threads) {
        let c = i / tk4;
        let kq = 4u * (i % tk4);
        var v = vec4<f32>(0.0);
        if (k0 + kq < P.k) {
          v = mm_readB(bt, k0 + kq, colBase + c);
        }
        for (var j = 0u; j < 4u; j++) {
          Bs[(kq + j) * bn4 + c / 4u][c % 4u] = v[j];
        }
      }
    } else {
      for (var i = li; i < TK * bn4; i += threads) {
        let k = k0 + i / bn4;
        var v = vec4<f32>(0.0);
        if (k < P.k) {
          v = mm_readB(bt, k, colBase + 4u * (i % bn4));
        }
        Bs[i] = v;
      }
    }
    workgroupBarrier();
    for (var kq = 0u; kq < tk4; kq++) {
      var a: array<vec4<f32>, TM>;
      for (var r = 0u; r < TM; r++) {
        a[r] = As[(lid.y * TM + r) * tk4 + kq];
      }
      for (var kk = 0u; kk < 4u; kk++) {
        for (var c = 0u; c < TN4; c++) {
          let b = Bs[(4u * kq + kk) * bn4 + lid.x * TN4 + c];
          for (var r = 0u; r < TM; r++) {
            acc[r][c] = fma(vec4<f32>(a[r][kk]), b, acc[r][c]);
          }
        }
      }
    }
    workgroupBarrier();
  }
  let row0 = rowBase + lid.y * TM;
  let col0 = colBase + lid.x * TN;
  for (var r = 0u; r < TM; r++) {
    for (var c = 0u; c < TN4; c++) {
      mm_write(bt, row0 + r, col0 + 4u * c, acc[r][c]);
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = wid.x + wid.y * nwg.x;
  let tileN = g % P.tilesN;
  let tileM = (g / P.tilesN) % P.tilesM;
  let batch = g / (P.tilesN * P.tilesM);
  if (batch >= P.batch) {
    return; // a padding workgroup of the folded grid (uniform across the workgroup)
  }
  let bt = mm_batch(batch);
  if (SHARED) {
    shared_tile(bt, tileM, tileN, lid, li);
  } else {
    register_tile(bt, tileM, tileN, lid);
  }
}
