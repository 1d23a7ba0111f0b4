import type { Storage } from '../backend.js';
import type { AttentionSpec } from '../../ops/attention/spec.js';
import type { GpuStorage } from './allocator.js';
import type { CompiledKernel, PipelineCache } from './pipelines.js';
import type { CommandQueue } from './queue.js';
import { gemmAdapterInfo, type GemmAdapterInfo } from './gemm_config.js';
import { chooseAttentionConfig, DECODE_ROWS, type AttentionConfig } from './attention_config.js';
import { texturePrefill } from './attention_texture.js';
import { attentionInputs, attentionSourceKey, attentionUniforms, decodeSource, prefillBucketKey, prefillSource, reduceSource } from './attention_codegen.js';

/**
 * The xpu attention primitive: picks a config (attention_config.ts), specialises the kernels of
 * kernels/attention/ (attention_codegen.ts) and records one dispatch (prefill) or two (split-K
 * decode, then the merge). Memory beside the output: nothing for prefill; rows x splits x
 * (Ev + 2) floats of partials for decode. Decode runs one workgroup per (batch, KV head, block
 * of DECODE_ROWS query rows of its GQA group, split), so K and V are read once per KV head.
 */

/** What the launcher needs from WebGPUBackend. */
export interface AttentionHost {
  readonly device: GPUDevice;
  readonly queue: CommandQueue;
  readonly pipelines: PipelineCache;
  alloc(dtype: 'float32', n: number, op: string): GpuStorage;
  release(storage: Storage): void;
}

const kernels = new WeakMap<AttentionHost, Map<string, CompiledKernel>>();
const adapters = new WeakMap<AttentionHost, GemmAdapterInfo>();
const REDUCE_WG = 64;

function kernel(host: AttentionHost, key: string, reads: number, source: () => string): CompiledKernel {
  let m = kernels.get(host);
  if (!m) kernels.set(host, (m = new Map()));
  let k = m.get(key);
  if (!k) {
    k = host.pipelines.get(source(), reads, {});
    m.set(key, k);
  }
  return k;
}

const bind = (st: Storage) => ({ buffer: (st as GpuStorage).buffer, size: Math.max(4, Math.ceil((st as GpuStorage).byteLength / 4) * 4) });

function inputStorages(spec: AttentionSpec): Storage[] {
  return [spec.q.storage, spec.k.storage, spec.v.storage,
    ...(spec.mask ? [spec.mask.operand.storage] : []),
    ...(spec.blockMask ? [spec.blockMask.flags.storage] : []),
    ...spec.captures.map((c) => c.storage)];
}

/** The subgroup size where the adapter fixes it (subgroupMinSize = subgroupMaxSize) and has `subgroups`. */
function fixedSubgroup(a: GemmAdapterInfo): number | undefined {
  return a.features.has('subgroups') && a.subgroupMinSize !== undefined && a.subgroupMinSize === a.subgroupMaxSize ? a.subgroupMinSize : undefined;
}

/** The config this problem runs with on this backend (also what the benchmark reports). */
export function attentionConfigFor(host: AttentionHost, spec: AttentionSpec): AttentionConfig {
  let adapter = adapters.get(host);
  if (!adapter) adapters.set(host, (adapter = gemmAdapterInfo(host.device)));
  return chooseAttentionConfig({
    l: spec.l, s: spec.s, e: spec.e, ev: spec.ev, rows: spec.batch * spec.heads * spec.l,
    subgroups: adapter.features.has('subgroups') && adapter.subgroupMinSize !== undefined, blockSize: spec.blockMask?.blockSize,
    kvHeads: spec.batch * spec.kvHeads, groupRows: (spec.heads / spec.kvHeads) * spec.l,
    causal: spec.causal, dtype: spec.q.dtype,
    fixedSubgroup: fixedSubgroup(adapter), kvLayers: spec.batch * spec.kvHeads,
    maxTexture: host.device.limits.maxTextureDimension2D, maxLayers: host.device.limits.maxTextureArrayLayers,
  }, adapter);
}

export function webgpuAttention(host: AttentionHost, spec: AttentionSpec): Storage {
  const rows = spec.batch * spec.heads * spec.l;
  const out = host.alloc('float32', rows * spec.ev, 'attention');
  if (rows * spec.ev === 0) return out;
  const c = attentionConfigFor(host, spec);
  const inputs = inputStorages(spec);
  const reads = attentionInputs(spec).length;
  const srcKey = attentionSourceKey(spec);
  if (c.path === 'texture') {
    texturePrefill(host.device, host.queue, spec, c, fixedSubgroup(adapters.get(host) as GemmAdapterInfo) as number, out, inputs);
    return out;
  }
  if (c.path === 'prefill') {
    const qTiles = Math.ceil(spec.l / c.bq);
    const groups = qTiles * spec.batch * spec.heads;
    const k = kernel(host, `prefill|${c.bq}x${c.bk}|${prefillBucketKey(spec)}|${srcKey}`, reads, () => prefillSource(spec, c));
    host.queue.dispatch('attention', k.pipeline, k.layout, attentionUniforms(spec, { qTiles, groups, splits: 1, bk: c.bk }), [bind(out), ...inputs.map(bind)], groups);
    return out;
  }
  const splits = Math.ceil(spec.s / c.chunk);
  const rowBlocks = Math.ceil(((spec.heads / spec.kvHeads) * spec.l) / DECODE_ROWS);
  const groups = spec.batch * spec.kvHeads * rowBlocks * splits;
  const partials = host.alloc('float32', rows * splits * (spec.ev + 2), 'attention');
  const dk = kernel(host, `decode|${c.wg}|${srcKey}`, reads, () => decodeSource(spec, c));
  host.queue.dispatch('attention_decode', dk.pipeline, dk.layout, attentionUniforms(spec, { qTiles: rowBlocks, groups, splits, bk: c.chunk }), [bind(partials), ...inputs.map(bind)], groups);
  const rk = kernel(host, 'decode_reduce', 1, () => reduceSource(REDUCE_WG));
  host.queue.dispatch('attention_reduce', rk.pipeline, rk.layout, attentionUniforms(spec, { qTiles: 1, groups: rows, splits }), [bind(out), bind(partials)], rows);
  host.release(partials); // later users of the block run after these dispatches (in-order queue)
  return out;
}
