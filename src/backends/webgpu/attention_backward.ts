import type { Storage } from '../backend.js';
import type { AttentionBackwardSpec, AttentionGrads } from '../attention_spec.js';
import { exprWgsl } from '../../flex/wgsl.js';
import type { GpuHost } from './host.js';
import { bind, bufferLayout } from './program.js';
import { kernelSource } from './pipelines.js';
import { attentionCommon, attentionInputs, attentionSourceKey, attentionUniforms, vec4Bucket } from './attention_codegen.js';
import { PREFILL_LANES } from './attention_config.js';

/**
 * The xpu attention backward: two dispatches of the kernels in kernels/attention/backward_*.wgsl
 * (FlashAttention-2's backward, Dao 2023, split in two sweeps so each output row has one owner):
 *   1. backward_dq: one invocation per query row: its logsumexp and delta to a [rows, 2] stats
 *      buffer, then its dq;
 *   2. backward_dkdv: one invocation per key row of a KV head: dk and dv over every query row of
 *      the head's GQA group.
 * Memory beside the gradients: the stats (2 floats per query row); no [L, S] matrix. Shapes,
 * strides, head dims and causal are uniforms (attentionUniforms), so one pipeline of each serves
 * every size of a head-dim bucket; masks and flex modifications (with their derivative,
 * src/flex/derivative.ts) specialise the source like the forward's.
 */

/** Lanes per workgroup (lavapipe's SIMD width, as the forward's prefill), query rows and keys per tile. */
const LANES = PREFILL_LANES;
const BQ = 8;
const KPL = 1;
const BK = LANES * KPL; // = BQ: the dk / dv tiles are staged in the q / dOut tiles

/** vec4 columns of a head dim per lane: a power of two, so nearby head dims share a pipeline. */
const columnGroups = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, Math.ceil(Math.ceil(n / 4) / LANES))));

const range = (n: number) => [...Array(n).keys()];
const hsum = (v: string) => `((${v}.x + ${v}.y) + (${v}.z + ${v}.w))`;

/**
 * Fills the //@ markers of backward_dq.wgsl / backward_dkdv.wgsl with straight-line code over
 * named accumulators (a_T_R: score partial sums of the lane's key T and row R; c_T_R: dP's;
 * dq_R_C, dk_K_C, dv_K_C: output vec4 columns), as attention_codegen.ts does for the forward.
 * A masked pair's zero coefficient skips its product (select), so a NaN q, k or dOut row hidden
 * from the pair by a mask leaves the gradients finite, as the cpu kernels' skipped pairs do.
 */
