import type { Storage } from '../backend.js';
import type { AttentionSpec } from '../attention_spec.js';
import type { AdapterInfo } from './adapter.js';
import type { GpuHost } from './host.js';
import { bind, bufferLayout } from './program.js';
import { chooseAttentionConfig, DECODE_ROWS, type AttentionConfig } from './attention_config.js';
import { texturePrefill, texturePrefillFits } from './attention_texture.js';
import {
  attentionInputs,
  attentionSourceKey,
  attentionUniforms,
  decodeSource,
  prefillBucketKey,
  prefillSource,
  reduceSource,
} from './attention_codegen.js';
import { checkKernel, kernelDemands, type LaunchLimits } from './limits.js';

/**
 * The xpu attention primitive: picks a config (attention_config.ts), specialises the kernels of
 * kernels/attention/ (attention_codegen.ts) and records one dispatch (prefill) or two (split-K
 * decode, then the merge). Memory beside the output: nothing for prefill; rows x splits x
 * (Ev + 2) floats of partials for decode. Decode runs one workgroup per (batch, KV head, block
 * of DECODE_ROWS query rows of its GQA group, split), so K and V are read once per KV head.
 */

const REDUCE_WG = 64;

const prefillKey = (spec: AttentionSpec, c: AttentionConfig) =>
  `attention-prefill|${c.bq}x${c.bk}|${prefillBucketKey(spec)}|${attentionSourceKey(spec)}`;
const decodeKey = (spec: AttentionSpec, c: AttentionConfig) => `attention-decode|${c.wg}|${attentionSourceKey(spec)}`;
/** Whether the kernels of config `c` fit this adapter (workgroup memory above all: it grows with the head dim). */
function configFits(host: GpuHost, spec: AttentionSpec, c: AttentionConfig): boolean {
  if (c.path === 'texture') return texturePrefillFits(host, spec, c, fixedSubgroup(host.adapter) as number);
  if (c.path === 'prefill') return host.pipelines.fits(prefillKey(spec, c), () => prefillSource(spec, c));
  return (
    host.pipelines.fits(decodeKey(spec, c), () => decodeSource(spec, c)) && host.pipelines.fits(REDUCE_KEY, () => reduceSource(REDUCE_WG))
  );
}

const REDUCE_KEY = 'attention-decode-reduce';

/**
 * The chosen config if its kernels fit the adapter, else the first that does of: the prefill with
 * 4-row tiles (a quarter of the q tile in workgroup memory, the part that grows with the head
 * dim), with the smallest key tile, then split-K decoding (its workgroup memory does not depend
 * on the head dim; it runs any L, only slower for long ones). Throws XpuDeviceError, before
 * anything is allocated or recorded, when none fits.
 */
function fittingConfig(host: GpuHost, spec: AttentionSpec, op: string): AttentionConfig {
  const first = attentionConfigFor(host, spec);
  if (configFits(host, spec, first)) return first;
  const fallbacks: AttentionConfig[] = [
    { ...first, path: 'prefill' as const, bq: 4, bk: Math.min(first.bk, 32) },
    { ...first, path: 'prefill' as const, bq: 4, bk: 8 },
    { ...first, path: 'decode' as const, wg: 32, chunk: 64 },
  ].filter(
    (c) => !spec.blockMask || (spec.blockMask.blockSize % c.bq === 0 && spec.blockMask.blockSize % c.bk === 0) || c.path === 'decode',
  );
  for (const c of fallbacks) if (configFits(host, spec, c)) return c;
  // Nothing fits: the first config's own misfit is the error.
  const source = first.path === 'decode' ? decodeSource(spec, first) : prefillSource(spec, { ...first, path: 'prefill' });
  checkKernel(op, kernelDemands(source), host.device.limits as unknown as LaunchLimits);
  throw new Error(`${op}: no attention kernel fits this adapter`); // unreachable: checkKernel threw
}

function inputStorages(spec: AttentionSpec): Storage[] {
  return [
    spec.q.storage,
    spec.k.storage,
    spec.v.storage,
    ...(spec.mask ? [spec.mask.operand.storage] : []),
    ...(spec.blockMask ? [spec.blockMask.flags.storage] : []),
    ...spec.captures.map((c) => c.storage),
  ];
}

