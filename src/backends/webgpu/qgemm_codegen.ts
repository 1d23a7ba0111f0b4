import type { GemvConfig, TileConfig } from './gemm_config.js';
import { gemvRows } from './gemm_codegen.js';
import { isGgufWeightFormat, type GgufWeightFormat } from '../../quant/gguf_formats.js';
import { ggufReadB } from './qgemm_gguf_codegen.js';
import { kernelSource } from './pipelines.js';
import { uniformStruct } from './uniforms.js';

/**
 * The prelude that turns kernels/gemm.wgsl (prefill) and kernels/quant/qgemv*.wgsl (decode, M <= 8)
 * into quantized GEMMs: the same hook names as the dense GEMM (mm_batch, mm_readA, mm_readB,
 * mm_write), with an mm_readB that dequantizes in registers, plus q_word (a whole packed word,
 * for the GEMV) and an mm_write that applies per-column scales, the per-row activation scale
 * (w8a8) and the bias before the store. Layouts: docs/quantization.md.
 *
 * Bindings: 0 uniforms, 1 out, 2 A, 3 q, 4 scales, then zeros (int4), aScales (w8a8), bias.
 */

/**
 * The uniforms of the quantized GEMM / GEMV (written by qgemm.ts). The template reads m, n, k,
 * batch, tilesN and tilesM; the hooks the rest: kw = u32 words per weight row, groups = scale
 * groups per row, aoff / sam / sak = float A's element offset and strides, akw = u32 words per
 * row of int8 A (w8a8), chunks = 32-k chunks per row (GEMV).
 */
export const QGEMM_PARAMS = uniformStruct('Params', {
  m: 'u32',
  n: 'u32',
  k: 'u32',
  batch: 'u32',
  tilesN: 'u32',
  tilesM: 'u32',
  kw: 'u32',
  groups: 'u32',
  aoff: 'i32',
  sam: 'i32',
  sak: 'i32',
  biasoff: 'i32',
  sbiasm: 'i32',
  sbiasn: 'i32',
  akw: 'u32',
  chunks: 'u32',
});

export interface QGemmLayout {
  /** A GGUF block format reads its two planes through qgemm_gguf_codegen.ts's hooks. */
  format: 'int8' | 'int4' | GgufWeightFormat;
  /** int4 group size (a compile-time constant: the group index is a shift). */
  groupSize: number;
  /** Activations: float (weight-only) or int8 words quantized per row (w8a8). */
  a: 'float32' | 'float16' | 'int8';
  /** A contiguous along k, 4-aligned: one vector load per 4 k (float A only). */
  aVec: boolean;
  scale: 'float32' | 'float16' | 'uint32';
  out: 'float32' | 'float16';
  /** N % 4 == 0: one vector store per 4 columns. */
  outVec: boolean;
  bias?: 'float32' | 'float16';
  /**
   * GEMV: 32-k chunks per step of one invocation (1, 2 or 4). A step never straddles an int4 group,
   * so its scale and zero are loaded once per step and column.
   */
  sub: number;
  /** WGSL's packed_4x8_integer_dot_product (dot4I8Packed, unpack4xI8/U8); unpacked by hand otherwise. */
  dot4: boolean;
}

export function qgemmLayoutKey(l: QGemmLayout): string {
  return [
    l.format,
    l.groupSize,
    l.a,
    l.aVec ? 'av' : 'as',
    l.scale,
    l.out,
    l.outVec ? 'ov' : 'os',
    `bias=${l.bias ?? '-'}`,
    l.dot4 ? 'dot4' : 'nodot4',
    `sub=${l.sub}`,
  ].join('|');
}

function unpackHelpers(dot4: boolean): string {
  if (dot4) {
    return `fn q_i8(w: u32) -> vec4<f32> {
  return vec4<f32>(unpack4xI8(w));
}
fn q_u8(w: u32) -> vec4<f32> {
  return vec4<f32>(unpack4xU8(w));
}
fn q_dot4(a: u32, b: u32) -> i32 {
  return dot4I8Packed(a, b);
}`;
  }
  return `fn q_i8v(w: u32) -> vec4<i32> {
  let s = bitcast<i32>(w);
  return vec4<i32>(extractBits(s, 0u, 8u), extractBits(s, 8u, 8u), extractBits(s, 16u, 8u), extractBits(s, 24u, 8u));
}
fn q_i8(w: u32) -> vec4<f32> {
  return vec4<f32>(q_i8v(w));
}
fn q_u8(w: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(w) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu));
}
fn q_dot4(a: u32, b: u32) -> i32 {
  return dot(q_i8v(a), q_i8v(b));
}`;
}

function wordType(dtype: string, vec: boolean): string {
  if (!vec) return 'u32';
  return dtype === 'float16' ? 'vec2<u32>' : 'vec4<u32>';
}

