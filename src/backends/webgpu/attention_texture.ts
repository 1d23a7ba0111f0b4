import type { Storage } from '../backend.js';
import type { AttentionSpec } from '../../ops/attention/spec.js';
import type { GpuStorage } from './allocator.js';
import { UniformWriter } from './codegen.js';
import type { CommandQueue } from './queue.js';
import { createPipeline } from './pipelines.js';
import { kernelFits, type LaunchLimits } from './limits.js';
import type { AttentionConfig } from './attention_config.js';
import { attentionInputs, attentionSourceKey, attentionUniforms, texturePackSource, texturePrefillSource, textureColumns, type TextureTiles } from './attention_codegen.js';

/**
 * The texture prefill (AttentionConfig path 'texture', kernels/attention/flash_prefill_tex.wgsl):
 * q (pre-scaled), k (transposed) and v are packed by kernels/attention/pack.wgsl into zero-padded
 * rgba32float 2-D array textures, one layer per batch x head (O((L + S) E) work against the
 * kernel's O(L S E)), then one dispatch of one subgroup per (batch, head, BQ queries).
 *
 *   qT: [B H layers][qTiles BQ rows][ceil(E / 4) texels]       q[b, h, i, 4x..] * scale
 *   kT: [B Hkv layers][4 ceil(E / 4) rows][Spad / 4 texels]     k[b, hk, 4x.., y] (4 keys a texel)
 *   vT: [B Hkv layers][Spad rows][SG CG texels]                 v[b, hk, y, 4x..]
 *
 * (Spad: S rounded up to the key tile.) Textures come from a small pool keyed by size, reused by
 * later calls (WebGPU orders the next pack after this call's reads); evicting one first submits
 * the pending work that may use it.
 */

interface DeviceState {
  pool: Map<string, GPUTexture>;
  pipelines: Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>;
}
const states = new WeakMap<GPUDevice, DeviceState>();
const POOL_SIZE = 6;

function stateOf(device: GPUDevice): DeviceState {
  let s = states.get(device);
  if (!s) states.set(device, (s = { pool: new Map(), pipelines: new Map() }));
  return s;
}

function texture(device: GPUDevice, queue: CommandQueue, key: string, w: number, h: number, layers: number): GPUTexture {
  const s = stateOf(device);
  const full = `${key}:${w}x${h}x${layers}`;
  let t = s.pool.get(full);
  if (t) {
    s.pool.delete(full);
    s.pool.set(full, t);
    return t;
  }
  if (s.pool.size >= POOL_SIZE) {
    queue.flush(); // recorded commands may still use the evicted texture
    const [oldKey, old] = s.pool.entries().next().value as [string, GPUTexture];
    s.pool.delete(oldKey);
    old.destroy();
  }
  t = device.createTexture({ size: [w, h, layers], format: 'rgba32float', usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING, label: `attention-${full}` });
  s.pool.set(full, t);
  return t;
}

const C = () => GPUShaderStage.COMPUTE;

function pipelineFor(device: GPUDevice, op: string, key: string, code: () => string, entries: GPUBindGroupLayoutEntry[]): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
  const s = stateOf(device);
  let k = s.pipelines.get(key);
  if (!k) {
    const layout = device.createBindGroupLayout({ entries });
    const pipeline = createPipeline(device, op, code(), layout);
    s.pipelines.set(key, (k = { pipeline, layout }));
  }
  return k;
}

const bind = (st: Storage) => ({ buffer: (st as GpuStorage).buffer, size: Math.max(4, Math.ceil((st as GpuStorage).byteLength / 4) * 4) });
/** A 2-D array view, bound with its texture (queue.ts follows a failed write through it). */
const arrayView = (t: GPUTexture) => ({ view: t.createView({ dimension: '2d-array' }), texture: t });

interface PackOp {
  storage: Storage;
  dtype: string;
  offset: number;
  /** Element strides: batch, head, texture row, texture column. */
  sb: number;
  sh: number;
  sr: number;
  sc: number;
}

function pack(device: GPUDevice, queue: CommandQueue, name: string, op: PackOp, rows: number, cols: number, texels: number, height: number, layers: number, hn: number, mul: number, tex: GPUTexture): void {
  const k = pipelineFor(device, name, `pack|${op.dtype}`, () => texturePackSource(op.dtype as 'float32'), [
    { binding: 0, visibility: C(), buffer: { type: 'uniform' } },
    { binding: 1, visibility: C(), storageTexture: { access: 'write-only', format: 'rgba32float', viewDimension: '2d-array' } },
    { binding: 2, visibility: C(), buffer: { type: 'read-only-storage' } },
  ]);
  const u = new UniformWriter().u32(rows, cols, texels, height, layers, hn).i32(op.offset, op.sb, op.sh, op.sr, op.sc).f32(mul).finish();
  queue.dispatch(name, k.pipeline, k.layout, u, [arrayView(tex), bind(op.storage)], Math.ceil((texels * height * layers) / 64));
}

