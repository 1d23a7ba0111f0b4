// w8a8 small-M GEMM (M <= 8): int8 activations (quantized per row by the op, scales in inAS) times
// int8 weights, 4 products per dot4I8Packed (or an unpacked dot where the WGSL feature is
// missing), accumulated in i32 per invocation over 32-k chunks (two vec4<u32> of each operand);
// the partial sums are reduced in f32 (each is an integer far below 2^31; the f32 rounding of a
// sum above 2^24 is far below the quantization error) and mm_write rescales by
// aScale[row] * scale[col].
//
// Same structure and prelude as kernels/quant/qgemv.wgsl; inA holds P.akw words per row.
const C4: u32 = COLS / 4u;
const V: u32 = GEMV_M * C4;
alias GemvAcc = array<vec4<f32>, V>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: GemvLane) {
  let tile = wid.x + wid.y * nwg.x;
  if (tile >= P.tilesN) {
    return;
  }
  let bt = mm_batch(0u);
  let col0 = tile * COLS;
  var acci: array<vec4<i32>, V>;
  for (var ch = lane.li; ch < P.chunks; ch += WG) {
    var a: array<vec4<u32>, GEMV_M * 2u>;
    for (var r = 0u; r < GEMV_M; r++) {
      let base = min(r, P.m - 1u) * (P.akw / 4u) + 2u * ch;
      a[2u * r] = inA[base];
      a[2u * r + 1u] = inA[base + 1u];
    }
    for (var c = 0u; c < COLS; c++) {
      let base = min(col0 + c, P.n - 1u) * (P.kw / 4u) + 2u * ch;
      let b0 = inQ[base];
      let b1 = inQ[base + 1u];
      for (var r = 0u; r < GEMV_M; r++) {
        let a0 = a[2u * r];
        let a1 = a[2u * r + 1u];
        var s = 0;
        for (var i = 0u; i < 4u; i++) {
          s += q_dot4(a0[i], b0[i]) + q_dot4(a1[i], b1[i]);
        }
        acci[r * C4 + c / 4u][c % 4u] += s;
      }
    }
  }
  var acc: GemvAcc;
  for (var v = 0u; v < V; v++) {
    acc[v] = vec4<f32>(acci[v]);
  }
  gemv_reduce(lane, &acc);
  for (var v = lane.li; v < V; v += WG) {
    mm_write(bt, v / C4, col0 + 4u * (v % C4), gemv_total(lane, v));
  }
}
