// Quantized small-M GEMM (M <= 8), one invocation per CPL output columns over the whole of K: no
// split-K and no reduction. For CPU-backed adapters (lavapipe), where an invocation is a SIMD lane:
// the activations' address is then the same in every lane (one load, broadcast, instead of a
// gather per lane, which is what bounds the split-K kernel there), and each lane streams its own
// weight rows. On a GPU the split-K kernel (qgemv.wgsl) coalesces better; gemm_config's adapter
// class decides. Same hooks as qgemv.wgsl: q_chunk, mm_readA, mm_write; WG, CPL (4), GEMV_M.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let tile = wid.x + wid.y * nwg.x;
  if (tile >= P.tilesN) {
    return;
  }
  let bt = mm_batch(0u);
  let col0 = (tile * WG + li) * 4u;
  var acc: array<vec4<f32>, GEMV_M>;
  for (var ch = 0u; ch < P.chunks; ch++) {
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
    for (var c = 0u; c < 4u; c++) {
      let b = q_chunk(col0 + c, ch);
      for (var r = 0u; r < GEMV_M; r++) {
        var d = vec4<f32>(0.0);
        for (var v = 0u; v < 8u; v++) {
          d = fma(a[r * 8u + v], b.q[v], d);
        }
        acc[r][c] += b.s * ((d.x + d.y + d.z + d.w) - b.z * asum[r]);
      }
    }
  }
  for (var r = 0u; r < GEMV_M; r++) {
    mm_write(bt, r, col0, acc[r]);
  }
}
