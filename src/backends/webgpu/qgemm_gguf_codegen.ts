import type { GgufWeightFormat } from '../../quant/gguf_formats.js';

/**
 * The weight hooks of the quantized GEMM / GEMV for GGUF block formats, read from the q plane
 * (`inQ`, vec4<u32>) and the scale plane (`inS`, u32) that src/quant/gguf_formats.ts lays out:
 * P.kw = u32 words of a row's q plane, P.groups = blocks per row.
 *
 * - mm_readB(k, col): 4 consecutive weights (k % 4 == 0), each exactly ggml's float32 (the
 *   products involved are exact in f32, so d * q + m rounds once as in dequantize_row_*); for the
 *   tile template (M > 8) and for dequantize().
 * - q_chunk(col, ch) and q_scale(col, ch): the GEMV's 32-weight chunk as small exact values and
 *   the (mul, add) that make its contribution mul * dot(a, q) + add * sum(a)
 *   (kernels/quant/qgemv_gguf.wgsl): q4_0 (d, -8d), q4_1 (d, m), q8_0 (d, 0), q4_k sub-block
 *   (d * sc, -dmin * m); q6_k's 16-weight scales change inside a chunk, so its q_chunk carries
 *   scale * (q - 32) (at most 128 * 32: exact) and q_scale is (d, 0).
 *
 * Nibble orders (ggml's): q4_0/q4_1 byte j of a block holds weight j (low) and j + 16 (high), so
 * the low nibbles of the block's 4 words are weights 0..15 in order and the high ones 16..31; a
 * q4_k 64-weight run reads 32 bytes, low nibbles for its first sub-block, high for the second;
 * q6_k as in gguf_dequant.ts (ql nibble planes, qh 2-bit planes, per 32-weight quarter).
 */

const LD_HALF = `fn ldHalf(i: u32) -> f32 {
  return unpack2x16float(inS[i >> 1u])[i & 1u];
}
fn qword(i: u32) -> u32 {
  return inQ[i >> 2u][i & 3u];
}`;

const CHUNK = 'alias QChunk = array<vec4<f32>, 8>;';

const NIBBLES_32 = `// Weights 0..15 are the low nibbles of the 4 words, 16..31 the high nibbles.
fn q_chunk(col: u32, ch: u32) -> QChunk {
  let w = inQ[min(col, P.n - 1u) * (P.kw / 4u) + ch];
  var r: QChunk;
  for (var i = 0u; i < 4u; i++) {
    r[i] = q_u8(w[i] & 0x0f0f0f0fu);
    r[4u + i] = q_u8((w[i] >> 4u) & 0x0f0f0f0fu);
  }
  return r;
}
// The 4 raw nibbles of weights k..k+3 (k % 4 == 0) of a 32-weight block.
fn nibbles4(c: u32, k: u32) -> vec4<f32> {
  let j = k & 31u;
  let word = qword(c * P.kw + (k >> 5u) * 4u + ((j & 15u) >> 2u));
  return q_u8((word >> select(0u, 4u, j >= 16u)) & 0x0f0f0f0fu);
}`;

function q4_0(): string {
  return `${LD_HALF}
${CHUNK}
${NIBBLES_32}
fn q_scale(col: u32, ch: u32) -> vec2<f32> {
  let d = ldHalf(min(col, P.n - 1u) * P.groups + ch);
  return vec2<f32>(d, -8.0 * d);
}
fn mm_readB(bt: MmBatch, k: u32, col: u32) -> vec4<f32> {
  let c = min(col, P.n - 1u);
  return (nibbles4(c, k) - 8.0) * ldHalf(c * P.groups + (k >> 5u));
}`;
}

function q4_1(): string {
  return `${LD_HALF}
${CHUNK}
${NIBBLES_32}
// (d, m) of block b: one word of two halves.
fn q_scale(col: u32, ch: u32) -> vec2<f32> {
  return unpack2x16float(inS[min(col, P.n - 1u) * P.groups + ch]);
}
fn mm_readB(bt: MmBatch, k: u32, col: u32) -> vec4<f32> {
  let c = min(col, P.n - 1u);
  let dm = unpack2x16float(inS[c * P.groups + (k >> 5u)]);
  return fma(nibbles4(c, k), vec4<f32>(dm.x), vec4<f32>(dm.y));
}`;
}