function bindings(l: QGemmLayout): string {
  const lines = [
    '@group(0) @binding(0) var<uniform> P: Params;',
    `@group(0) @binding(1) var<storage, read_write> out: array<${wordType(l.out, l.outVec)}>;`,
    `@group(0) @binding(2) var<storage, read> inA: array<${l.a === 'int8' ? 'vec4<u32>' : wordType(l.a, l.aVec)}>;`,
    // Packed weights as vec4 words: the GEMV reads 16 bytes per load (rows are 16-byte aligned).
    '@group(0) @binding(3) var<storage, read> inQ: array<vec4<u32>>;',
    '@group(0) @binding(4) var<storage, read> inS: array<u32>;',
  ];
  let next = 5;
  if (l.format === 'int4') lines.push(`@group(0) @binding(${next++}) var<storage, read> inZ: array<u32>;`);
  if (l.a === 'int8') lines.push(`@group(0) @binding(${next++}) var<storage, read> inAS: array<u32>;`);
  if (l.bias) lines.push(`@group(0) @binding(${next++}) var<storage, read> inBias: array<u32>;`);
  return lines.join('\n');
}

/** Read-only bindings the layout has (for the pipeline layout). */
export function qgemmReads(l: QGemmLayout): number {
  return 3 + (l.format === 'int4' ? 1 : 0) + (l.a === 'int8' ? 1 : 0) + (l.bias ? 1 : 0);
}

function floatLoad(dtype: 'float32' | 'float16', buf: string): string {
  return dtype === 'float32' ? `bitcast<f32>(${buf}[i])` : `unpack2x16float(${buf}[i >> 1u])[i & 1u]`;
}

function readA(l: QGemmLayout): string {
  const sig = 'fn mm_readA(bt: MmBatch, row: u32, k: u32) -> vec4<f32>';
  // Rows past M are clamped (computed, never stored).
  if (l.a === 'int8') return `${sig} {\n  let i = min(row, P.m - 1u) * P.akw + k / 4u;\n  return q_i8(inA[i >> 2u][i & 3u]);\n}`;
  const e = 'let e = P.aoff + i32(min(row, P.m - 1u)) * P.sam';
  if (l.aVec) {
    const body =
      l.a === 'float16'
        ? 'let w = inA[u32(e + i32(k)) >> 2u];\n  return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));'
        : 'return bitcast<vec4<f32>>(inA[u32(e + i32(k)) >> 2u]);';
    return `${sig} {\n  ${e};\n  ${body}\n}`;
  }
  return `fn ldA(i: u32) -> f32 {\n  return ${floatLoad(l.a, 'inA')};\n}
${sig} {
  ${e};
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    if (k + j < P.k) {
      v[j] = ldA(u32(e + i32(k + j) * P.sak));
    }
  }
  return v;
}`;
}

/**
 * mm_readB (4 k of one column, for the tile template); for the GEMV q_chunk (32 k of one column
 * as raw values, vec4s along k) and q_scale (the chunk's scale and zero), so the GEMV computes
 * s * (dot(a, q) - z * sum(a)) per row and decodes each weight once for all rows. int8 weights
 * have (1, 0) there: their per-row scale is applied once in mm_write.
 */
function readB(l: QGemmLayout): string {
  if (isGgufWeightFormat(l.format)) return ggufReadB(l.format);
  const ldS = `fn ldS(i: u32) -> f32 {\n  return ${floatLoad(l.scale as 'float32' | 'float16', 'inS')};\n}`;
  const chunk = 'alias QChunk = array<vec4<f32>, 8>;';
  if (l.format === 'int8') {
    return `${ldS}
${chunk}
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
// int8: the per-row scale is applied in mm_write; no zero point.
fn q_scale(col: u32, ch: u32) -> vec2<f32> {
  return vec2<f32>(1.0, 0.0);
}
fn mm_readB(bt: MmBatch, k: u32, col: u32) -> vec4<f32> {
  let i = min(col, P.n - 1u) * P.kw + k / 4u;
  return q_i8(inQ[i >> 2u][i & 3u]);
}`;
  }
  const shift = Math.log2(l.groupSize);
  return `${ldS}
fn ldZ(i: u32) -> f32 {
  return f32(extractBits(inZ[i >> 2u], (i & 3u) * 8u, 8u));
}
${chunk}
// 4 words = 32 k; in word i, low nibbles are k = 8i .. 8i+3, high nibbles 8i+4 .. 8i+7
// (src/quant/pack.ts). A chunk never straddles a group (group sizes are multiples of 32).
fn q_chunk(col: u32, ch: u32) -> QChunk {
  let c = min(col, P.n - 1u);
  let w = inQ[c * (P.kw / 4u) + ch];
  var r: QChunk;
  for (var i = 0u; i < 4u; i++) {
    r[2u * i] = q_u8(w[i] & 0x0f0f0f0fu);
    r[2u * i + 1u] = q_u8((w[i] >> 4u) & 0x0f0f0f0fu);
  }
  return r;
}
// (scale, zero) of the group holding chunk ch.
fn q_scale(col: u32, ch: u32) -> vec2<f32> {
  let g = min(col, P.n - 1u) * P.groups + ((ch * 32u) >> ${shift}u);
  return vec2<f32>(ldS(g), ldZ(g));
}
fn mm_readB(bt: MmBatch, k: u32, col: u32) -> vec4<f32> {
  let c = min(col, P.n - 1u);
  let i = c * P.kw + k / 8u;
  let word = inQ[i >> 2u][i & 3u];
  let g = c * P.groups + (k >> ${shift}u);
  return (q_u8((word >> (k & 4u)) & 0x0f0f0f0fu) - ldZ(g)) * ldS(g);
}`;
}

