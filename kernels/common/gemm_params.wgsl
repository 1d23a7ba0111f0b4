// Uniforms of the GEMM kernels (gemm.wgsl, gemv.wgsl) and the per-batch offsets their hooks use.
// Written by src/backends/webgpu/gemm_plan.ts (gemmUniforms), field for field.
// Strides are in elements; the batch dims (at most 8, merged where contiguous) are decoded
// once per workgroup, so the hooks only add row/column/k terms.
struct Params {
  m: u32, n: u32, k: u32, batch: u32,
  tilesN: u32, tilesM: u32, brank: u32, pad0: u32,
  aoff: i32, sam: i32, sak: i32, boff: i32,
  sbk: i32, sbn: i32, alpha: f32, beta: f32,
  biasoff: i32, sbiasm: i32, sbiasn: i32, resoff: i32,
  sresm: i32, sresn: i32, pad1: u32, pad2: u32,
  bshape: array<vec4<u32>, 2>,
  sab: array<vec4<i32>, 2>,
  sbb: array<vec4<i32>, 2>,
  sbiasb: array<vec4<i32>, 2>,
  sresb: array<vec4<i32>, 2>,
}

// Element offsets of one batch entry in A, B, bias and residual; c is the output's (contiguous).
struct MmBatch {
  a: i32,
  b: i32,
  bias: i32,
  res: i32,
  c: u32,
}

fn mm_batch(batch: u32) -> MmBatch {
  var o = MmBatch(P.aoff, P.boff, P.biasoff, P.resoff, batch * P.m * P.n);
  var rem = batch;
  for (var d = i32(P.brank) - 1; d >= 0; d--) {
    let du = u32(d);
    let extent = P.bshape[du / 4u][du % 4u];
    let c = i32(rem % extent);
    rem = rem / extent;
    o.a += c * P.sab[du / 4u][du % 4u];
    o.b += c * P.sbb[du / 4u][du % 4u];
    o.bias += c * P.sbiasb[du / 4u][du % 4u];
    o.res += c * P.sresb[du / 4u][du % 4u];
  }
  return o;
}
