import type { MatmulSpec, Storage } from '../backend.js';
import type { GpuStorage } from './allocator.js';
import { GEMM_PACK_PARAMS, gemmLayoutKey, gemmPackSource, gemmSource, type GemmLayout } from './gemm_codegen.js';
import { uniformStruct } from './uniforms.js';
import { gemmConfigKey, type GemmAdapterInfo, type TileConfig } from './gemm_config.js';
import { gemmTiles, gemmUniforms, type GemmProblem, type MatrixOperand } from './gemm_plan.js';
import type { GpuHost } from './host.js';
import { bindTexture, bindWhole } from './program.js';
import type { TextureFamily } from './textures.js';

/**
 * The texture variant of the GEMM (TileConfig variant 'texture'): A and B are packed by
 * kernels/gemm_pack.wgsl into rgba32float textures (A as [M, ceil(K/4)] texels, B as
 * [ceil(K/4)*4, ceil(N/4)] whichever way it is stored; both padded with zeros to whole tiles and
 * to a multiple of 4 in K), then kernels/gemm.wgsl
 * runs register tiles whose mm_readA / mm_readB hooks are texel fetches (gemm_codegen.ts).
 *
 * Why: on lavapipe (Mesa 25.0 gallivm), a storage-buffer load whose address differs between the
 * invocations of a SIMD row becomes a bounds-checked scalar load per lane and per component (~9
 * x86 instructions per float, measured in the generated code with GALLIVM_DEBUG=asm), which
 * bounds every storage-buffer GEMM there (the FMAs are < 10 % of the instructions). A texel fetch
 * is one 16-byte load per lane plus a transpose. Measured with bench/tools/gemm_probe.ts: 1.5-1.7x
 * the same register tiles on storage buffers, packing included (the packs read and write each
 * operand once: < 2 % of a 512^3 GEMM).
 *
 * Textures come from the backend's pool (textures.ts), keyed by (operand, size) and reused by
 * every GEMM of that size.
 */

const TEXTURES: TextureFamily = { name: 'gemm', capacity: 8 };

/** Texture rows of A per batch entry and texels of B per row: padded to whole tiles. */
function padded(p: GemmProblem, config: TileConfig): { rowsA: number; texelsB: number; k4: number } {
  const tiles = gemmTiles(config, p.m, p.n);
  return { rowsA: tiles.tilesM * config.wgY * config.tm, texelsB: (tiles.tilesN * config.wgX * config.tn) / 4, k4: Math.ceil(p.k / 4) };
}

const batchOf = (p: GemmProblem): number => p.batchShape.reduce((x, y) => x * y, 1);

/**
 * Whether the problem can be packed: at most one batch dim after merging (batch entries are
 * stacked in the textures), every texture within the size limit.
 */
export function texturePackable(p: GemmProblem, adapter: Pick<GemmAdapterInfo, 'maxTextureDimension2D'>, config: TileConfig): boolean {
  const lim = adapter.maxTextureDimension2D ?? 8192;
  if (p.batchShape.length > 1 || p.m < 1 || p.n < 1 || p.k < 1) return false;
  const { rowsA, texelsB, k4 } = padded(p, config);
  const nb = batchOf(p);
  return nb * rowsA <= lim && k4 <= lim && 4 * k4 <= lim && nb * texelsB <= lim;
}

/**
 * Packs the logical [rows, cols] matrix `op` (strides s0 along rows, s1 along cols; `entries`
 * batch entries apart by op.batch[0]) into `tex`: entry b fills texture rows [b*per, (b+1)*per)
 * and `texels` columns, or with `across` columns [b*texels, (b+1)*texels) and rows [0, per);
 * zeros past rows and cols.
 */
function pack(
  host: GpuHost,
  op: MatrixOperand,
  dtype: string,
  rows: number,
  cols: number,
  texels: number,
  per: number,
  entries: number,
  across: boolean,
  tex: GPUTexture,
): void {
  const height = across ? per : per * entries;
  host.run({
    name: 'gemm-pack',
    op: 'matmul',
    key: `gemm-pack|${dtype}`,
    layout: ['storage-texture', 'read'],
    source: () => gemmPackSource(dtype as 'float32'),
    uniforms: GEMM_PACK_PARAMS.write({
      rows,
      cols,
      texels,
      height,
      off: op.offset,
      srow: op.s0,
      scol: op.s1,
      per,
      sbatch: op.batch[0] ?? 0,
      entries,
      across: across ? 1 : 0,
    }),
    bindings: [bindTexture(tex), bindWhole(op.storage)],
    groups: Math.ceil((height * texels * (across ? entries : 1)) / 64),
  });
}

/**
 * Runs C = epilogue(A @ B) with the texture variant into `out` (allocated by the caller with the
 * layout's output dtype). The caller checked texturePackable.
 */
