// Uniforms of the quantized GEMM / GEMV (kernels/gemm.wgsl with a quantized prelude, and
// kernels/quant/qgemv*.wgsl). Written by src/backends/webgpu/qgemm.ts, field for field. The
// template reads m, n, k, batch, tilesN and tilesM; the hooks the rest. One batch entry: the
// op folds every leading dim of x into M.
struct Params {
  m: u32, n: u32, k: u32, batch: u32,
  tilesN: u32, tilesM: u32, kw: u32, groups: u32,   // kw: u32 words per weight row; groups per row
  aoff: i32, sam: i32, sak: i32, biasoff: i32,      // float A: element offset and strides
  sbiasm: i32, sbiasn: i32, akw: u32, chunks: u32,  // akw: u32 words per row of int8 A (w8a8);
                                                    // chunks: 32-k chunks per row (GEMV)
}

struct MmBatch {
  c: u32,
}

fn mm_batch(batch: u32) -> MmBatch {
  return MmBatch(batch * P.m * P.n);
}
