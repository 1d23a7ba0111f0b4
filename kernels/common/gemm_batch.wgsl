// The per-batch offsets the GEMM kernels' hooks use (gemm.wgsl, gemv.wgsl). The uniform struct
// Params is generated (GEMM_PARAMS in src/backends/webgpu/gemm_codegen.ts, written by gemm_plan.ts).
// Strides are in elements; the batch dims (at most 8, merged where contiguous) are decoded
// once per workgroup, so the hooks only add row/column/k terms.

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