export function textureGemm(
  host: GpuHost,
  p: GemmProblem,
  spec: MatmulSpec,
  layout: GemmLayout,
  config: TileConfig,
  out: GpuStorage,
): void {
  const { rowsA, texelsB, k4 } = padded(p, config);
  const nb = batchOf(p);
  const tiles = gemmTiles(config, p.m, p.n);
  const texA = host.textures.get(TEXTURES, 'a', [k4, nb * rowsA]);
  const texB = host.textures.get(TEXTURES, 'b', [nb * texelsB, 4 * k4]);
  pack(host, p.a, spec.a.dtype, p.m, p.k, k4, rowsA, nb, false, texA);
  pack(host, p.b, spec.b.dtype, p.k, p.n, texelsB, 4 * k4, nb, true, texB);
  const extra: Storage[] = [];
  if (spec.epilogue?.bias) extra.push(spec.epilogue.bias.storage);
  if (spec.epilogue?.residual) extra.push(spec.epilogue.residual.storage);
  // The hooks read bt.a as the entry's texture-row offset, bt.b as its texel-column offset.
  const rowsOf = (o: MatrixOperand, per: number): MatrixOperand => ({ ...o, offset: 0, batch: nb > 1 ? [per] : [] });
  const q: GemmProblem = { ...p, a: rowsOf(p.a, rowsA), b: rowsOf(p.b, texelsB) };
  host.run({
    name: 'gemm',
    op: 'matmul',
    key: `gemm|${gemmLayoutKey(layout)}|${gemmConfigKey(config)}|`,
    layout: ['write', 'texture', 'texture', ...extra.map(() => 'read' as const)],
    source: () => gemmSource(layout, config, p.m),
    uniforms: gemmUniforms(q, spec, tiles),
    bindings: [bindWhole(out), bindTexture(texA), bindTexture(texB), ...extra.map(bindWhole)],
    groups: tiles.tilesN * tiles.tilesM * nb,
  });
}

/**
 * Split-K for a small output with a long K (TileConfig.splitK = S): the K range is cut into S
 * slices that run as S batch entries of one texture GEMM into f32 partials [S, M, N], then one
 * sum over S (sumSlices). Only for a plain f32 product (no epilogue, one batch entry,
 * K a multiple of 4 S); returns undefined otherwise, and the caller runs the GEMM unsplit.
 */
export function splitKProblem(
  p: GemmProblem,
  spec: MatmulSpec,
  config: TileConfig,
): { q: GemmProblem; qspec: MatmulSpec; slices: number } | undefined {
  const s = config.splitK ?? 1;
  if (s <= 1 || spec.epilogue || spec.outDtype !== 'float32' || p.batchShape.length || p.k % (4 * s) !== 0) return undefined;
  const kc = p.k / s;
  const q: GemmProblem = { ...p, k: kc, batchShape: [s], a: { ...p.a, batch: [kc * p.a.s1] }, b: { ...p.b, batch: [kc * p.b.s0] } };
  const qspec: MatmulSpec = { ...spec, k: kc, batchShape: [s] };
  return { q, qspec, slices: s };
}

/**
 * out[i] = sum over s of partials[s * mn + i]: the split-K reduction, one invocation per output
 * (the generic reduce kernel runs a workgroup per output: slow for a few slices on lavapipe).
 */
const SUM_PARAMS = uniformStruct('SumParams', { mn: 'u32', slices: 'u32', pad0: 'u32', pad1: 'u32' });

export function sumSlices(host: GpuHost, partials: GpuStorage, out: GpuStorage, slices: number, mn: number): void {
  const code = [
    SUM_PARAMS.wgsl,
    '@group(0) @binding(0) var<uniform> Q: SumParams;',
    '@group(0) @binding(1) var<storage, read_write> outS: array<f32>;',
    '@group(0) @binding(2) var<storage, read> parts: array<f32>;',
    '@compute @workgroup_size(64)',
    'fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {',
    '  let i = gid.x + gid.y * nwg.x * 64u;',
    '  if (i >= Q.mn) {',
    '    return;',
    '  }',
    '  var t = 0.0;',
    '  for (var s = 0u; s < Q.slices; s++) {',
    '    t += parts[s * Q.mn + i];',
    '  }',
    '  outS[i] = t;',
    '}',
  ].join('\n');
  host.run({
    name: 'gemm-splitk-sum',
    op: 'matmul',
    key: 'gemm-splitk-sum',
    layout: ['write', 'read'],
    source: () => code,
    uniforms: SUM_PARAMS.write({ mn, slices }),
    bindings: [bindWhole(out), bindWhole(partials)],
    groups: Math.ceil(mn / 64),
  });
}
