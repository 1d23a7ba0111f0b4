// GGUF block formats, small-M GEMM (M <= 8, decode): out[M, N] = A[M, K] @ W^T, W in a GGUF
// format's q and scale planes (src/quant/gguf_formats.ts). kernels/quant/qgemv.wgsl's loop (split
// K into 32-k chunks, invocation `li` takes steps li, li + WG, ...; each step's activations and
// their sums are loaded once and reused for COLS columns; gemv_reduce_* sums the partials), with
// one difference: a chunk contributes mul * dot(a, q) + add * sum(a), its (mul, add) from
// q_scale per chunk, because a GGUF scale covers one 32-weight block (q4_0: (d, -8d), q4_1:
// (d, m), q8_0: (d, 0), q4_k: (d sc, -dmin m) per sub-block; q6_k folds its 16-weight scales into
// q_chunk and has (d, 0)). The additive term of q4_1 / q4_k cannot be written as qgemv.wgsl's
// s * (dot - z * sum) without dividing by d.
//
// From the prelude: WG, COLS (multiple of 4), GEMV_M (1, 2, 4 or 8), SUB (chunks per step,
// P.chunks is a multiple of it), alias QChunk, fn q_chunk(col, chunk) -> QChunk, fn
// q_scale(col, chunk) -> (mul, add), mm_readA, mm_write, mm_batch, P (P.chunks per row).
const C4: u32 = COLS / 4u;
const V: u32 = GEMV_M * C4;
alias GemvAcc = array<vec4<f32>, V>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: GemvLane) {
  let tile = wid.x + wid.y * nwg.x;
  if (tile >= P.tilesN) {
    return; // a padding workgroup of the folded grid (uniform across the workgroup)
  }
  let bt = mm_batch(0u);
  let col0 = tile * COLS;
  var acc: GemvAcc;
  for (var st = lane.li; st < P.chunks / SUB; st += WG) {
    var a: array<vec4<f32>, GEMV_M * 8u * SUB>;
    var asum: array<f32, GEMV_M * SUB>;
    for (var r = 0u; r < GEMV_M; r++) {
      for (var u = 0u; u < SUB; u++) {
        var s4 = vec4<f32>(0.0);
        for (var v = 0u; v < 8u; v++) {
          let x = mm_readA(bt, r, (st * SUB + u) * 32u + 4u * v);
          a[(r * SUB + u) * 8u + v] = x;
          s4 += x;
        }
        asum[r * SUB + u] = s4.x + s4.y + s4.z + s4.w;
      }
    }
    for (var c = 0u; c < COLS; c++) {
      var t = array<f32, GEMV_M>(); // explicit zeros per column (see qgemv.wgsl)
      for (var u = 0u; u < SUB; u++) {
        let q = q_chunk(col0 + c, st * SUB + u);
        var d = array<vec4<f32>, GEMV_M>();
        for (var r = 0u; r < GEMV_M; r++) {
          for (var v = 0u; v < 8u; v++) {
            d[r] = fma(a[(r * SUB + u) * 8u + v], q[v], d[r]);
          }
        }
        let ma = q_scale(col0 + c, st * SUB + u);
        for (var r = 0u; r < GEMV_M; r++) {
          t[r] += ma.x * (d[r].x + d[r].y + d[r].z + d[r].w) + ma.y * asum[r * SUB + u];
        }
      }
      for (var r = 0u; r < GEMV_M; r++) {
        acc[r * C4 + c / 4u][c % 4u] += t[r];
      }
    }
  }
  gemv_reduce(lane, &acc);
  for (var v = lane.li; v < V; v += WG) {
    mm_write(bt, v / C4, col0 + 4u * (v % C4), gemv_total(lane, v));
  }
}
