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
// From the prelude: WG, COLS (multiple of 4), GEMV_M (1, 2, 4 or 8), SUB (chunks per step, P.chunks
// is a multiple of it), alias QChunk, fn q_chunk(col, chunk) -> QChunk, fn q_scale(col, chunk)
// -> (scale, zero), mm_readA, mm_write, mm_batch, P (P.chunks per row).
//
// Measured on lavapipe (CPU time per op, 4096 x 4096, M = 1): COLS = 16 beats 4 by 1.6x (the
// chunk's activations are loaded once per 16 columns); the scale/zero gathers cost ~1/5 of the
// time at SUB = 1; one invocation per column over all of K
// (no split-K) and the same loop generated as straight-line code were both slower.
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
  // A step is SUB chunks (SUB * 32 k) inside one scale group: the activations and their sum are
  // loaded once per step, the scale and zero once per step and column.
  for (var st = lane.li; st < P.chunks / SUB; st += WG) {
    var a: array<vec4<f32>, GEMV_M * 8u * SUB>;
    var asum: array<f32, GEMV_M>;
    for (var r = 0u; r < GEMV_M; r++) {
      var s4 = vec4<f32>(0.0);
      for (var v = 0u; v < 8u * SUB; v++) {
        let x = mm_readA(bt, r, st * 32u * SUB + 4u * v);
        a[(r * SUB) * 8u + v] = x;
        s4 += x;
      }
      asum[r] = s4.x + s4.y + s4.z + s4.w;
    }
    for (var c = 0u; c < COLS; c++) {
      var d = array<vec4<f32>, GEMV_M>(); // explicit: a bare `var d: T;` in the loop was not re-zeroed per column on lavapipe
      for (var u = 0u; u < SUB; u++) {
        let q = q_chunk(col0 + c, st * SUB + u);
        for (var r = 0u; r < GEMV_M; r++) {
          for (var v = 0u; v < 8u; v++) {
            d[r] = fma(a[(r * SUB + u) * 8u + v], q[v], d[r]);
          }
        }
      }
      let sz = q_scale(col0 + c, st * SUB);
      for (var r = 0u; r < GEMV_M; r++) {
        acc[r * C4 + c / 4u][c % 4u] += sz.x * ((d[r].x + d[r].y + d[r].z + d[r].w) - sz.y * asum[r]);
      }
    }
  }
  gemv_reduce(lane, &acc);
  for (var v = lane.li; v < V; v += WG) {
    mm_write(bt, v / C4, col0 + 4u * (v % C4), gemv_total(lane, v));
  }
}
