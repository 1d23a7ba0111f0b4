import type { Storage } from '../backend.js';
import type { AttentionSpec } from '../../ops/attention/spec.js';
import type { GpuStorage } from './allocator.js';
import type { CompiledKernel, PipelineCache } from './pipelines.js';
import type { CommandQueue } from './queue.js';
import { gemmAdapterInfo, type GemmAdapterInfo } from './gemm_config.js';
import { chooseAttentionConfig, attentionConfigKey, type AttentionConfig } from './attention_config.js';
import { attentionInputs, attentionSourceKey, attentionUniforms, decodeSource, prefillSource, reduceSource } from './attention_codegen.js';

/**
 * The xpu attention primitive: picks a config (attention_config.ts), specialises the kernels of
 * kernels/attention/ (attention_codegen.ts) and records one dispatch (prefill) or two (split-K
 * decode, then the merge). Memory beside the output: nothing for prefill; rows x splits x
 * (Ev + 2) floats of partials for decode.
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

/** The config this problem runs with on this backend (also what the benchmark reports). */
export function attentionConfigFor(host: AttentionHost, spec: AttentionSpec): AttentionConfig {
  let adapter = adapters.get(host);
  if (!adapter) adapters.set(host, (adapter = gemmAdapterInfo(host.device)));
  return chooseAttentionConfig({
    l: spec.l, s: spec.s, e: spec.e, ev: spec.ev, rows: spec.batch * spec.heads * spec.l,
    subgroups: adapter.features.has('subgroups') && adapter.subgroupMinSize !== undefined, blockSize: spec.blockMask?.blockSize,
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
  if (c.path === 'prefill') {
    const qTiles = Math.ceil(spec.l / c.bq);
    const groups = qTiles * spec.batch * spec.heads;
    const k = kernel(host, `prefill|${attentionConfigKey(c)}|${srcKey}`, reads, () => prefillSource(spec, c));
    host.queue.dispatch('attention', k.pipeline, k.layout, attentionUniforms(spec, { qTiles, groups, splits: 1, bk: c.bk }), [bind(out), ...inputs.map(bind)], groups);
    return out;
  }
  const splits = Math.ceil(spec.s / c.chunk);
  const groups = rows * splits;
  const minSubgroup = adapters.get(host)?.subgroupMinSize ?? 4;
  const partials = host.alloc('float32', groups * (spec.ev + 2), 'attention');
  const dk = kernel(host, `decode|${attentionConfigKey(c)}|${srcKey}`, reads, () => decodeSource(spec, c, minSubgroup));
  host.queue.dispatch('attention_decode', dk.pipeline, dk.layout, attentionUniforms(spec, { qTiles: 1, groups, splits }), [bind(partials), ...inputs.map(bind)], groups);
  const rk = kernel(host, `decode_reduce|${spec.ev}`, 1, () => reduceSource(spec.ev, REDUCE_WG));
  host.queue.dispatch('attention_reduce', rk.pipeline, rk.layout, attentionUniforms(spec, { qTiles: 1, groups: rows, splits }), [bind(out), bind(partials)], rows);
  host.release(partials); // later users of the block run after these dispatches (in-order queue)
  return out;
}