/** The subgroup size where the adapter fixes it (subgroupMinSize = subgroupMaxSize) and has `subgroups`. */
function fixedSubgroup(a: AdapterInfo): number | undefined {
  return a.features.has('subgroups') && a.subgroupMinSize !== undefined && a.subgroupMinSize === a.subgroupMaxSize
    ? a.subgroupMinSize
    : undefined;
}

/** The config this problem runs with on this backend (also what the benchmark reports). */
export function attentionConfigFor(host: Pick<GpuHost, 'adapter' | 'device'>, spec: AttentionSpec): AttentionConfig {
  const adapter = host.adapter;
  return chooseAttentionConfig(
    {
      l: spec.l,
      s: spec.s,
      e: spec.e,
      ev: spec.ev,
      rows: spec.batch * spec.heads * spec.l,
      subgroups: adapter.features.has('subgroups') && adapter.subgroupMinSize !== undefined,
      blockSize: spec.blockMask?.blockSize,
      kvHeads: spec.batch * spec.kvHeads,
      groupRows: (spec.heads / spec.kvHeads) * spec.l,
      causal: spec.causal,
      dtype: spec.q.dtype,
      fixedSubgroup: fixedSubgroup(adapter),
      kvLayers: spec.batch * spec.kvHeads,
      maxTexture: host.device.limits.maxTextureDimension2D,
      maxLayers: host.device.limits.maxTextureArrayLayers,
    },
    adapter,
  );
}

export function webgpuAttention(host: GpuHost, spec: AttentionSpec): Storage {
  const op = spec.op ?? 'attention';
  const rows = spec.batch * spec.heads * spec.l;
  if (rows * spec.ev === 0) return host.alloc('float32', 0, op);
  // Chosen (and checked against the adapter's limits) before anything is allocated or recorded.
  const c = fittingConfig(host, spec, op);
  const inputs = inputStorages(spec);
  const layout = bufferLayout(attentionInputs(spec).length);
  const out = host.alloc('float32', rows * spec.ev, op);
  try {
    if (c.path === 'texture') {
      texturePrefill(host, spec, c, fixedSubgroup(host.adapter) as number, out, inputs);
      return out;
    }
    if (c.path === 'prefill') {
      const qTiles = Math.ceil(spec.l / c.bq);
      const groups = qTiles * spec.batch * spec.heads;
      host.run({
        name: op,
        key: prefillKey(spec, c),
        layout,
        source: () => prefillSource(spec, c),
        uniforms: attentionUniforms(spec, { qTiles, groups, splits: 1, bk: c.bk }),
        bindings: [bind(out), ...inputs.map(bind)],
        groups,
      });
      return out;
    }
    const splits = Math.ceil(spec.s / c.chunk);
    const rowBlocks = Math.ceil(((spec.heads / spec.kvHeads) * spec.l) / DECODE_ROWS);
    const groups = spec.batch * spec.kvHeads * rowBlocks * splits;
    const decode = { name: op, key: decodeKey(spec, c), layout, source: () => decodeSource(spec, c) };
    const reduce = { name: op, key: REDUCE_KEY, layout: bufferLayout(1), source: () => reduceSource(REDUCE_WG) };
    // Both pipelines before the partials are allocated (a compile error leaves nothing behind).
    host.pipelines.program(decode);
    host.pipelines.program(reduce);
    const partials = host.alloc('float32', rows * splits * (spec.ev + 2), op);
    try {
      host.run({
        ...decode,
        uniforms: attentionUniforms(spec, { qTiles: rowBlocks, groups, splits, bk: c.chunk }),
        bindings: [bind(partials), ...inputs.map(bind)],
        groups,
      });
      host.run({
        ...reduce,
        uniforms: attentionUniforms(spec, { qTiles: 1, groups: rows, splits }),
        bindings: [bind(out), bind(partials)],
        groups: rows,
      });
    } finally {
      host.release(partials); // later users of the block run after these dispatches (in-order queue)
    }
    return out;
  } catch (e) {
    host.release(out); // a launch was refused (typed error): the output never reaches a tensor
    throw e;
  }
}
