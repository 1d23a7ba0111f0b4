import type { Storage } from '../backend.js';
import type { AttentionBackwardSpec, AttentionGrads } from '../attention_spec.js';
import { exprWgsl } from '../../flex/wgsl.js';
import type { GpuHost } from './host.js';
import { bind, bufferLayout } from './program.js';
import { kernelSource } from './pipelines.js';
import { attentionCommon, attentionInputs, attentionSourceKey, attentionUniforms, vec4Bucket } from './attention_codegen.js';

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

const WG = 64;

function extraBindings(spec: AttentionBackwardSpec, kind: 'dq' | 'dkdv'): string {
  const n = 2 + attentionInputs(spec).length;
  const decl = (i: number, name: string, access: 'read' | 'read_write', type: string) => `@group(0) @binding(${n + i}) var<storage, ${access}> ${name}: ${type};`;
  if (kind === 'dq') return [decl(0, 'in_o', 'read', 'array<f32>'), decl(1, 'in_do', 'read', 'array<f32>'), decl(2, 'stats', 'read_write', 'array<f32>')].join('\n');
  return [decl(0, 'in_do', 'read', 'array<f32>'), decl(1, 'stats', 'read', 'array<f32>'), decl(2, 'dv_out', 'read_write', 'array<u32>')].join('\n');
}

/** d(score_fn)/d(raw score) for the flex score modification: its derivative tree as WGSL. */
function scoreGradFn(spec: AttentionBackwardSpec): string {
  const capName = (name: string) => `cap${spec.captures.findIndex((c) => c.name === name)}`;
  const body = spec.scoreModGrad ? exprWgsl(spec.scoreModGrad, capName) : '1.0';
  return `fn score_grad(score: f32, b: u32, h: u32, q_idx: u32, kv_idx: u32) -> f32 {\n  return ${body};\n}`;
}

function backwardSource(spec: AttentionBackwardSpec, kind: 'dq' | 'dkdv'): string {
  const consts = [`const WG: u32 = ${WG}u;`, `const E4B: u32 = ${vec4Bucket(Math.ceil(spec.e / 4))}u;`, `const EV4B: u32 = ${vec4Bucket(Math.ceil(spec.ev / 4))}u;`,
    `const HAS_GRAD: bool = ${!!spec.scoreModGrad};`].join('\n');
  return [attentionCommon(spec), extraBindings(spec, kind), consts, scoreGradFn(spec), kernelSource(`attention/backward_${kind}.wgsl`)].join('\n');
}

const backwardKey = (spec: AttentionBackwardSpec, kind: string) =>
  `attention-backward-${kind}|${vec4Bucket(Math.ceil(spec.e / 4))}/${vec4Bucket(Math.ceil(spec.ev / 4))}|${attentionSourceKey(spec)}|${spec.scoreModGrad ? JSON.stringify(spec.scoreModGrad) : ''}`;

function inputStorages(spec: AttentionBackwardSpec): Storage[] {
  return [spec.q.storage, spec.k.storage, spec.v.storage,
    ...(spec.mask ? [spec.mask.operand.storage] : []),
    ...(spec.blockMask ? [spec.blockMask.flags.storage] : []),
    ...spec.captures.map((c) => c.storage)];
}

export function webgpuAttentionBackward(host: GpuHost, spec: AttentionBackwardSpec): AttentionGrads {
  const op = spec.op ?? 'attention';
  const { batch: B, heads: H, kvHeads: Hkv, l: L, s: S, e: E, ev: Ev } = spec;
  const rows = B * H * L;
  const keys = B * Hkv * S;
  const inputs = inputStorages(spec);
  const dqProgram = { name: op, key: backwardKey(spec, 'dq'), layout: bufferLayout(inputs.length + 2, 1), source: () => backwardSource(spec, 'dq') };
  const dkdvProgram = { name: op, key: backwardKey(spec, 'dkdv'), layout: bufferLayout(inputs.length + 2, 1), source: () => backwardSource(spec, 'dkdv') };
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
    const dqGroups = Math.ceil(rows / WG);
    const dkGroups = Math.ceil(keys / WG);
    host.run({ ...dqProgram, uniforms: attentionUniforms(spec, { qTiles: 1, groups: rows, splits: 1 }), bindings: [bind(dq), ...inputs.map(bind), bind(spec.out), bind(spec.dOut), bind(stats)], groups: dqGroups });
    host.run({ ...dkdvProgram, uniforms: attentionUniforms(spec, { qTiles: 1, groups: keys, splits: 1 }), bindings: [bind(dk), ...inputs.map(bind), bind(spec.dOut), bind(stats), bind(dv)], groups: dkGroups });
    host.release(stats); // later users of the block run after these dispatches (in-order queue)
    return { dq, dk, dv };
  } catch (e) {
    for (const st of made) host.release(st);
    throw e;
  }
}
