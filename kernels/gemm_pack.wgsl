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
// The texture has `height` >= ROWS rows (B's K is rounded up to 4: the GEMM reads 4 k at a time);
// rows past ROWS are zeros.
//
// From the prelude (gemm_codegen.ts gemmPackSource): struct PackParams {rows, cols, texels,
// height, off, srow, scol} as var<uniform> Q, fn ldS(e: i32) -> f32 (one element of the source,
// any dtype), var dst: texture_storage_2d<rgba32float, write>.

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= Q.height * Q.texels) {
    return;
  }
  let ty = i / Q.texels;
  let tx = i % Q.texels;
  let e = Q.off + i32(ty) * Q.srow;
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    let c = 4u * tx + j;
    if (c < Q.cols && ty < Q.rows) {
      v[j] = ldS(e + i32(c) * Q.scol);
    }
  }
  textureStore(dst, vec2<u32>(tx, ty), v);
}
