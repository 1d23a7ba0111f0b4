// Packs one GEMM operand into an rgba32float texture for the texture variant of gemm.wgsl
// (TileConfig variant 'texture', src/backends/webgpu/gemm_texture.ts): texel (tx, ty) holds
// src[ty, 4 tx .. 4 tx + 3] of the logical [ROWS, COLS] matrix, zeros past COLS, read through any
// strides and offset (so a transposed weight, a strided view or float16 storage all become the
// same dense f32 layout). A is packed as [M, K] (k along texels), B as [K, N] (n along texels),
// whichever way B is stored.
//
// Why textures: lavapipe (Mesa 25.0 gallivm) turns a storage-buffer load whose address differs per
// invocation into a scalar, bounds-checked load per SIMD lane and per component (~9 instructions
// per float), while a texel fetch is one 16-byte load per lane plus a transpose: measured 1.5-1.7x
// the GEMM throughput of the same register tiles on storage buffers (bench/tools/gemm_probe.ts).
//
// The texture stacks the batch entries (at most one batch dim; split-K slices are one too), `per`
// texture rows each, with per >= ROWS (padding to whole tiles, and B's K rounded up to 4: the GEMM
// reads 4 k at a time); rows past ROWS are zeros. `height` = entries x per.
//
// From the prelude (gemm_codegen.ts gemmPackSource): struct PackParams {rows, cols, texels,
// height, off, srow, scol, per, sbatch, entries, across} as var<uniform> Q, fn ldS(e: i32) -> f32 (one element of the source,
// any dtype), var dst: texture_storage_2d<rgba32float, write>.

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let width = select(Q.texels, Q.texels * Q.entries, Q.across != 0u);
  if (i >= Q.height * width) {
    return;
  }
  let y = i / width;
  let x = i % width;
  // Batch entries are stacked (`per` texture rows each: rows of one entry, then zero padding), or
  // side by side (`texels` columns each) when `across` (B: a long K would not fit stacked).
  let b = select(y / Q.per, x / Q.texels, Q.across != 0u);
  let r = select(y % Q.per, y, Q.across != 0u);
  let tx = x % Q.texels;
  let ty = y;
  let e = Q.off + i32(b) * Q.sbatch + i32(r) * Q.srow;
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    let c = 4u * tx + j;
    if (c < Q.cols && r < Q.rows) {
      v[j] = ldS(e + i32(c) * Q.scol);
    }
  }
  textureStore(dst, vec2<u32>(x, ty), v);
}
