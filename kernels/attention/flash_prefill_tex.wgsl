// Flash attention for prefill on packed textures (AttentionConfig path 'texture'; launcher
// src/backends/webgpu/attention_texture.ts, unrolled by attention_codegen.ts unrollTexture).
// The GEMM texture variant's lessons (kernels/gemm_pack.wgsl, gemm_codegen.ts subgroupTileMain)
// applied to attention: on lavapipe a storage-buffer load whose address depends on a loop counter
// becomes a scalar load per SIMD lane (~9 instructions a float) while a texel fetch costs ~2.8,
// so q (pre-scaled), k (transposed: texel = 4 keys of one head-dim element) and v are first
// packed into zero-padded rgba32float array textures (kernels/attention/pack.wgsl, one layer per
// batch x head), and the tile loop reads texels with no bounds checks. One workgroup is ONE
// subgroup of SG lanes (fixed-size subgroups) per (batch, head, tile of BQ queries):
//   1. S = Q K^T: lane l owns the keys of texel columns l + SG t (4 T keys), for all BQ rows:
//      s_R_T (vec4 = 4 keys) += q.x * kt0 + q.y * kt1 + ..., the GEMM's outer-product form; the
//      lane loads q rows SG j + l and each row reaches the others through subgroupBroadcast;
//   2. masks (score_fn) only on tiles that need them (mask operand, flex mods, the diagonal, the
//      padded keys past S); online softmax per row with subgroupMax, ONE rescale per row and tile,
//      per-lane partial sums l_R (one subgroupAdd at the end); n_R flags a NaN score in row R
//      (the row's output is then NaN, as PyTorch's softmax gives; subgroupMax may drop NaN);
//   3. O += P V: lane l owns output vec4 columns l + SG c; the probabilities of the keys of lane
//      src reach every lane through subgroupShuffle (a runtime loop over src keeps the code
//      small), v rows are texel fetches.
// All accumulators are named values (unrolled //@ lines): lavapipe keeps runtime-indexed private
// arrays in scratch memory.
//
// From the prelude: Params P; out; qT, kT, vT; score_fn; block_flag; consts SG, BQ, T, CG,
// HAS_BLOCKS, PLAIN (no mask operand and no flex mods), MASKED.

const BK: u32 = 4u * SG * T;

fn one_score(x: f32, kj: u32, kv_end: u32, b: u32, h: u32, qi: u32, flag: u32) -> f32 {
  if (kj >= kv_end) {
    return MASKED;
  }
  return score_fn(x, b, h, qi, kj, flag == 2u);
}

// Scores of keys kj .. kj + 3 for row qi through the mask and the modifications.
fn tile_scores(a: vec4<f32>, kj: u32, kv_end: u32, b: u32, h: u32, qi: u32, flag: u32) -> vec4<f32> {
  let q = min(qi, P.L - 1u);
  return vec4<f32>(one_score(a.x, kj, kv_end, b, h, q, flag), one_score(a.y, kj + 1u, kv_end, b, h, q, flag),
                   one_score(a.z, kj + 2u, kv_end, b, h, q, flag), one_score(a.w, kj + 3u, kv_end, b, h, q, flag));
}

fn max4(v: vec4<f32>) -> f32 {
  return max(max(v.x, v.y), max(v.z, v.w));
}

fn sum4(v: vec4<f32>) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

// Output columns c4 * 4 .. c4 * 4 + 3 of query row qi (of batch x head bh), times inv; a NaN
// inv (the row met a NaN score) writes NaN outright rather than trusting v * NaN to stay NaN.
fn store_row(bh: u32, qi: u32, c4: u32, v: vec4<f32>, inv: f32) {
  let ev = P.rt.y;
  if (qi < P.L) {
    let ob = (bh * P.L + qi) * ev;
    let w = select(v * inv, vec4<f32>(att_nan()), att_is_nan(inv));
    for (var i = 0u; i < 4u; i++) {
      let col = c4 * 4u + i;
      if (col < ev) {
        out[ob + col] = bitcast<u32>(w[i]);
      }
    }
  }
}

@compute @workgroup_size(SG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= P.groups) {
    return;
  }
  let qt = g % P.qTiles;
  let bh = g / P.qTiles;
  let h = bh % P.H;
  let b = bh / P.H;
  let kvl = b * (P.H / P.group) + h / P.group; // the K / V texture layer
  let q0 = qt * BQ;
  let e4 = (P.rt.x + 3u) / 4u;
  let causal = P.p0 != 0u;
  // Top-left causal: the last query of the tile sees keys up to itself.
  var kv_end = P.S;
  if (causal) {
    kv_end = min(P.S, min(q0 + BQ, P.L));
  }
  //@DECL

  for (var k0 = 0u; k0 < kv_end; k0 += BK) {
    var flag = 1u;
    if (HAS_BLOCKS) {
      // Tiles never straddle blocks (BQ and BK divide the block size).
      flag = block_flag(b, h, q0 / P.blockSize, k0 / P.blockSize);
      if (flag == 0u) {
        continue;
      }
    }
    let kx = k0 / 4u + lane;
    //@S_DECL
    for (var d4 = 0u; d4 < e4; d4++) {
      let ky = 4u * d4;
      //@QK_STEP
    }
    // Every score of the tile kept as is: no mask operand or modification, all keys before
    // kv_end and, with causal, the whole tile left of the diagonal.
    let plain = PLAIN && k0 + BK <= kv_end && (!causal || k0 + BK <= q0 + 1u);
    if (!plain) {
      //@MASK
    }
    //@SOFTMAX
    for (var src = 0u; src < SG; src++) {
      //@PV_STEP
    }
  }
  //@STORE
}