function store(l: QGemmLayout): string {
  if (l.out === 'float32') {
    if (l.outVec) return '  out[idx >> 2u] = bitcast<vec4<u32>>(v);';
    return [
      '  for (var j = 0u; j < 4u; j++) {',
      '    if (col + j < P.n) {',
      '      out[idx + j] = bitcast<u32>(v[j]);',
      '    }',
      '  }',
    ].join('\n');
  }
  // float16: N is even and col % 4 == 0, so (col, col+1) and (col+2, col+3) are whole words.
  if (l.outVec) return '  out[idx >> 2u] = vec2<u32>(pack2x16float(v.xy), pack2x16float(v.zw));';
  return [
    '  out[idx >> 1u] = pack2x16float(v.xy);',
    '  if (col + 2u < P.n) {',
    '    out[(idx >> 1u) + 1u] = pack2x16float(v.zw);',
    '  }',
  ].join('\n');
}

function writeC(l: QGemmLayout): string {
  const last = 'P.n - 1u';
  const lines: string[] = [];
  if (l.format === 'int8')
    lines.push(`  v *= vec4<f32>(ldS(col), ldS(min(col + 1u, ${last})), ldS(min(col + 2u, ${last})), ldS(min(col + 3u, ${last})));`);
  if (l.a === 'int8') lines.push('  v *= bitcast<f32>(inAS[row]);');
  if (l.bias) {
    lines.push(
      '  for (var j = 0u; j < 4u; j++) {',
      '    if (col + j < P.n) {',
      '      v[j] += ldBias(u32(P.biasoff + i32(row) * P.sbiasm + i32(col + j) * P.sbiasn));',
      '    }',
      '  }',
    );
  }
  const ldBias = l.bias ? `fn ldBias(i: u32) -> f32 {\n  return ${floatLoad(l.bias, 'inBias')};\n}\n` : '';
  return `${ldBias}fn mm_write(bt: MmBatch, row: u32, col: u32, acc: vec4<f32>) {
  if (row >= P.m || col >= P.n) {
    return;
  }
  var v = acc;
${lines.join('\n')}
  let idx = bt.c + row * P.n + col;
${store(l)}
}`;
}

function hooks(l: QGemmLayout): string {
  return [unpackHelpers(l.dot4), readA(l), readB(l), writeC(l)].join('\n');
}

function tileConstants(c: TileConfig): string {
  const shared = c.variant === 'shared';
  return [
    `const WG_X: u32 = ${c.wgX}u;`,
    `const WG_Y: u32 = ${c.wgY}u;`,
    `const TM: u32 = ${c.tm}u;`,
    `const TN: u32 = ${c.tn}u;`,
    `const TK: u32 = ${c.tk}u;`,
    `const SHARED: bool = ${shared};`,
    'const B_ALONG_K: bool = true;',
    `const AS_LEN: u32 = ${shared ? (c.wgY * c.tm * c.tk) / 4 : 1}u;`,
    `const BS_LEN: u32 = ${shared ? (c.wgX * c.tn * c.tk) / 4 : 1}u;`,
  ].join('\n');
}

function gemvConstants(c: GemvConfig, l: QGemmLayout, m: number, minSubgroup: number): string {
  const rows = gemvRows(m);
  const v = (rows * c.cols) / 4;
  const red = c.subgroups ? Math.ceil(c.wg / minSubgroup) * v : c.wg * v;
  return [
    `const WG: u32 = ${c.wg}u;`,
    `const COLS: u32 = ${c.cols}u;`,
    `const GEMV_M: u32 = ${rows}u;`,
    `const RED_LEN: u32 = ${red}u;`,
    `const SUB: u32 = ${l.sub}u;`,
  ].join('\n');
}

/** The WGSL of a quantized GEMM (tile template) or GEMV (M <= 8) pipeline. */
export function qgemmSource(l: QGemmLayout, c: TileConfig | GemvConfig, m: number, minSubgroup = 4): string {
  const gemv = c.path === 'gemv';
  const head = gemv && c.subgroups ? 'enable subgroups;\n' : '';
  const kernel = gemv
    ? kernelSource(c.subgroups ? 'gemv_reduce_subgroup.wgsl' : 'gemv_reduce_workgroup.wgsl') +
      kernelSource(l.a === 'int8' ? 'quant/qgemv_w8a8.wgsl' : isGgufWeightFormat(l.format) ? 'quant/qgemv_gguf.wgsl' : 'quant/qgemv.wgsl')
    : kernelSource('gemm.wgsl');
  return [
    head,
    QGEMM_PARAMS.wgsl,
    kernelSource('quant/qgemm_batch.wgsl'),
    bindings(l),
    gemv ? gemvConstants(c, l, m, minSubgroup) : tileConstants(c),
    hooks(l),
    kernel,
  ].join('\n');
}
