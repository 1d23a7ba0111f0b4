import type { Activation } from '../backend.js';
import { ACTIVATIONS } from '../activation.js';
import type { DType } from '../../tensor/dtype.js';
import { loadExpr, MAX_RANK } from './codegen.js';
import type { GemvConfig, TileConfig } from './gemm_config.js';
import { kernelSource } from './pipelines.js';
import { uniformStruct } from './uniforms.js';

/**
 * The prelude that specialises kernels/gemm.wgsl and kernels/gemv.wgsl: bindings typed for vector
 * loads where an operand allows them, the mm_readA / mm_readB / mm_write hooks (dense strided
 * reads, and the fused epilogue in the store), and the tile constants. Shapes and strides never
 * enter the source; what does is the cache key (gemmLayoutKey + gemmConfigKey).
 */

export type GemmFloat = 'float32' | 'float16';

const RANK = { array: 'u32', length: MAX_RANK } as const;
const STRIDES = { array: 'i32', length: MAX_RANK } as const;

/**
 * The uniforms of the GEMM kernels (gemm.wgsl, gemv.wgsl; written by gemm_plan.ts gemmUniforms):
 * sizes, the grid, offsets and matrix strides of A, B, bias and residual (elements), the epilogue
 * scalars, and the batch dims with every operand's batch strides (kernels/common/gemm_batch.wgsl).
 */
export const GEMM_PARAMS = uniformStruct('Params', {
  m: 'u32',
  n: 'u32',
  k: 'u32',
  batch: 'u32',
  tilesN: 'u32',
  tilesM: 'u32',
  brank: 'u32',
  pad0: 'u32',
  aoff: 'i32',
  sam: 'i32',
  sak: 'i32',
  boff: 'i32',
  sbk: 'i32',
  sbn: 'i32',
  alpha: 'f32',
  beta: 'f32',
  biasoff: 'i32',
  sbiasm: 'i32',
  sbiasn: 'i32',
  resoff: 'i32',
  sresm: 'i32',
  sresn: 'i32',
  pad1: 'u32',
  pad2: 'u32',
  bshape: RANK,
  sab: STRIDES,
  sbb: STRIDES,
  sbiasb: STRIDES,
  sresb: STRIDES,
});

/** The texture variant's pack kernel (kernels/gemm_pack.wgsl; written by gemm_texture.ts). */
export const GEMM_PACK_PARAMS = uniformStruct('PackParams', {
  rows: 'u32',
  cols: 'u32',
  texels: 'u32',
  height: 'u32',
  off: 'i32',
  srow: 'i32',
  scol: 'i32',
  per: 'u32',
  sbatch: 'i32',
  entries: 'u32',
  across: 'u32',
  pad2: 'u32',
});

/** Everything about the operands that changes the generated code. */
export interface GemmLayout {
  a: GemmFloat;
  b: GemmFloat;
  /** float16 only when N is even: a word (2 halves) is then never split between invocations. */
  out: GemmFloat;
  /** A is contiguous along k, 4-aligned: one vector load per 4 k. */
  aVec: boolean;
  /** B's loads run along k (B contiguous along k, e.g. a Linear weight read transposed). */
  bAlongK: boolean;
  /** B is contiguous and 4-aligned along its load direction. */
  bVec: boolean;
  /** N % 4 == 0: the 4 columns of a store are one vec4 (f32) or vec2 of words (f16). */
  outVec: boolean;
  bias?: DType;
  residual?: DType;
  activation?: Activation;
  /** alpha or beta differ from 1 (read from the uniforms; skipped otherwise). */
  scaled: boolean;
}

export function gemmLayoutKey(l: GemmLayout): string {
  return [
    l.a,
    l.b,
    l.out,
    l.aVec ? 'av' : 'as',
    l.bAlongK ? 'bk' : 'bn',
    l.bVec ? 'bv' : 'bs',
    l.outVec ? 'ov' : 'os',
    `bias=${l.bias ?? '-'}`,
    `res=${l.residual ?? '-'}`,
    `act=${l.activation ?? '-'}`,
    l.scaled ? 'scaled' : '',
  ].join('|');
}

