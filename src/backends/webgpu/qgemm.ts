import type { QuantMatmulSpec, Storage } from '../backend.js';
import { COPY_KERNEL } from '../../ops/copy_kernel.js';
import type { GpuStorage } from './allocator.js';
import type { WebGPUBackend } from './backend.js';
import { UniformWriter } from './codegen.js';
import { dawnInstance } from './dawn.js';
import { gemvRows } from './gemm_codegen.js';
import { chooseGemmConfig, defaultTileConfig, gemmAdapterInfo, gemmConfigKey, GEMV_MAX_M, splitKConfig, type GemmAdapterInfo, type GemvConfig, type TileConfig } from './gemm_config.js';
import type { CompiledKernel } from './pipelines.js';
import { int8RowStride } from '../../quant/formats.js';
import { qgemmLayoutKey, qgemmReads, qgemmSource, type QGemmLayout } from './qgemm_codegen.js';

/**
 * Launches the quantized GEMM on xpu: the split-K GEMV (kernels/quant/qgemv*.wgsl) for M <= 8,
 * kernels/gemm.wgsl with the dequantizing prelude otherwise. Settings for experiments (bench):
 * XPU_QGEMM_PATH=gemv|tile forces a path, XPU_QGEMV_WG / XPU_QGEMV_COLS the GEMV's shape,
 * XPU_QUANT_DOT4=off the hand-unpacked fallback of dot4I8Packed / unpack4xI8.
 */

interface BackendState {
  adapter: GemmAdapterInfo;
  dot4: boolean;
  kernels: Map<string, CompiledKernel>;
}
const states = new WeakMap<WebGPUBackend, BackendState>();

function stateOf(backend: WebGPUBackend): BackendState {
  let s = states.get(backend);
  if (!s) {
    const features = dawnInstance()?.wgslLanguageFeatures;
    s = { adapter: gemmAdapterInfo(backend.device), dot4: features?.has('packed_4x8_integer_dot_product') ?? false, kernels: new Map() };
    states.set(backend, s);
  }
  return s;
}

/** Whether this device's WGSL has dot4I8Packed / unpack4xI8 (the w8a8 fast path). */
export function hasDot4(backend: WebGPUBackend): boolean {
  return stateOf(backend).dot4 && process.env.XPU_QUANT_DOT4 !== 'off';
}

const envInt = (name: string): number | undefined => {
  const v = process.env[name];
  return v ? Number(v) : undefined;
};

function chooseConfig(adapter: GemmAdapterInfo, m: number, n: number, k: number): TileConfig | GemvConfig {
  const forced = process.env.XPU_QGEMM_PATH;
  if ((m <= GEMV_MAX_M && forced !== 'tile') || forced === 'gemv') {
    // The dense GEMV's split-K shape (one subgroup per workgroup on lavapipe, 64 invocations on a
    // GPU), with more columns per workgroup: a packed word carries 4 or 8 weights, so the
    // activations loaded for a chunk are reused across 16 columns (measured on lavapipe, see
    // kernels/quant/qgemv.wgsl; 8 on GPUs, not measured yet).
    const base = splitKConfig(adapter);
    const cols = base.wg <= 16 ? 16 : 8;
    return { ...base, wg: envInt('XPU_QGEMV_WG') ?? base.wg, cols: envInt('XPU_QGEMV_COLS') ?? cols };
  }
  // The dequantizing mm_readB lives in the storage-buffer template: a texture-variant choice
  // (packed f32 operands) has no quantized form, so it maps to the best register tiles.
  const c = chooseGemmConfig(adapter, m, n, k, 'float32', { bAlongK: true });
  return c.path === 'tile' && c.variant !== 'texture' ? c : defaultTileConfig(adapter, m, 'register');
}

/**
 * Chunks of 32 k per GEMV step: up to 4 (128 k) for 1 or 2 rows (more rows would keep too many
 * activations in registers), never past a scale group, and a divisor of the row's chunk count.
 */
function gemvSub(format: 'int8' | 'int4', groupSize: number, k: number, m: number): number {
  const chunks = Math.ceil(int8RowStride(k) / 32);
  let sub = m <= 2 ? 4 : 1;
  if (format === 'int4') sub = Math.min(sub, groupSize / 32);
  while (chunks % sub !== 0) sub /= 2;
  return sub;
}

export function webgpuQuantMatmul(backend: WebGPUBackend, spec: QuantMatmulSpec): Storage {
  const { a, m, w, bias } = spec;
  const { n, k } = w;
  const st = stateOf(backend);
  const aIsInt8 = a.dtype === 'int8';
  const [sam, sak] = a.strides;
  const config = chooseConfig(st.adapter, m, n, k);
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
  const minSubgroup = st.adapter.subgroupMinSize ?? 4;
  const key = `${qgemmLayoutKey(layout)}|${gemmConfigKey(config)}|${config.path === 'gemv' ? gemvRows(m) : ''}`;
  let compiled = st.kernels.get(key);
  if (!compiled) {
    compiled = backend.pipelines.get(qgemmSource(layout, config, m, minSubgroup), qgemmReads(layout), {});
    st.kernels.set(key, compiled);
  }
  const tilesN = config.path === 'gemv' ? Math.ceil(n / config.cols) : Math.ceil(n / (config.wgX * config.tn));
  const tilesM = config.path === 'gemv' ? 1 : Math.ceil(m / (config.wgY * config.tm));
  const rowBytes = w.format === 'int4' ? k / 2 : int8RowStride(k); // a multiple of 16
  const kw = rowBytes / 4;
  const uniforms = new UniformWriter()
    .u32(m, n, k, 1, tilesN, tilesM, kw, w.format === 'int4' ? k / w.groupSize : 1)
    .i32(a.offset, sam, sak, bias?.offset ?? 0, bias?.strides[0] ?? 0, bias?.strides[1] ?? 0)
    .u32(int8RowStride(k) / 4, Math.ceil(k / 32))
    .finish();
  const out = backend.alloc(layout.out, m * n, 'linear');
  const inputs = [a.storage, w.q, w.scales, ...(w.zeros ? [w.zeros] : []), ...(spec.aScales ? [spec.aScales] : []), ...(bias ? [bias.storage] : [])];
  // Whole blocks: vector-typed bindings count in 8- or 16-byte elements.
  const whole = (s: Storage) => ({ buffer: (s as GpuStorage).buffer, size: (s as GpuStorage).size });
  backend.queue.dispatch(config.path === 'gemv' ? 'qgemv' : 'qgemm', compiled.pipeline, compiled.layout, uniforms, [whole(out), ...inputs.map(whole)], tilesN * tilesM);
  if (layout.out === spec.outDtype) return out;
  // float16 with an odd N: stored as float32 (a word would straddle two rows), cast by one map.
  const cast = backend.map({ kernel: COPY_KERNEL, inputs: [{ storage: out, dtype: 'float32', strides: [1], offset: 0 }], outShape: [m * n], outDtype: 'float16', argKind: 'f32' });
  backend.release(out);
  return cast;
}
