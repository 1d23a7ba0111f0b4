// Packs q, k or v of an attention call into an rgba32float 2-D array texture for the texture
// prefill (flash_prefill_tex.wgsl, src/backends/webgpu/attention_texture.ts): layer = b * HN + h,
// texel (x, y) of a layer holds M[y, 4 x .. 4 x + 3] * MUL of the logical [ROWS, COLS] matrix
// M[y, c] = src[off + b * sb + h * sh + y * sr + c * sc] (any strides, so k is packed transposed
// and q pre-scaled), zeros past ROWS and COLS: the kernel then reads with no bounds checks.
//
// From the prelude: var<uniform> Q: PackParams; fn ld_s(e: i32) -> f32; var dst (write-only).

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let plane = Q.height * Q.texels;
  if (i >= plane * Q.layers) {
    return;
  }
  let layer = i / plane;
  let y = (i % plane) / Q.texels;
  let x = i % Q.texels;
  let b = layer / Q.hn;
  let h = layer % Q.hn;
  let e = Q.off + i32(b) * Q.sb + i32(h) * Q.sh + i32(y) * Q.sr;
  var v = vec4<f32>(0.0);
  if (y < Q.rows) {
    let c0 = 4u * x;
    if (c0 < Q.cols) {
      v.x = ld_s(e + i32(c0) * Q.sc);
    }
    if (c0 + 1u < Q.cols) {
      v.y = ld_s(e + i32(c0 + 1u) * Q.sc);
    }
    if (c0 + 2u < Q.cols) {
      v.z = ld_s(e + i32(c0 + 2u) * Q.sc);
    }
    if (c0 + 3u < Q.cols) {
      v.w = ld_s(e + i32(c0 + 3u) * Q.sc);
    }
  }
  textureStore(dst, vec2<u32>(x, y), layer, v * Q.mul);
}