function q8_0(): string {
  return `${LD_HALF}
${CHUNK}
fn q_chunk(col: u32, ch: u32) -> QChunk {
  let base = min(col, P.n - 1u) * (P.kw / 4u) + 2u * ch;
  let w0 = inQ[base];
  let w1 = inQ[base + 1u];
  var r: QChunk;
  for (var i = 0u; i < 4u; i++) {
    r[i] = q_i8(w0[i]);
    r[4u + i] = q_i8(w1[i]);
  }
  return r;
}
fn q_scale(col: u32, ch: u32) -> vec2<f32> {
  return vec2<f32>(ldHalf(min(col, P.n - 1u) * P.groups + ch), 0.0);
}
fn mm_readB(bt: MmBatch, k: u32, col: u32) -> vec4<f32> {
  let c = min(col, P.n - 1u);
  return q_i8(qword(c * P.kw + k / 4u)) * ldHalf(c * P.groups + (k >> 5u));
}`;
}

// Q4_K: scale plane = 4 words per block: (d, dmin) halves, then the 12 scale bytes.
function q4_k(): string {
  return `${LD_HALF}
${CHUNK}
fn kbyte(sb: u32, i: u32) -> u32 {
  return extractBits(inS[sb + 1u + (i >> 2u)], (i & 3u) * 8u, 8u);
}
// (d * sc, -dmin * m) of sub-block j of the block whose scale words start at sb
// (get_scale_min_k4: 6-bit values, the top 2 bits of sub-blocks 4..7 in spare bits).
fn k4_scale(sb: u32, j: u32) -> vec2<f32> {
  var sc: u32;
  var mn: u32;
  if (j < 4u) {
    sc = kbyte(sb, j) & 63u;
    mn = kbyte(sb, j + 4u) & 63u;
  } else {
    sc = (kbyte(sb, j + 4u) & 15u) | ((kbyte(sb, j - 4u) >> 6u) << 4u);
    mn = (kbyte(sb, j + 4u) >> 4u) | ((kbyte(sb, j) >> 6u) << 4u);
  }
  let dd = unpack2x16float(inS[sb]);
  return vec2<f32>(dd.x * f32(sc), -(dd.y * f32(mn)));
}
// Chunk ch = sub-block ch % 8 of block ch / 8: 32 bytes of qs at 32 * (j / 2), low nibbles for an
// even sub-block, high for an odd one.
fn q_chunk(col: u32, ch: u32) -> QChunk {
  let j = ch & 7u;
  let base = min(col, P.n - 1u) * (P.kw / 4u) + (ch >> 3u) * 8u + (j >> 1u) * 2u;
  let sh = (j & 1u) * 4u;
  let w0 = inQ[base];
  let w1 = inQ[base + 1u];
  var r: QChunk;
  for (var i = 0u; i < 4u; i++) {
    r[i] = q_u8((w0[i] >> sh) & 0x0f0f0f0fu);
    r[4u + i] = q_u8((w1[i] >> sh) & 0x0f0f0f0fu);
  }
  return r;
}
fn q_scale(col: u32, ch: u32) -> vec2<f32> {
  return k4_scale((min(col, P.n - 1u) * P.groups + (ch >> 3u)) * 4u, ch & 7u);
}
fn mm_readB(bt: MmBatch, k: u32, col: u32) -> vec4<f32> {
  let c = min(col, P.n - 1u);
  let e = k & 255u;
  let j = e >> 5u;
  let word = qword(c * P.kw + (k >> 8u) * 32u + (j >> 1u) * 8u + ((e & 31u) >> 2u));
  let q = q_u8((word >> ((j & 1u) * 4u)) & 0x0f0f0f0fu);
  let s = k4_scale((c * P.groups + (k >> 8u)) * 4u, j);
  // s.x * q is exact (11 + 6 + 4 bits): one rounding, as ggml's d1 * q - m1.
  return vec4<f32>(s.x) * q + vec4<f32>(s.y);
}`;
}

