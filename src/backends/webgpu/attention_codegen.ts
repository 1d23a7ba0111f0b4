import { exprWgsl } from '../../flex/wgsl.js';
import { MASKED_SCORE, type AttentionSpec } from '../attention_spec.js';
import { dtypeInfo, type DType } from '../../tensor/dtype.js';
import { convertExpr, loadExpr } from './codegen.js';
import { uniformStruct } from './uniforms.js';
import { kernelSource } from './pipelines.js';
import { PREFILL_LANES, DECODE_ROWS, MAX_CHUNK, type AttentionConfig } from './attention_config.js';

/**
 * WGSL preludes for kernels/attention/*.wgsl: the Params struct, bindings (out, q, k, v, then the
 * optional mask, block flags and captured tensors), typed loaders, and score_fn, which applies the
 * mask operand, the causal mask and the flex modifications (compiled from their checked trees by
 * src/flex/wgsl.ts). Shapes, strides, head dims (rt = E, EV, BK or CHUNK) and the causal flag
 * (p0) travel in uniforms, so the source depends only on dtypes, the mask kind, tiles, the
 * per-row array buckets and the modifications, which make up the cache key: every pipeline costs
 * ~2 s to compile on lavapipe, and head dims or causal alone no longer make a new one.
 */

export const MAX_CAPTURES = 4;

/**
 * The uniforms every attention kernel reads: sizes, the GQA group, the grid, the scale, offsets
 * and strides of q, k, v, the mask (m) and the block flags (f); rt = (E, EV, BK or CHUNK): loop
 * bounds (runtime, so the compiler does not unroll them); p0 = causal; cshape: the captures' shapes.
 */
export const ATTENTION_PARAMS = uniformStruct('Params', {
  B: 'u32',
  H: 'u32',
  L: 'u32',
  S: 'u32',
  group: 'u32',
  qTiles: 'u32',
  groups: 'u32',
  splits: 'u32',
  scale: 'f32',
  blockSize: 'u32',
  qOff: 'i32',
  kOff: 'i32',
  vOff: 'i32',
  mOff: 'i32',
  fOff: 'i32',
  p0: 'u32',
  qs: 'vec4<i32>',
  ks: 'vec4<i32>',
  vs: 'vec4<i32>',
  ms: 'vec4<i32>',
  fs: 'vec4<i32>',
  rt: 'vec4<u32>',
  cshape: { array: 'u32', length: 4 * MAX_CAPTURES, stride: 4 },
});
const PARAMS = ATTENTION_PARAMS.wgsl;

/** The texture prefill's pack kernel (kernels/attention/pack.wgsl; written by attention_texture.ts). */
export const ATTENTION_PACK_PARAMS = uniformStruct('PackParams', {
  rows: 'u32',
  cols: 'u32',
  texels: 'u32',
  height: 'u32',
  layers: 'u32',
  hn: 'u32',
  off: 'i32',
  sb: 'i32',
  sh: 'i32',
  sr: 'i32',
  sc: 'i32',
  mul: 'f32',
});

/** The binding order of a spec's inputs after out: q, k, v, mask?, flags?, captures... */
export function attentionInputs(spec: AttentionSpec): { name: string; dtype: DType; to: 'f32' | 'i32' }[] {
  const list: { name: string; dtype: DType; to: 'f32' | 'i32' }[] = [
    { name: 'q', dtype: spec.q.dtype, to: 'f32' },
    { name: 'k', dtype: spec.k.dtype, to: 'f32' },
    { name: 'v', dtype: spec.v.dtype, to: 'f32' },
  ];
  if (spec.mask) list.push({ name: 'mask', dtype: spec.mask.operand.dtype, to: 'f32' });
  if (spec.blockMask) list.push({ name: 'flags', dtype: 'int32', to: 'i32' });
  spec.captures.forEach((c, i) => list.push({ name: `cap${i}`, dtype: 'float32', to: 'f32' }));
  return list;
}

/** Everything the source depends on besides the config. */
export function attentionSourceKey(spec: AttentionSpec): string {
  return [
    spec.q.dtype,
    spec.k.dtype,
    spec.v.dtype,
    spec.mask ? `${spec.mask.kind}:${spec.mask.operand.dtype}` : '',
    spec.blockMask ? 'blocks' : '',
    spec.captures.map((c) => `${c.name}/${c.shape.length}`).join(','),
    spec.scoreMod ? `S{${keyOf(spec.scoreMod)}}` : '',
    spec.maskMod ? `M{${keyOf(spec.maskMod)}}` : '',
  ].join('|');
}

const keyOf = (e: unknown): string => JSON.stringify(e);