function unroll(src: string, e: number, ev: number): string {
  const R = range(BQ);
  const T = range(KPL);
  const K = range(BK);
  const C = range(columnGroups(e));
  const CV = range(columnGroups(ev));
  const key = (t: number) => `k0 + lid + ${t * LANES}u`;
  const fill: Record<string, string[]> = {
    QK: T.flatMap((t) => [`let kr_${t} = kb + i32(min(${key(t)}, slast)) * P.ks.z;`, ...R.map((r) => `var a_${t}_${r} = vec4<f32>(0.0);`)]),
    QK_STEP: [
      ...T.map((t) => `let kd_${t} = row4_k(kr_${t}, P.ks.w, d4 * 4u, e);`),
      ...R.flatMap((r) => [`let q_${r} = q_tile[${r}u * E4B + d4];`, ...T.map((t) => `a_${t}_${r} += q_${r} * kd_${t};`)]),
    ],
    DP: T.flatMap((t) => [`let vr_${t} = vb + i32(min(${key(t)}, slast)) * P.vs.z;`, ...R.map((r) => `var c_${t}_${r} = vec4<f32>(0.0);`)]),
    DP_STEP: [
      ...T.map((t) => `let vd_${t} = row4_v(vr_${t}, P.vs.w, d4 * 4u, ev);`),
      ...R.flatMap((r) => [`let g_${r} = g_tile[${r}u * EV4B + d4];`, ...T.map((t) => `c_${t}_${r} += g_${r} * vd_${t};`)]),
    ],
    S_STORE: T.flatMap((t) =>
      R.map(
        (r) => `s_tile[${r}u * BK + lid + ${t * LANES}u] = bwd_score(${hsum(`a_${t}_${r}`)}, ${key(t)}, kv_end, b, h, q0 + ${r}u, flag);`,
      ),
    ),
    DS_STORE: T.flatMap((t) =>
      R.map(
        (r) =>
          `{\n  let raw = ${hsum(`a_${t}_${r}`)};\n  let s = bwd_score(raw, ${key(t)}, kv_end, b, h, q0 + ${r}u, flag);\n  s_tile[${r}u * BK + lid + ${t * LANES}u] = bwd_ds(raw, s, row_lse[${r}], row_delta[${r}], ${hsum(`c_${t}_${r}`)}, b, h, q0 + ${r}u, ${key(t)});\n}`,
      ),
    ),
    PDS_STORE: T.flatMap((t) =>
      R.map(
        (r) =>
          `{\n  let raw = ${hsum(`a_${t}_${r}`)};\n  let p = bwd_p(bwd_score(raw, ${key(t)}, kv_end, b, h, q0 + ${r}u, flag), row_lse[${r}]);\n  p_tile[${r}u * BK + lid + ${t * LANES}u] = p;\n  s_tile[${r}u * BK + lid + ${t * LANES}u] = bwd_ds(p, raw, row_delta[${r}], ${hsum(`c_${t}_${r}`)}, b, h, q0 + ${r}u, ${key(t)});\n}`,
      ),
    ),
    DQ_DECL: R.flatMap((r) => C.map((c) => `var dq_${r}_${c} = vec4<f32>(0.0);`)),
    DQ_STEP: [
      ...C.map((c) => `let kc_${c} = row4_k(kr, P.ks.w, min(lid + ${c * LANES}u, e4 - 1u) * 4u, e);`),
      ...R.flatMap((r) => [
        `let ds_${r} = s_tile[${r}u * BK + j];`,
        ...C.map((c) => `dq_${r}_${c} += select(vec4<f32>(0.0), ds_${r} * kc_${c}, nz(ds_${r}));`),
      ]),
    ],
    DQ_STAGE: R.flatMap((r) => C.map((c) => `q_tile[${r}u * E4B + min(lid + ${c * LANES}u, E4B - 1u)] = dq_${r}_${c};`)),
    DKV_DECL: K.flatMap((k) => [
      ...C.map((c) => `var dk_${k}_${c} = vec4<f32>(0.0);`),
      ...CV.map((c) => `var dv_${k}_${c} = vec4<f32>(0.0);`),
    ]),
    DKV_STEP: [
      ...C.map((c) => `let qc_${c} = q_tile[r * E4B + min(lid + ${c * LANES}u, E4B - 1u)];`),
      ...CV.map((c) => `let gc_${c} = g_tile[r * EV4B + min(lid + ${c * LANES}u, EV4B - 1u)];`),
      ...K.flatMap((k) => [
        `let p_${k} = p_tile[r * BK + ${k}u];`,
        `let s_${k} = s_tile[r * BK + ${k}u];`,
        ...CV.map((c) => `dv_${k}_${c} += select(vec4<f32>(0.0), p_${k} * gc_${c}, nz(p_${k}));`),
        ...C.map((c) => `dk_${k}_${c} += select(vec4<f32>(0.0), s_${k} * qc_${c}, nz(s_${k}));`),
      ]),
    ],
    DK_STAGE: K.flatMap((k) => C.map((c) => `q_tile[${k}u * E4B + min(lid + ${c * LANES}u, E4B - 1u)] = dk_${k}_${c};`)),
    DV_STAGE: K.flatMap((k) => CV.map((c) => `g_tile[${k}u * EV4B + min(lid + ${c * LANES}u, EV4B - 1u)] = dv_${k}_${c};`)),
  };
  return src.replace(/^( *)\/\/@(\w+)$/gm, (_m, ind: string, name: string) =>
    fill[name]
      .flatMap((l) => l.split('\n'))
      .map((l) => ind + l)
      .join('\n'),
  );
}

function extraBindings(spec: AttentionBackwardSpec, kind: 'dq' | 'dkdv'): string {
  const n = 2 + attentionInputs(spec).length;
  const decl = (i: number, name: string, access: 'read' | 'read_write', type: string) =>
    `@group(0) @binding(${n + i}) var<storage, ${access}> ${name}: ${type};`;
  if (kind === 'dq')
    return [
      decl(0, 'in_o', 'read', 'array<f32>'),
      decl(1, 'in_do', 'read', 'array<f32>'),
      decl(2, 'stats', 'read_write', 'array<f32>'),
    ].join('\n');
  return [
    decl(0, 'in_do', 'read', 'array<f32>'),
    decl(1, 'stats', 'read', 'array<f32>'),
    decl(2, 'dv_out', 'read_write', 'array<u32>'),
  ].join('\n');
}