/** Texture sizes of a problem under a config with SG lanes (also the fit check). */
export function textureSizes(p: { l: number; s: number; e: number; ev: number }, c: Pick<AttentionConfig, 'bq' | 'bk'>, sg: number): { lPad: number; sPad: number; e4: number; cg: number } {
  return { lPad: Math.ceil(p.l / c.bq) * c.bq, sPad: Math.ceil(p.s / c.bk) * c.bk, e4: Math.ceil(p.e / 4), cg: textureColumns(p.ev, sg) };
}

const tilesOf = (spec: AttentionSpec, c: AttentionConfig, sg: number): TextureTiles => ({ sg, bq: c.bq, t: c.bk / (4 * sg), cg: textureSizes(spec, c, sg).cg });
const fits = new WeakMap<GPUDevice, Map<string, boolean>>();

/** Whether the texture prefill's kernel for this problem and config fits the adapter's limits. */
export function texturePrefillFits(device: GPUDevice, spec: AttentionSpec, c: AttentionConfig, sg: number): boolean {
  const tiles = tilesOf(spec, c, sg);
  const key = `${sg}x${c.bq}x${c.bk}x${tiles.cg}|${attentionSourceKey(spec)}`;
  let m = fits.get(device);
  if (!m) fits.set(device, (m = new Map()));
  let ok = m.get(key);
  if (ok === undefined) m.set(key, (ok = kernelFits(texturePrefillSource(spec, tiles), device.limits as unknown as LaunchLimits)));
  return ok;
}

/** Runs the texture prefill into `out` (B H L Ev floats). The config was validated for the problem. */
export function texturePrefill(device: GPUDevice, queue: CommandQueue, spec: AttentionSpec, c: AttentionConfig, sg: number, out: GpuStorage, inputs: Storage[]): void {
  const op = spec.op ?? 'attention';
  const { lPad, sPad, e4 } = textureSizes(spec, c, sg);
  const tiles = tilesOf(spec, c, sg);
  const cg = tiles.cg;
  const qLayers = spec.batch * spec.heads;
  const kvLayers = spec.batch * spec.kvHeads;
  const qT = texture(device, queue, 'q', e4, lPad, qLayers);
  const kT = texture(device, queue, 'k', sPad / 4, 4 * e4, kvLayers);
  const vT = texture(device, queue, 'v', sg * cg, sPad, kvLayers);
  const [qs, ks, vs] = [spec.q.strides, spec.k.strides, spec.v.strides];
  pack(device, queue, op, { storage: spec.q.storage, dtype: spec.q.dtype, offset: spec.q.offset, sb: qs[0], sh: qs[1], sr: qs[2], sc: qs[3] }, spec.l, spec.e, e4, lPad, qLayers, spec.heads, spec.scale, qT);
  pack(device, queue, op, { storage: spec.k.storage, dtype: spec.k.dtype, offset: spec.k.offset, sb: ks[0], sh: ks[1], sr: ks[3], sc: ks[2] }, spec.e, spec.s, sPad / 4, 4 * e4, kvLayers, spec.kvHeads, 1, kT);
  pack(device, queue, op, { storage: spec.v.storage, dtype: spec.v.dtype, offset: spec.v.offset, sb: vs[0], sh: vs[1], sr: vs[2], sc: vs[3] }, spec.s, spec.ev, sg * cg, sPad, kvLayers, spec.kvHeads, 1, vT);
  const extra = inputs.slice(3);
  const entries: GPUBindGroupLayoutEntry[] = [
    { binding: 0, visibility: C(), buffer: { type: 'uniform' } },
    { binding: 1, visibility: C(), buffer: { type: 'storage' } },
    ...[2, 3, 4].map((binding) => ({ binding, visibility: C(), texture: { sampleType: 'unfilterable-float' as const, viewDimension: '2d-array' as const } })),
    ...extra.map((_, i) => ({ binding: 5 + i, visibility: C(), buffer: { type: 'read-only-storage' as const } })),
  ];
  if (attentionInputs(spec).length !== inputs.length) throw new Error('attention: texture prefill inputs out of step');
  const key = `tex|${sg}x${c.bq}x${c.bk}x${cg}|${attentionSourceKey(spec)}`;
  const k = pipelineFor(device, op, key, () => texturePrefillSource(spec, tiles), entries);
  const qTiles = lPad / c.bq;
  const groups = qTiles * qLayers;
  queue.dispatch(op, k.pipeline, k.layout, attentionUniforms(spec, { qTiles, groups, splits: 1, bk: c.bk }), [bind(out), arrayView(qT), arrayView(kT), arrayView(vT), ...extra.map(bind)], groups);
}