/**
 * The bindings after the uniforms: out, then the inputs as storage buffers; with `textures` (the
 * texture prefill), q, k and v are the packed array textures qT, kT, vT instead.
 */
function bindingsAndLoaders(spec: AttentionSpec, outDecl: string, textures = false): string {
  const lines = ['@group(0) @binding(0) var<uniform> P: Params;', `@group(0) @binding(1) var<storage, read_write> out: ${outDecl};`];
  attentionInputs(spec).forEach((inp, i) => {
    if (textures && i < 3) {
      lines.push(`@group(0) @binding(${i + 2}) var ${inp.name}T: texture_2d_array<f32>;`);
      return;
    }
    lines.push(`@group(0) @binding(${i + 2}) var<storage, read> in_${inp.name}: array<u32>;`);
    const from = dtypeInfo(inp.dtype).compute;
    lines.push(
      `fn ld_${inp.name}(e: i32) -> ${inp.to} {\n  let u = u32(e);\n  return ${convertExpr(loadExpr(inp.dtype, `in_${inp.name}`, 'u'), from, inp.to)};\n}`,
    );
  });
  return lines.join('\n');
}

function captureReaders(spec: AttentionSpec): string {
  const out = [
    'fn cap_index(x: f32, n: u32) -> i32 {\n  let f = floor(x);\n  if (!(f >= 0.0)) {\n    return 0;\n  }\n  return i32(min(f, f32(n - 1u)));\n}',
  ];
  spec.captures.forEach((c, i) => {
    const args = c.shape.map((_, d) => `i${d}: f32`).join(', ');
    const body = c.shape.map((_, d) => `  off = off * i32(P.cshape[${i}][${d}]) + cap_index(i${d}, P.cshape[${i}][${d}]);`).join('\n');
    out.push(`fn cap${i}(${args}) -> f32 {\n  var off = 0;\n${body}\n  return ld_cap${i}(off);\n}`);
  });
  return out.join('\n');
}

function scoreFn(spec: AttentionSpec): string {
  const capName = (name: string) => `cap${spec.captures.findIndex((c) => c.name === name)}`;
  const lines: string[] = ['  var score = s_in;'];
  if (spec.mask) {
    const at = 'P.mOff + i32(b) * P.ms.x + i32(h) * P.ms.y + i32(q_idx) * P.ms.z + i32(kv_idx) * P.ms.w';
    if (spec.mask.kind === 'bool') lines.push(`  if (ld_mask(${at}) == 0.0) {\n    return MASKED;\n  }`);
    else lines.push(`  score += ld_mask(${at});`);
  }
  lines.push('  if (P.p0 != 0u && kv_idx > q_idx) {\n    return MASKED;\n  }');
  if (spec.scoreMod) lines.push(`  score = ${exprWgsl(spec.scoreMod, capName)};`);
  if (spec.maskMod) lines.push(`  if (!full && !(${exprWgsl(spec.maskMod, capName)})) {\n    return MASKED;\n  }`);
  lines.push('  return score;');
  return `fn score_fn(s_in: f32, b: u32, h: u32, q_idx: u32, kv_idx: u32, full: bool) -> f32 {\n${lines.join('\n')}\n}`;
}

function blockFlagFn(spec: AttentionSpec): string {
  if (!spec.blockMask) return 'fn block_flag(b: u32, h: u32, qb: u32, kb: u32) -> u32 {\n  return 1u;\n}';
  return 'fn block_flag(b: u32, h: u32, qb: u32, kb: u32) -> u32 {\n  return u32(ld_flags(P.fOff + i32(b) * P.fs.x + i32(h) * P.fs.y + i32(qb) * P.fs.z + i32(kb) * P.fs.w));\n}';
}

/**
 * NaN handling of the attention kernels: a row with a NaN among the scores it attends to gives
 * NaN, as softmax does in PyTorch. The online softmax compares scores (max, `<= MASKED`), and a
 * comparison drops NaN, so a NaN query row would pass for a fully masked one (0); the kernels
 * track NaN per row instead. Tested through the bits (a compiler may fold x != x to false) and
 * made from a private variable (WGSL constant expressions may not hold NaN).
 */
const NAN_HELPERS = `var<private> ATT_NAN_BITS: u32 = 0x7fc00000u;
fn att_nan() -> f32 {
  return bitcast<f32>(ATT_NAN_BITS);
}
fn att_is_nan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}
fn att_any_nan4(v: vec4<f32>) -> bool {
  return any((bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u));
}`;