/** d(score_fn)/d(raw score) for the flex score modification: its derivative tree as WGSL. */
function scoreGradFn(spec: AttentionBackwardSpec): string {
  const capName = (name: string) => `cap${spec.captures.findIndex((c) => c.name === name)}`;
  const body = spec.scoreModGrad ? exprWgsl(spec.scoreModGrad, capName) : '1.0';
  return `fn score_grad(score: f32, b: u32, h: u32, q_idx: u32, kv_idx: u32) -> f32 {\n  return ${body};\n}`;
}

/** x != 0 through the bits: true for NaN too (a compiler may fold a float comparison with NaN). */
const NZ = 'fn nz(x: f32) -> bool {\n  return (bitcast<u32>(x) & 0x7fffffffu) != 0u;\n}';

function backwardSource(spec: AttentionBackwardSpec, kind: 'dq' | 'dkdv'): string {
  const consts = [
    `const LANES: u32 = ${LANES}u;`,
    `const BQ: u32 = ${BQ}u;`,
    `const KPL: u32 = ${KPL}u;`,
    `const E4B: u32 = ${vec4Bucket(Math.ceil(spec.e / 4))}u;`,
    `const EV4B: u32 = ${vec4Bucket(Math.ceil(spec.ev / 4))}u;`,
    `const HAS_GRAD: bool = ${!!spec.scoreModGrad};`,
  ].join('\n');
  return [
    attentionCommon(spec),
    extraBindings(spec, kind),
    consts,
    scoreGradFn(spec),
    NZ,
    kernelSource('attention/backward_common.wgsl'),
    unroll(kernelSource(`attention/backward_${kind}.wgsl`), spec.e, spec.ev),
  ].join('\n');
}

const backwardKey = (spec: AttentionBackwardSpec, kind: string) =>
  `attention-backward-${kind}|${vec4Bucket(Math.ceil(spec.e / 4))}/${vec4Bucket(Math.ceil(spec.ev / 4))}/${columnGroups(spec.e)}/${columnGroups(spec.ev)}|${attentionSourceKey(spec)}|${spec.scoreModGrad ? JSON.stringify(spec.scoreModGrad) : ''}`;

function inputStorages(spec: AttentionBackwardSpec): Storage[] {
  return [
    spec.q.storage,
    spec.k.storage,
    spec.v.storage,
    ...(spec.mask ? [spec.mask.operand.storage] : []),
    ...(spec.blockMask ? [spec.blockMask.flags.storage] : []),
    ...spec.captures.map((c) => c.storage),
  ];
}

export function webgpuAttentionBackward(host: GpuHost, spec: AttentionBackwardSpec): AttentionGrads {
  const op = spec.op ?? 'attention';
  const { batch: B, heads: H, kvHeads: Hkv, l: L, s: S, e: E, ev: Ev } = spec;
  const rows = B * H * L;
  const keys = B * Hkv * S;
  const inputs = inputStorages(spec);
  const dqProgram = {
    name: op,
    key: backwardKey(spec, 'dq'),
    layout: bufferLayout(inputs.length + 2, 1),
    source: () => backwardSource(spec, 'dq'),
  };
  const dkdvProgram = {
    name: op,
    key: backwardKey(spec, 'dkdv'),
    layout: bufferLayout(inputs.length + 2, 1),
    source: () => backwardSource(spec, 'dkdv'),
  };
  // Both pipelines before anything is allocated (a compile error leaves nothing behind).
  host.pipelines.program(dqProgram);
  host.pipelines.program(dkdvProgram);
  const made: Storage[] = [];
  const alloc = (n: number) => {
    const st = host.alloc('float32', n, op);
    made.push(st);
    return st;
  };
  try {
    const dq = alloc(rows * E);
    const dk = alloc(keys * E);
    const dv = alloc(keys * Ev);
    const stats = alloc(rows * 2);
    const qTiles = Math.ceil(L / BQ);
    const kTiles = Math.ceil(S / BK);
    const dqGroups = B * H * qTiles;
    const dkGroups = B * Hkv * kTiles;
    host.run({
      ...dqProgram,
      uniforms: attentionUniforms(spec, { qTiles, groups: dqGroups, splits: 1 }),
      bindings: [bind(dq), ...inputs.map(bind), bind(spec.out), bind(spec.dOut), bind(stats)],
      groups: dqGroups,
    });
    host.run({
      ...dkdvProgram,
      uniforms: attentionUniforms(spec, { qTiles: kTiles, groups: dkGroups, splits: 1 }),
      bindings: [bind(dk), ...inputs.map(bind), bind(spec.dOut), bind(stats), bind(dv)],
      groups: dkGroups,
    });
    host.release(stats); // later users of the block run after these dispatches (in-order queue)
    return { dq, dk, dv };
  } catch (e) {
    for (const st of made) host.release(st);
    throw e;
  }
}