/** Element type of a binding: vec4 of words (f32 x 4), vec2 of words (f16 x 4), or words. */
function wordType(dtype: DType, vec: boolean): string {
  if (!vec) return 'u32';
  return dtype === 'float16' ? 'vec2<u32>' : 'vec4<u32>';
}

/** fn {name}(e: i32) -> f32: one element (any dtype the loaders know). */
function scalarLoader(name: string, buf: string, dtype: DType): string {
  const expr = loadExpr(dtype, buf, 'u');
  const toF32 = dtype === 'float32' || dtype === 'float16' ? expr : `f32(${expr})`;
  return `fn ${name}(e: i32) -> f32 {\n  let u = u32(e);\n  return ${toF32};\n}`;
}

/** fn {name}4(e: i32) -> vec4<f32>: 4 consecutive elements from e (e % 4 == 0), one load. */
function vectorLoader(name: string, buf: string, dtype: GemmFloat): string {
  const body =
    dtype === 'float16'
      ? `let w = ${buf}[u32(e) >> 2u];\n  return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));`
      : `return bitcast<vec4<f32>>(${buf}[u32(e) >> 2u]);`;
  return `fn ${name}4(e: i32) -> vec4<f32> {\n  ${body}\n}`;
}

/**
 * mm_readA(bt, row, k): A[row, k..k+3]. Rows past M are clamped (read, never stored); in the
 * vector form K % 4 == 0, so no k check is needed.
 */
function readA(l: GemmLayout): string {
  const row = 'let e = bt.a + i32(min(row, P.m - 1u)) * P.sam';
  if (l.aVec) return `fn mm_readA(bt: MmBatch, row: u32, k: u32) -> vec4<f32> {\n  ${row} + i32(k);\n  return ldA4(e);\n}`;
  return `fn mm_readA(bt: MmBatch, row: u32, k: u32) -> vec4<f32> {
  ${row};
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    if (k + j < P.k) {
      v[j] = ldA(e + i32(k + j) * P.sak);
    }
  }
  return v;
}`;
}

/** mm_readB(bt, k, col): B[k..k+3, col] (along k) or B[k, col..col+3] (along n); see gemm.wgsl. */
function readB(l: GemmLayout): string {
  const sig = 'fn mm_readB(bt: MmBatch, k: u32, col: u32) -> vec4<f32>';
  if (l.bAlongK) {
    const col = 'let e = bt.b + i32(min(col, P.n - 1u)) * P.sbn';
    if (l.bVec) return `${sig} {\n  ${col} + i32(k);\n  return ldB4(e);\n}`;
    return `${sig} {
  ${col};
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    if (k + j < P.k) {
      v[j] = ldB(e + i32(k + j) * P.sbk);
    }
  }
  return v;
}`;
  }
  // Along n: with N % 4 == 0 and col % 4 == 0, clamping to N - 4 keeps the load aligned. The
  // kernels call this for k up to K rounded up to 4, and nothing requires K % 4 == 0 here: rows
  // k >= K lie outside the operand (a view's neighbours, a block's slack) and may hold inf or
  // NaN, which A's zero padding would turn into NaN (0 * inf), so they read as zeros.
  if (l.bVec)
    return `${sig} {\n  if (k >= P.k) {\n    return vec4<f32>(0.0);\n  }\n  return ldB4(bt.b + i32(k) * P.sbk + i32(min(col, P.n - 4u)));\n}`;
  return `${sig} {
  if (k >= P.k) {
    return vec4<f32>(0.0);
  }
  let e = bt.b + i32(k) * P.sbk;
  let last = P.n - 1u;
  return vec4<f32>(ldB(e + i32(min(col, last)) * P.sbn), ldB(e + i32(min(col + 1u, last)) * P.sbn),
                   ldB(e + i32(min(col + 2u, last)) * P.sbn), ldB(e + i32(min(col + 3u, last)) * P.sbn));
}`;
}