/**
 * The prelude every attention kernel starts with (Params, NaN helpers, out and the input bindings
 * with their loaders, math, capture readers, score_fn, block_flag, and for storage-buffer kernels
 * the row4 loaders); the backward kernels (attention_backward.ts) build on it too.
 */
export function attentionCommon(spec: AttentionSpec, textures = false): string {
  return common(spec, textures);
}

function common(spec: AttentionSpec, textures = false): string {
  return [
    PARAMS,
    NAN_HELPERS,
    bindingsAndLoaders(spec, 'array<u32>', textures),
    `const HAS_BLOCKS: bool = ${!!spec.blockMask};\nconst MASKED: f32 = ${MASKED_SCORE.toExponential()}f;`,
    kernelSource('common/math.wgsl'),
    captureReaders(spec),
    scoreFn(spec),
    blockFlagFn(spec),
    textures ? '' : kernelSource('attention/rows4.wgsl'),
  ].join('\n');
}

/** Size of a per-row array of n vec4s: buckets (16, 32, 64, ...), so nearby head dims share a pipeline. */
export const vec4Bucket = (n: number): number => Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(1, n))));
/** Output vec4 columns per prefill invocation (a power of two), so nearby head dims share a pipeline. */
const columnGroups = (ev: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, Math.ceil(Math.ceil(ev / 4) / PREFILL_LANES))));

/** What the prefill source depends on beside attentionSourceKey and the tiles: the buckets. */
export const prefillBucketKey = (spec: AttentionSpec): string => `${vec4Bucket(Math.ceil(spec.e / 4))}/${columnGroups(spec.ev)}`;

/**
 * Fills the //@ markers of flash_prefill.wgsl with straight-line code over named accumulators
 * (a_T_R for scores, o_R_C for the output): lavapipe keeps a private array that is indexed by a
 * loop counter in scratch memory, where each access is a gather or scatter (far slower than the
 * FMAs; docs/attention.md), and named values in registers.
 */
function unrollPrefill(src: string, bq: number, kpl: number, cg: number): string {
  const R = [...Array(bq).keys()];
  const T = [...Array(kpl).keys()];
  const C = [...Array(cg).keys()];
  const fill: Record<string, string[]> = {
    O_DECL: R.flatMap((r) => C.map((c) => `var o_${r}_${c} = vec4<f32>(0.0);`)),
    QK: T.flatMap((t) => [
      `let kr_${t} = kb + i32(min(k0 + lid + ${t * PREFILL_LANES}u, slast)) * P.ks.z;`,
      ...R.map((r) => `var a_${t}_${r} = vec4<f32>(0.0);`),
    ]),
    QK_STEP: [
      ...T.map((t) => `let kd_${t} = row4_k(kr_${t}, P.ks.w, d4 * 4u, e);`),
      ...R.flatMap((r) => [`let q_${r} = q_tile[${r}u * E4B + d4];`, ...T.map((t) => `a_${t}_${r} += q_${r} * kd_${t};`)]),
    ],
    QK_STORE: T.flatMap((t) =>
      R.map(
        (r) =>
          `s_tile[${r}u * BK + lid + ${t * PREFILL_LANES}u] = tile_score(a_${t}_${r}, k0 + lid + ${t * PREFILL_LANES}u, kv_end, b, h, q0 + ${r}u, flag);`,
      ),
    ),
    PV_SCALE: R.flatMap((r) => [`let corr_${r} = row_corr[${r}u];`, ...C.map((c) => `o_${r}_${c} *= corr_${r};`)]),
    PV_STEP: [
      ...C.map((c) => `let vd_${c} = row4_v(vr, P.vs.w, min(lid + ${c * PREFILL_LANES}u, ev4 - 1u) * 4u, ev);`),
      ...R.flatMap((r) => [`let p_${r} = vec4<f32>(s_tile[${r}u * BK + j]);`, ...C.map((c) => `o_${r}_${c} += p_${r} * vd_${c};`)]),
    ],
    STORE: R.flatMap((r) => C.map((c) => `store_row(${r}u, ${c}u, o_${r}_${c}, b, h, q0, lid);`)),
  };
  return src.replace(/^( *)\/\/@(\w+)$/gm, (_m, ind: string, name: string) => fill[name].map((l) => ind + l).join('\n'));
}

export function prefillSource(spec: AttentionSpec, c: AttentionConfig): string {
  const consts = [
    `const LANES: u32 = ${PREFILL_LANES}u;`,
    `const BQ: u32 = ${c.bq}u;`,
    `const KPL: u32 = ${c.bk / PREFILL_LANES}u;`,
    `const E4B: u32 = ${vec4Bucket(Math.ceil(spec.e / 4))}u;`,
    `const CG: u32 = ${columnGroups(spec.ev)}u;`,
  ].join('\n');
  return [
    common(spec),
    consts,
    unrollPrefill(kernelSource('attention/flash_prefill.wgsl'), c.bq, c.bk / PREFILL_LANES, columnGroups(spec.ev)),
  ].join('\n');
}

