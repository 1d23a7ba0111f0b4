// The batch offsets of the quantized GEMM / GEMV (kernels/gemm.wgsl with a quantized prelude, and
// kernels/quant/qgemv*.wgsl): one batch entry, the op folds every leading dim of x into M. The
// uniform struct Params is generated (QGEMM_PARAMS in src/backends/webgpu/qgemm_codegen.ts,
// written by qgemm.ts).

struct MmBatch {
  c: u32,
}

fn mm_batch(batch: u32) -> MmBatch {
  return MmBatch(batch * P.m * P.n);
}