/** The epilogue on 4 accumulated values of one row: alpha, bias, activation, residual. */
function epilogue(l: GemmLayout): string {
  const lines: string[] = [];
  if (l.scaled) lines.push('  v *= P.alpha;');
  const perColumn = (name: string, fn: string, base: string, sm: string, sn: string, scale: string) => [
    `  let ${name}0 = bt.${base} + i32(row) * P.${sm} + i32(col) * P.${sn};`,
    '  for (var j = 0u; j < 4u; j++) {',
    '    if (col + j < P.n) {',
    `      v[j] += ${scale}${fn}(${name}0 + i32(j) * P.${sn});`,
    '    }',
    '  }',
  ];
  if (l.bias) lines.push(...perColumn('eb', 'ldBias', 'bias', 'sbiasm', 'sbiasn', l.scaled ? 'P.beta * ' : ''));
  if (l.activation) {
    const act = ACTIVATIONS[l.activation].wgsl;
    lines.push('  for (var j = 0u; j < 4u; j++) {', `    let x = v[j];`, `    v[j] = ${act('x')};`, '  }');
  }
  if (l.residual) lines.push(...perColumn('er', 'ldRes', 'res', 'sresm', 'sresn', ''));
  return lines.join('\n');
}

/** The store of 4 columns of one row of the contiguous output, in its dtype. */
function store(l: GemmLayout): string {
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

function writeC(l: GemmLayout): string {
  return `fn mm_write(bt: MmBatch, row: u32, col: u32, acc: vec4<f32>) {
  if (row >= P.m || col >= P.n) {
    return;
  }
  var v = acc;
${epilogue(l)}
  let idx = bt.c + row * P.n + col;
${store(l)}
}`;
}

function bindingsFor(l: GemmLayout, textures = false): string {
  const lines = [
    '@group(0) @binding(0) var<uniform> P: Params;',
    `@group(0) @binding(1) var<storage, read_write> out: array<${wordType(l.out, l.outVec)}>;`,
    textures
      ? '@group(0) @binding(2) var inA: texture_2d<f32>;'
      : `@group(0) @binding(2) var<storage, read> inA: array<${wordType(l.a, l.aVec)}>;`,
    textures
      ? '@group(0) @binding(3) var inB: texture_2d<f32>;'
      : `@group(0) @binding(3) var<storage, read> inB: array<${wordType(l.b, l.bVec)}>;`,
  ];
  let next = 4;
  if (l.bias) lines.push(`@group(0) @binding(${next++}) var<storage, read> inBias: array<u32>;`);
  if (l.residual) lines.push(`@group(0) @binding(${next++}) var<storage, read> inRes: array<u32>;`);
  return lines.join('\n');
}

/**
 * The texture variant's hooks (TileConfig variant 'texture'): A packed as [M, ceil(K/4)] texels, B
 * as [K rounded up to 4, ceil(N/4)] texels, both padded with zeros to whole tiles
 * (kernels/gemm_pack.wgsl, gemm_texture.ts), so no read needs a check or a clamp. Batch entries
 * (and split-K slices) are stacked in A's texture and side by side in B's: bt.a is then a
 * texture-row offset, bt.b a texel-column offset (gemm_texture.ts writes the uniforms so).
 */
function textureHooks(l: GemmLayout): string {
  const parts: string[] = [];
  if (l.bias) parts.push(scalarLoader('ldBias', 'inBias', l.bias));
  if (l.residual) parts.push(scalarLoader('ldRes', 'inRes', l.residual));
  parts.push(
    'fn mm_readA(bt: MmBatch, row: u32, k: u32) -> vec4<f32> {\n  return textureLoad(inA, vec2<u32>(k >> 2u, u32(bt.a) + row), 0);\n}',
    'fn mm_readB(bt: MmBatch, k: u32, col: u32) -> vec4<f32> {\n  return textureLoad(inB, vec2<u32>(u32(bt.b) + (col >> 2u), k), 0);\n}',
    writeC(l),
  );
  return parts.join('\n');
}

function hooks(l: GemmLayout): string {
  const parts = [
    l.aVec ? vectorLoader('ldA', 'inA', l.a) : scalarLoader('ldA', 'inA', l.a),
    l.bVec ? vectorLoader('ldB', 'inB', l.b) : scalarLoader('ldB', 'inB', l.b),
  ];
  if (l.bias) parts.push(scalarLoader('ldBias', 'inBias', l.bias));
  if (l.residual) parts.push(scalarLoader('ldRes', 'inRes', l.residual));
  parts.push(readA(l), readB(l), writeC(l));
  return parts.join('\n');
}

function tileConstants(c: TileConfig, l: GemmLayout): string {
  const shared = c.variant === 'shared';
  // Packed B is always [K, N] (along n), whichever way it is stored.
  const bAlongK = c.variant === 'texture' ? false : l.bAlongK;
  const asLen = shared ? (c.wgY * c.tm * c.tk) / 4 : 1;
  const bsLen = shared ? (c.wgX * c.tn * c.tk) / 4 : 1;
  return [
    `const WG_X: u32 = ${c.wgX}u;`,
    `const WG_Y: u32 = ${c.wgY}u;`,
    `const TM: u32 = ${c.tm}u;`,
    `const TN: u32 = ${c.tn}u;`,
    `const TK: u32 = ${c.tk}u;`,
    `const SHARED: bool = ${shared};`,
    `const B_ALONG_K: bool = ${bAlongK};`,
    `const AS_LEN: u32 = ${asLen}u;`,
    `const BS_LEN: u32 = ${bsLen}u;`,
  ].join('\n');
}

/**
 * The pack kernel (kernels/gemm_pack.wgsl) for one source dtype: reads any strided operand, writes
 * dense rgba32float texels (the texture variant's operands).
 */
export function gemmPackSource(dtype: DType): string {
  return [
    GEMM_PACK_PARAMS.wgsl,
    '@group(0) @binding(0) var<uniform> Q: PackParams;',
    '@group(0) @binding(1) var dst: texture_storage_2d<rgba32float, write>;',
    '@group(0) @binding(2) var<storage, read> inS: array<u32>;',
    scalarLoader('ldS', 'inS', dtype),
    kernelSource('gemm_pack.wgsl'),
  ].join('\n');
}

/** Rows the GEMV kernel computes for M (M <= 8): 1, 2, 4 or 8, so 4 pipelines serve every M. */
export const gemvRows = (m: number): number => (m <= 1 ? 1 : m <= 2 ? 2 : m <= 4 ? 4 : 8);

function gemvConstants(c: GemvConfig, l: GemmLayout, m: number, minSubgroup: number): string {
  const rows = gemvRows(m);
  const v = (rows * c.cols) / 4;
  const red = c.subgroups ? Math.ceil(c.wg / minSubgroup) * v : c.wg * v;
  return [
    `const WG: u32 = ${c.wg}u;`,
    `const COLS: u32 = ${c.cols}u;`,
    `const GEMV_M: u32 = ${rows}u;`,
    `const B_ALONG_K: bool = ${l.bAlongK};`,
    `const RED_LEN: u32 = ${red}u;`,
  ].join('\n');
}

/**
 * The subgroup-shared register tile (TileConfig.sg, texture variant only): the SG lanes of a
 * subgroup compute the same TM rows, each its own TN columns, so instead of every lane reading all
 * TM rows of A, lane l reads rows SG*i + l and each row reaches the others through
 * subgroupBroadcast with a constant lane (a register shuffle): TM / SG reads of A per 4 k instead
 * of TM. Subgroup s of the workgroup takes row block s (so WG_X = SG lanes, WG_Y = subgroups),
 * which needs subgroups of exactly SG invocations (validConfig: subgroupMinSize = subgroupMaxSize).
 * Generated unrolled: the broadcast lane must be a constant. Hooks and uniforms as gemm.wgsl.
 * On lavapipe this is the fastest kernel measured (bench/tools/gemm_probe.ts texs rows; figures in
 * bench/results/README.md), ahead of the per-lane texture tiles, as A fetches there cost as much
 * for 8 lanes reading one texel as for 8.
 */
function subgroupTileMain(c: TileConfig): string {
  const sg = c.sg as number;
  const tn4 = c.tn / 4;
  const rows = Array.from({ length: c.tm }, (_, r) => r);
  const cols = Array.from({ length: tn4 }, (_, j) => j);
  const out: string[] = [
    '@compute @workgroup_size(WG_X * WG_Y)',
    'fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,',
    '        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_id) sgid: u32) {',
    '  let g = wid.x + wid.y * nwg.x;',
    '  let tileN = g % P.tilesN;',
    '  let tileM = (g / P.tilesN) % P.tilesM;',
    '  let batch = g / (P.tilesN * P.tilesM);',
    '  if (batch >= P.batch) {',
    '    return;',
    '  }',
    '  let bt = mm_batch(batch);',
    '  let row0 = (tileM * WG_Y + sgid) * TM;',
    '  let col0 = (tileN * WG_X + lane) * TN;',
  ];
  for (const r of rows) for (const j of cols) out.push(`  var acc${r}_${j} = vec4<f32>(0.0);`);
  out.push('  for (var k = 0u; k < P.k; k += 4u) {');
  for (let i = 0; i < c.tm / sg; i++) out.push(`    let af${i} = mm_readA(bt, row0 + ${i * sg}u + lane, k);`);
  for (let kk = 0; kk < 4; kk++) for (const j of cols) out.push(`    let b${kk}_${j} = mm_readB(bt, k + ${kk}u, col0 + ${4 * j}u);`);
  for (const r of rows) {
    out.push(`    let a${r} = subgroupBroadcast(af${Math.floor(r / sg)}, ${r % sg}u);`);
    for (const j of cols) {
      out.push(
        `    acc${r}_${j} = fma(vec4<f32>(a${r}.x), b0_${j}, acc${r}_${j});`,
        `    acc${r}_${j} = fma(vec4<f32>(a${r}.y), b1_${j}, acc${r}_${j});`,
        `    acc${r}_${j} = fma(vec4<f32>(a${r}.z), b2_${j}, acc${r}_${j});`,
        `    acc${r}_${j} = fma(vec4<f32>(a${r}.w), b3_${j}, acc${r}_${j});`,
      );
    }
  }
  out.push('  }');
  // The stores go through a loop, not unrolled: each mm_write inlines the whole epilogue, and
  // TM x TN / 4 copies of it made lavapipe's LLVM compile for minutes.
  out.push(`  var accs: array<vec4<f32>, ${c.tm * tn4}>;`);
  for (const r of rows) for (const j of cols) out.push(`  accs[${r * tn4 + j}] = acc${r}_${j};`);
  out.push(
    `  for (var i = 0u; i < ${c.tm * tn4}u; i++) {`,
    `    mm_write(bt, row0 + i / ${tn4}u, col0 + 4u * (i % ${tn4}u), accs[i]);`,
    '  }',
  );
  out.push('}');
  return out.join('\n');
}

/**
 * The full WGSL of a GEMM pipeline: prelude + template. `m` matters only for the GEMV kernel,
 * which specialises on the row count bucket (gemvRows: its accumulators are registers).
 */
export function gemmSource(l: GemmLayout, c: TileConfig | GemvConfig, m: number, minSubgroup = 4): string {
  const needsMath = l.activation === 'gelu' || l.activation === 'silu';
  const sgTile = c.path === 'tile' && (c.sg ?? 0) > 0;
  const head = (c.path === 'gemv' && c.subgroups) || sgTile ? 'enable subgroups;\n' : '';
  const textures = c.path === 'tile' && c.variant === 'texture';
  return [
    head,
    GEMM_PARAMS.wgsl,
    kernelSource('common/gemm_batch.wgsl'),
    bindingsFor(l, textures),
    c.path === 'tile' ? tileConstants(c, l) : gemvConstants(c, l, m, minSubgroup),
    needsMath ? kernelSource('common/math.wgsl') : '',
    textures ? textureHooks(l) : hooks(l),
    c.path === 'tile'
      ? sgTile
        ? subgroupTileMain(c)
        : kernelSource('gemm.wgsl')
      : kernelSource(c.subgroups ? 'gemv_reduce_subgroup.wgsl' : 'gemv_reduce_workgroup.wgsl') + kernelSource('gemv.wgsl'),
  ].join('\n');
}