/** The texture prefill's tiles: SG lanes, BQ rows, T key texels (4 keys) per lane, CG output vec4 columns per lane. */
export interface TextureTiles {
  sg: number;
  bq: number;
  t: number;
  cg: number;
}

/** Output vec4 columns per lane of the texture prefill: a power of two, so nearby Ev share a pipeline. */
export const textureColumns = (ev: number, sg: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, Math.ceil(Math.ceil(ev / 4) / sg))));

/**
 * Fills the //@ markers of flash_prefill_tex.wgsl with straight-line code over named values:
 * s_R_T (scores, then probabilities, of row R and the lane's key texel T), o_R_C (output vec4
 * column C of row R), m_R / l_R (running max, per-lane partial sum).
 */
function unrollTexture(src: string, k: TextureTiles): string {
  const R = [...Array(k.bq).keys()];
  const T = [...Array(k.t).keys()];
  const C = [...Array(k.cg).keys()];
  const J = [...Array(k.bq / k.sg).keys()];
  const I = [0, 1, 2, 3];
  const fill: Record<string, string[]> = {
    DECL: R.flatMap((r) => [
      `var m_${r} = MASKED;`,
      `var l_${r} = 0.0;`,
      `var n_${r} = false;`,
      ...C.map((c) => `var o_${r}_${c} = vec4<f32>(0.0);`),
    ]),
    S_DECL: R.flatMap((r) => T.map((t) => `var s_${r}_${t} = vec4<f32>(0.0);`)),
    QK_STEP: [
      ...T.flatMap((t) => I.map((i) => `let kt_${t}_${i} = textureLoad(kT, vec2<u32>(kx + ${t * k.sg}u, ky + ${i}u), kvl, 0);`)),
      ...J.map((j) => `let qf_${j} = textureLoad(qT, vec2<u32>(d4, q0 + ${j * k.sg}u + lane), bh, 0);`),
      ...R.flatMap((r) => [
        `let q_${r} = subgroupBroadcast(qf_${Math.floor(r / k.sg)}, ${r % k.sg}u);`,
        ...T.map((t) => `s_${r}_${t} += q_${r}.x * kt_${t}_0 + q_${r}.y * kt_${t}_1 + q_${r}.z * kt_${t}_2 + q_${r}.w * kt_${t}_3;`),
      ]),
    ],
    MASK: R.flatMap((r) =>
      T.map((t) => `s_${r}_${t} = tile_scores(s_${r}_${t}, 4u * (kx + ${t * k.sg}u), kv_end, b, h, q0 + ${r}u, flag);`),
    ),
    SOFTMAX: R.flatMap((r) => [
      // n_R: this lane saw a NaN score in row R (subgroupMax may drop it).
      `n_${r} = n_${r} || ${T.map((t) => `att_any_nan4(s_${r}_${t})`).join(' || ')};`,
      `let mn_${r} = max(m_${r}, subgroupMax(${T.map((t) => `max4(s_${r}_${t})`).reduce((a, x) => `max(${a}, ${x})`)}));`,
      `let corr_${r} = select(exp(m_${r} - mn_${r}), 0.0, m_${r} <= MASKED);`,
      ...T.map((t) => `s_${r}_${t} = select(exp(s_${r}_${t} - vec4<f32>(mn_${r})), vec4<f32>(0.0), s_${r}_${t} <= vec4<f32>(MASKED));`),
      `l_${r} = l_${r} * corr_${r} + ${T.map((t) => `sum4(s_${r}_${t})`).join(' + ')};`,
      `m_${r} = mn_${r};`,
      ...C.map((c) => `o_${r}_${c} *= corr_${r};`),
    ]),
    // The lane's T key texels at once: 4 T products per accumulator update.
    PV_STEP: [
      ...T.map((t) => `let vy_${t} = k0 + 4u * (src + ${t * k.sg}u);`),
      ...T.flatMap((t) =>
        I.flatMap((i) => C.map((c) => `let v_${t}_${i}_${c} = textureLoad(vT, vec2<u32>(lane + ${c * k.sg}u, vy_${t} + ${i}u), kvl, 0);`)),
      ),
      ...R.flatMap((r) => [
        ...T.map((t) => `let p_${r}_${t} = subgroupShuffle(s_${r}_${t}, src);`),
        ...C.map((c) => `o_${r}_${c} += ${T.flatMap((t) => I.map((i) => `p_${r}_${t}.${'xyzw'[i]} * v_${t}_${i}_${c}`)).join(' + ')};`),
      ]),
    ],
    STORE: R.flatMap((r) => [
      `let lt_${r} = subgroupAdd(l_${r});`,
      `let nn_${r} = subgroupMax(select(0u, 1u, n_${r}));`,
      `let inv_${r} = select(select(1.0 / lt_${r}, 0.0, lt_${r} == 0.0), att_nan(), nn_${r} != 0u);`,
      ...C.map((c) => `store_row(bh, q0 + ${r}u, lane + ${c * k.sg}u, o_${r}_${c}, inv_${r});`),
    ]),
  };
  return src.replace(/^( *)\/\/@(\w+)$/gm, (_m, ind: string, name: string) => fill[name].map((l) => ind + l).join('\n'));
}

