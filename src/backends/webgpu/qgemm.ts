import { settings } from '../../settings.js';
import type { QuantMatmulSpec, Storage } from '../backend.js';
import { COPY_KERNEL } from '../copy_kernel.js';
import { gemvRows } from './gemm_codegen.js';
import { gemmConfigFor, gemmConfigKey, type GemvConfig, type TileConfig } from './gemm_config.js';
import type { GpuHost } from './host.js';
import { bindWhole, bufferLayout } from './program.js';
import { int8RowStride } from '../../quant/formats.js';
import { ggufFormatInfo, isGgufWeightFormat } from '../../quant/gguf_formats.js';
import { ggufDequantMatmul } from './qgemm_gguf.js';
import { QGEMM_PARAMS, qgemmLayoutKey, qgemmReads, qgemmSource, type QGemmLayout } from './qgemm_codegen.js';

/**
 * Launches the quantized GEMM on xpu: the split-K GEMV (kernels/quant/qgemv*.wgsl) for M <= 8,
 * kernels/gemm.wgsl with the dequantizing prelude otherwise; the config comes from gemmConfigFor
 * (gemm_config.ts), like every GEMM's. Settings for experiments (bench): XPU_QGEMM_PATH=gemv|tile
 * forces a path, XPU_QGEMV_WG / XPU_QGEMV_COLS the GEMV's shape, XPU_QUANT_DOT4=off the
 * hand-unpacked fallback of dot4I8Packed / unpack4xI8.
 */

/** Whether this device's WGSL has dot4I8Packed / unpack4xI8 (the w8a8 fast path). */
export function hasDot4(host: Pick<GpuHost, 'adapter'>): boolean {
  return (host.adapter.dot4 ?? false) && settings.XPU_QUANT_DOT4 !== 'off';
}

/**
 * Chunks of 32 k per GEMV step: up to 4 (128 k) for 1 or 2 rows (more rows would keep too many
 * activations in registers), never past a scale group, and a divisor of the row's chunk count.
 */
function gemvSub(format: QGemmLayout['format'], groupSize: number, k: number, m: number): number {
  const chunks = Math.ceil(int8RowStride(k) / 32);
  let sub = m <= 2 ? 4 : 1;
  if (format === 'int4') sub = Math.min(sub, groupSize / 32);
  while (chunks % sub !== 0) sub /= 2;
  return sub;
}

export function webgpuQuantMatmul(backend: GpuHost, spec: QuantMatmulSpec): Storage {
  const { a, m, w, bias } = spec;
  const { n, k } = w;
  const adapter = backend.adapter;
  const aIsInt8 = a.dtype === 'int8';
  const [sam, sak] = a.strides;
  // A quantized weight never gets the naive kernel (gemmConfigFor).
  const config = gemmConfigFor(adapter, { m, n, k, dtype: 'float32', hints: { bAlongK: true }, quantized: true }) as
    TileConfig | GemvConfig;
  // GGUF blocks with many rows where the dense GEMM would use textures: decode once, dense GEMM.
  if (isGgufWeightFormat(w.format) && config.path === 'tile' && !aIsInt8) {
    const dense = gemmConfigFor(adapter, { m, n, k, dtype: 'float32', hints: { bAlongK: true } });
    if (dense.path === 'tile' && dense.variant === 'texture') return ggufDequantMatmul(backend, spec, w.format);
  }
  // The GEMV reads A in whole 32-k chunks: vector loads only where no chunk passes K.
  const kAlign = config.path === 'gemv' ? 32 : 4;
  const layout: QGemmLayout = {
    format: w.format,
    groupSize: w.format === 'int4' ? w.groupSize : 0,
    a: aIsInt8 ? 'int8' : (a.dtype as 'float32' | 'float16'),
    aVec: !aIsInt8 && sak === 1 && k % kAlign === 0 && a.offset % 4 === 0 && (m === 1 || sam % 4 === 0),
    scale: w.scaleDtype,
    out: spec.outDtype === 'float16' && n % 2 === 0 ? 'float16' : 'float32',
    outVec: n % 4 === 0,
    bias: bias?.dtype as 'float32' | 'float16' | undefined,
    dot4: hasDot4(backend),
    sub: gemvSub(w.format, w.groupSize, k, m),
  };
  const minSubgroup = adapter.subgroupMinSize ?? 4;
  const tilesN = config.path === 'gemv' ? Math.ceil(n / config.cols) : Math.ceil(n / (config.wgX * config.tn));
  const tilesM = config.path === 'gemv' ? 1 : Math.ceil(m / (config.wgY * config.tm));
  const gguf = isGgufWeightFormat(w.format) ? ggufFormatInfo(w.format) : undefined;
  // u32 words of a row's packed values: a multiple of 4 (rows start on 16 bytes) in every format.
  const kw = gguf ? (k / gguf.block) * gguf.qWords : (w.format === 'int4' ? k / 2 : int8RowStride(k)) / 4;
  const uniforms = QGEMM_PARAMS.write({
    m,
    n,
    k,
    batch: 1,
    tilesN,
    tilesM,
    kw,
    groups: w.format === 'int4' || gguf ? k / w.groupSize : 1,
    aoff: a.offset,
    sam,
    sak,
    biasoff: bias?.offset ?? 0,
    sbiasm: bias?.strides[0] ?? 0,
    sbiasn: bias?.strides[1] ?? 0,
    akw: int8RowStride(k) / 4,
    chunks: Math.ceil(k / 32),
  });
  const out = backend.alloc(layout.out, m * n, 'linear');
  const inputs = [
    a.storage,
    w.q,
    w.scales,
    ...(w.zeros ? [w.zeros] : []),
    ...(spec.aScales ? [spec.aScales] : []),
    ...(bias ? [bias.storage] : []),
  ];
  backend.run({
    name: config.path === 'gemv' ? 'qgemv' : 'qgemm',
    op: 'kernel',
    key: `qgemm|${qgemmLayoutKey(layout)}|${gemmConfigKey(config)}|${config.path === 'gemv' ? gemvRows(m) : ''}`,
    layout: bufferLayout(qgemmReads(layout)),
    source: () => qgemmSource(layout, config, m, minSubgroup),
    uniforms,
    bindings: [bindWhole(out), ...inputs.map(bindWhole)],
    groups: tilesN * tilesM,
  });
  if (layout.out === spec.outDtype) return out;
  // float16 with an odd N: stored as float32 (a word would straddle two rows), cast by one map.
  const cast = backend.map({
    kernel: COPY_KERNEL,
    inputs: [{ storage: out, dtype: 'float32', strides: [1], offset: 0 }],
    outShape: [m * n],
    outDtype: 'float16',
    argKind: 'f32',
  });
  backend.release(out);
  return cast;
}
