import type { Storage } from '../backend.js';
import type { AttentionSpec } from '../attention_spec.js';
import type { GpuStorage } from './allocator.js';
import type { GpuHost } from './host.js';
import { bind, bindTexture } from './program.js';
import type { TextureFamily } from './textures.js';
import type { AttentionConfig } from './attention_config.js';
import {
  ATTENTION_PACK_PARAMS,
  attentionInputs,
  attentionSourceKey,
  attentionUniforms,
  texturePackSource,
  texturePrefillSource,
  textureColumns,
  type TextureTiles,
} from './attention_codegen.js';

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
 * (Spad: S rounded up to the key tile.) Textures come from the backend's pool (textures.ts), keyed
 * by size and reused by later calls.
 */

const TEXTURES: TextureFamily = { name: 'attention', capacity: 6 };

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

function pack(
  host: GpuHost,
  name: string,
  op: PackOp,
  rows: number,
  cols: number,
  texels: number,
  height: number,
  layers: number,
  hn: number,
  mul: number,
  tex: GPUTexture,
): void {
  host.run({
    name,
    key: `attention-pack|${op.dtype}`,
    layout: ['storage-texture-array', 'read'],
    source: () => texturePackSource(op.dtype as 'float32'),
    uniforms: ATTENTION_PACK_PARAMS.write({
      rows,
      cols,
      texels,
      height,
      layers,
      hn,
      off: op.offset,
      sb: op.sb,
      sh: op.sh,
      sr: op.sr,
      sc: op.sc,
      mul,
    }),
    bindings: [bindTexture(tex, true), bind(op.storage)],
    groups: Math.ceil((texels * height * layers) / 64),
  });
}

/** Texture sizes of a problem under a config with SG lanes (also the fit check). */
export function textureSizes(
  p: { l: number; s: number; e: number; ev: number },
  c: Pick<AttentionConfig, 'bq' | 'bk'>,
  sg: number,
): { lPad: number; sPad: number; e4: number; cg: number } {
  return { lPad: Math.ceil(p.l / c.bq) * c.bq, sPad: Math.ceil(p.s / c.bk) * c.bk, e4: Math.ceil(p.e / 4), cg: textureColumns(p.ev, sg) };
}

const tilesOf = (spec: AttentionSpec, c: AttentionConfig, sg: number): TextureTiles => ({
  sg,
  bq: c.bq,
  t: c.bk / (4 * sg),
  cg: textureSizes(spec, c, sg).cg,
});
const texKey = (spec: AttentionSpec, c: AttentionConfig, tiles: TextureTiles): string =>
  `attention-tex|${tiles.sg}x${c.bq}x${c.bk}x${tiles.cg}|${attentionSourceKey(spec)}`;

/** Whether the texture prefill's kernel for this problem and config fits the adapter's limits. */
export function texturePrefillFits(host: GpuHost, spec: AttentionSpec, c: AttentionConfig, sg: number): boolean {
  const tiles = tilesOf(spec, c, sg);
  return host.pipelines.fits(texKey(spec, c, tiles), () => texturePrefillSource(spec, tiles));
}

/** Runs the texture prefill into `out` (B H L Ev floats). The config was validated for the problem. */
export function texturePrefill(
  host: GpuHost,
  spec: AttentionSpec,
  c: AttentionConfig,
  sg: number,
  out: GpuStorage,
  inputs: Storage[],
): void {
  const op = spec.op ?? 'attention';
  const { lPad, sPad, e4 } = textureSizes(spec, c, sg);
  const tiles = tilesOf(spec, c, sg);
  const cg = tiles.cg;
  const qLayers = spec.batch * spec.heads;
  const kvLayers = spec.batch * spec.kvHeads;
  const qT = host.textures.get(TEXTURES, 'q', [e4, lPad, qLayers]);
  const kT = host.textures.get(TEXTURES, 'k', [sPad / 4, 4 * e4, kvLayers]);
  const vT = host.textures.get(TEXTURES, 'v', [sg * cg, sPad, kvLayers]);
  const [qs, ks, vs] = [spec.q.strides, spec.k.strides, spec.v.strides];
  pack(
    host,
    op,
    { storage: spec.q.storage, dtype: spec.q.dtype, offset: spec.q.offset, sb: qs[0], sh: qs[1], sr: qs[2], sc: qs[3] },
    spec.l,
    spec.e,
    e4,
    lPad,
    qLayers,
    spec.heads,
    spec.scale,
    qT,
  );
  pack(
    host,
    op,
    { storage: spec.k.storage, dtype: spec.k.dtype, offset: spec.k.offset, sb: ks[0], sh: ks[1], sr: ks[3], sc: ks[2] },
    spec.e,
    spec.s,
    sPad / 4,
    4 * e4,
    kvLayers,
    spec.kvHeads,
    1,
    kT,
  );
  pack(
    host,
    op,
    { storage: spec.v.storage, dtype: spec.v.dtype, offset: spec.v.offset, sb: vs[0], sh: vs[1], sr: vs[2], sc: vs[3] },
    spec.s,
    spec.ev,
    sg * cg,
    sPad,
    kvLayers,
    spec.kvHeads,
    1,
    vT,
  );
  const extra = inputs.slice(3);
  if (attentionInputs(spec).length !== inputs.length) throw new Error('attention: texture prefill inputs out of step');
  const qTiles = lPad / c.bq;
  const groups = qTiles * qLayers;
  host.run({
    name: op,
    key: texKey(spec, c, tiles),
    layout: ['write', 'texture-array', 'texture-array', 'texture-array', ...extra.map(() => 'read' as const)],
    source: () => texturePrefillSource(spec, tiles),
    uniforms: attentionUniforms(spec, { qTiles, groups, splits: 1, bk: c.bk }),
    bindings: [bind(out), bindTexture(qT, true), bindTexture(kT, true), bindTexture(vT, true), ...extra.map(bind)],
    groups,
  });
}