/** The texture prefill's WGSL (kernels/attention/flash_prefill_tex.wgsl with its prelude). */
export function texturePrefillSource(spec: AttentionSpec, k: TextureTiles): string {
  const plain = !spec.mask && !spec.scoreMod && !spec.maskMod;
  const consts = [
    `const SG: u32 = ${k.sg}u;`,
    `const BQ: u32 = ${k.bq}u;`,
    `const T: u32 = ${k.t}u;`,
    `const CG: u32 = ${k.cg}u;`,
    `const PLAIN: bool = ${plain};`,
  ].join('\n');
  return ['enable subgroups;', common(spec, true), consts, unrollTexture(kernelSource('attention/flash_prefill_tex.wgsl'), k)].join('\n');
}

/** The pack kernel (kernels/attention/pack.wgsl) for one source dtype. */
export function texturePackSource(dtype: DType): string {
  const from = dtypeInfo(dtype).compute;
  return [
    ATTENTION_PACK_PARAMS.wgsl,
    '@group(0) @binding(0) var<uniform> Q: PackParams;',
    '@group(0) @binding(1) var dst: texture_storage_2d_array<rgba32float, write>;',
    '@group(0) @binding(2) var<storage, read> in_s: array<u32>;',
    `fn ld_s(e: i32) -> f32 {\n  let u = u32(e);\n  return ${convertExpr(loadExpr(dtype, 'in_s', 'u'), from, 'f32')};\n}`,
    kernelSource('attention/pack.wgsl'),
  ].join('\n');
}

export function decodeSource(spec: AttentionSpec, c: AttentionConfig): string {
  return [
    common(spec),
    `const WG: u32 = ${c.wg}u;\nconst RB: u32 = ${DECODE_ROWS}u;\nconst CMAX: u32 = ${MAX_CHUNK}u;`,
    kernelSource('attention/flash_decode.wgsl'),
  ].join('\n');
}

export function reduceSource(wg: number): string {
  return [
    PARAMS,
    '@group(0) @binding(0) var<uniform> P: Params;\n@group(0) @binding(1) var<storage, read_write> out: array<u32>;\n@group(0) @binding(2) var<storage, read> in0: array<u32>;',
    NAN_HELPERS,
    `const WG: u32 = ${wg}u;\nconst MASKED: f32 = ${MASKED_SCORE.toExponential()}f;`,
    kernelSource('attention/decode_reduce.wgsl'),
  ].join('\n');
}

/** The uniforms of an attention launch (ATTENTION_PARAMS). */
export function attentionUniforms(spec: AttentionSpec, u: { qTiles: number; groups: number; splits: number; bk?: number }): ArrayBuffer {
  return ATTENTION_PARAMS.write({
    B: spec.batch,
    H: spec.heads,
    L: spec.l,
    S: spec.s,
    group: spec.heads / spec.kvHeads,
    qTiles: u.qTiles,
    groups: u.groups,
    splits: u.splits,
    scale: spec.scale,
    blockSize: spec.blockMask?.blockSize ?? 1,
    qOff: spec.q.offset,
    kOff: spec.k.offset,
    vOff: spec.v.offset,
    mOff: spec.mask?.operand.offset ?? 0,
    fOff: spec.blockMask?.flags.offset ?? 0,
    p0: spec.causal ? 1 : 0,
    qs: spec.q.strides,
    ks: spec.k.strides,
    vs: spec.v.strides,
    ms: spec.mask?.operand.strides ?? [],
    fs: spec.blockMask?.flags.strides ?? [],
    rt: [spec.e, spec.ev, u.bk ?? 0, 0],
    cshape: spec.captures.slice(0, MAX_CAPTURES).map((c) => c.shape.slice(0, 4)),
  });
}
