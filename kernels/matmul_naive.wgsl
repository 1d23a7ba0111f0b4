// A simple, correct batched matmul: one invocation per output element, strided A and B read in
// place, batch broadcasting through zero strides. Replaced by gemm.wgsl / gemv.wgsl; kept as the
// benchmark's baseline (XPU_GEMM_VARIANT=naive; no epilogue, f32 output).
// Prelude: Params P, out (f32 words), in0/in1 + fn ld0/ld1(e: i32) -> f32.
override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  if (idx >= P.total) {
    return;
  }
  let col = idx % P.n;
  let rowi = (idx / P.n) % P.m;
  var rem = idx / (P.n * P.m);
  var ea = P.aoff + i32(rowi) * P.sam;
  var eb = P.boff + i32(col) * P.sbn;
  for (var d = i32(P.brank) - 1; d >= 0; d--) {
    let du = u32(d);
    let n = P.bshape[du / 4u][du % 4u];
    let c = i32(rem % n);
    rem = rem / n;
    ea += c * P.sab[du / 4u][du % 4u];
    eb += c * P.sbb[du / 4u][du % 4u];
  }
  var acc = 0.0;
  for (var p = 0u; p < P.k; p++) {
    acc += ld0(ea + i32(p) * P.sak) * ld1(eb + i32(p) * P.sbk);
  }
  out[idx] = bitcast<u32>(acc);
}
