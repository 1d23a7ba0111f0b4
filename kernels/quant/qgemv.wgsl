// Quantized small-M GEMM (M <= 8, decode): out[M, N] = A[M, K] @ dequant(W)^T, W packed [N, K]
// (docs/quantization.md). Memory-bound on a GPU, so the point is to stream the packed weight once,
// in 16-byte loads: K is cut into 32-k chunks, invocation `li` of the workgroup takes chunks li,
// li + WG, ... (neighbouring invocations read neighbouring 16 bytes of a weight row), loads the
// chunk's 32 activations of each row once (and their sum), then for each of the COLS columns
// decodes the chunk once (q_chunk: raw q, one scale and zero) and adds s * (dot(a, q) - z * sum(a))
// per row. The zero point leaves the inner product (the factorisation ONNX Runtime's MatMulNBits
// and llama.cpp's q4_1 dot products use), so a weight costs a mask, a convert and an fma. The WG
// partial sums are reduced by the same gemv_reduce_* fragments as kernels/gemv.wgsl.
//
// From the prelude: WG, COLS (multiple of 4), GEMV_M (1, 2, 4 or 8), struct QChunk,
// fn q_chunk(col, chunk) -> QChunk, mm_readA, mm_write, mm_batch, P (P.chunks per row).
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
  for (var ch = lane.li; ch < P.chunks; ch += WG) {
    var a: array<vec4<f32>, GEMV_M * 8u>;
    var asum: array<f32, GEMV_M>;
    for (var r = 0u; r < GEMV_M; r++) {
      var s4 = vec4<f32>(0.0);
      for (var v = 0u; v < 8u; v++) {
        let x = mm_readA(bt, r, ch * 32u + 4u * v);
        a[r * 8u + v] = x;
        s4 += x;
      }
      asum[r] = s4.x + s4.y + s4.z + s4.w;
    }
    for (var c = 0u; c < COLS; c++) {
      let b = q_chunk(col0 + c, ch);
      for (var r = 0u; r < GEMV_M; r++) {
        var d = vec4<f32>(0.0);
        for (var v = 0u; v < 8u; v++) {
          d = fma(a[r * 8u + v], b.q[v], d);
        }
        acc[r * C4 + c / 4u][c % 4u] += b.s * ((d.x + d.y + d.z + d.w) - b.z * asum[r]);
      }
    }
  }
  gemv_reduce(lane, &acc);
  for (var v = lane.li; v < V; v += WG) {
    mm_write(bt, v / C4, col0 + 4u * (v % C4), gemv_total(lane, v));
  }
}