// Q6_K: q plane = ql[128], qh[64] (48 words); scale plane = 5 words: int8 scales[16], d.
function q6_k(): string {
  return `${LD_HALF}
${CHUNK}
fn k6_sc(sb: u32, i: u32) -> f32 {
  return f32(extractBits(bitcast<i32>(inS[sb + (i >> 2u)]), (i & 3u) * 8u, 8u));
}
// 4 weights' 6-bit values minus 32 from one ql word and one qh word: weight l of a 32-weight
// quarter p of half h takes ql[64h + 32 (p & 1) + l] >> 4 (p >> 1) and qh[32h + l] >> 2p.
fn k6_q(wl: u32, wh: u32, p: u32) -> vec4<f32> {
  let lo = (wl >> ((p >> 1u) * 4u)) & 0x0f0f0f0fu;
  let hi = ((wh >> (2u * p)) & 0x03030303u) << 4u;
  return q_u8(lo | hi) - 32.0;
}
fn q_chunk(col: u32, ch: u32) -> QChunk {
  let c = min(col, P.n - 1u);
  let c8 = ch & 7u;
  let h = c8 >> 2u;
  let p = c8 & 3u;
  let blk = c * (P.kw / 4u) + (ch >> 3u) * 12u;
  let sb = (c * P.groups + (ch >> 3u)) * 5u;
  let l0 = inQ[blk + 4u * h + 2u * (p & 1u)];
  let l1 = inQ[blk + 4u * h + 2u * (p & 1u) + 1u];
  let h0 = inQ[blk + 8u + 2u * h];
  let h1 = inQ[blk + 8u + 2u * h + 1u];
  let s0 = k6_sc(sb, 8u * h + 2u * p);
  let s1 = k6_sc(sb, 8u * h + 2u * p + 1u);
  var r: QChunk;
  for (var i = 0u; i < 4u; i++) {
    r[i] = s0 * k6_q(l0[i], h0[i], p);
    r[4u + i] = s1 * k6_q(l1[i], h1[i], p);
  }
  return r;
}
fn q_scale(col: u32, ch: u32) -> vec2<f32> {
  let sb = (min(col, P.n - 1u) * P.groups + (ch >> 3u)) * 5u;
  return vec2<f32>(unpack2x16float(inS[sb + 4u]).x, 0.0);
}
fn mm_readB(bt: MmBatch, k: u32, col: u32) -> vec4<f32> {
  let c = min(col, P.n - 1u);
  let e = k & 255u;
  let h = e >> 7u;
  let p = (e >> 5u) & 3u;
  let l = e & 31u;
  let blk = c * P.kw + (k >> 8u) * 48u;
  let sb = (c * P.groups + (k >> 8u)) * 5u;
  let q = k6_q(qword(blk + (64u * h + 32u * (p & 1u) + l) / 4u), qword(blk + (128u + 32u * h + l) / 4u), p);
  // d * scale * q: 11 + 8 + 6 bits, exact in any order.
  return unpack2x16float(inS[sb + 4u]).x * k6_sc(sb, 8u * h + 2u * p + (l >> 4u)) * q;
}`;
}

const HOOKS: Record<GgufWeightFormat, () => string> = { q4_0, q4_1, q8_0, q4_k, q6_k };

/** The q_chunk / q_scale / mm_readB hooks of a GGUF format (uses q_u8 / q_i8 from the prelude). */
export function ggufReadB(format: GgufWeightFormat): string {
  return HOOKS[format]();
}

/**
 * A GGUF weight [N, K] decoded to a dense float32 [N, K] buffer, 4 weights per invocation through
 * the format's mm_readB (so exactly ggml's values). Bindings: 0 uniforms (QGEMM_PARAMS: n, k, kw,
 * groups), 1 out, 2 q plane, 3 scale plane. The prelude supplies Params and MmBatch.
 */
export function ggufDequantSource(format: GgufWeightFormat): string {
  return `@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> inQ: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> inS: array<u32>;
fn q_u8(w: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(w) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu));
}
fn q_i8(w: u32) -> vec4<f32> {
  let s = bitcast<i32>(w);
  return vec4<f32>(vec4<i32>(extractBits(s, 0u, 8u), extractBits(s, 8u, 8u), extractBits(s, 16u, 8u), extractBits(s, 24u, 8u)));
}
${ggufReadB(format)}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let kv = P.k / 4u;
  if (i >= P.n * kv) {
    return;
  }
  out[i] = bitcast<vec4<u32>>(mm_readB(mm_batch(0u), (i % kv) * 4u, i / kv));
}`;
}
