import type { QuantMatmulSpec, QuantWeight } from '../backend.js';
import { ACTIVATIONS } from '../activation.js';
import { castNumber, readHost, writeHost } from '../../tensor/dtype.js';
import { dequantizeGgufPlanes, isGgufWeightFormat } from '../../quant/gguf_formats.js';
import { nativeQuantMatmul } from './native_quant.js';
import { ggufQ8Products, ggufQ8Supported } from './qgemm_gguf_q8.js';
import { CpuStorage } from './storage.js';

/**
 * The CPU quantized GEMM (TypeScript; a native kernel may replace it behind this signature):
 * out[M, N] = a @ dequant(w)^T + bias, accumulated in float64. Weight-only: each weight row is
 * dequantized once into a float64 scratch row and dotted with every activation row. w8a8: a is
 * int8 [M, rowStride] with float32 scales per row; integer products are summed exactly (|sum| <
 * 2^53) and rescaled by aScales[m] * scales[n], as the GPU's int32 accumulation does.
 * Layouts: docs/quantization.md. The native kernels (native_quant.ts) take over when the addon
 * has them (XPU_CPU_QGEMM=ts keeps this one).
 */
export function cpuQuantMatmul(spec: QuantMatmulSpec): CpuStorage {
  return nativeQuantMatmul(spec) ?? tsQuantMatmul(spec);
}

/** The TypeScript kernel (float64 accumulation). */
export function tsQuantMatmul(spec: QuantMatmulSpec): CpuStorage {
  const { a, m, w, outDtype, bias } = spec;
  const { n, k } = w;
  const out = CpuStorage.alloc(outDtype, m * n, 'linear');
  const aData = (a.storage as CpuStorage).data;
  const [sam, sak] = a.strides;
  const rows = new Float64Array(m * k);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) rows[i * k + p] = readHost(aData, a.dtype, a.offset + i * sam + p * sak);
  const aScales = spec.aScales ? ((spec.aScales as CpuStorage).data as Float32Array) : undefined;
  const scales = (w.scales as CpuStorage).data;
  const biasData = bias ? (bias.storage as CpuStorage).data : undefined;
  // GGUF weights on cpu: the activation and residual fused by src/quant/linear.ts (the dense
  // GEMM's float64 epilogue functions).
  const act = spec.activation ? ACTIVATIONS[spec.activation].js : undefined;
  const res = spec.residual;
  const resData = res ? (res.storage as CpuStorage).data : undefined;
  const wrow = new Float64Array(k);
  const gguf = isGgufWeightFormat(w.format) ? w.format : undefined;
  const grow = gguf ? new Float32Array(k) : undefined;
  // llama.cpp's int8-activation arithmetic when the weight asks for it (qgemm_gguf_q8.ts).
  const q8 = gguf && w.q8Activations && ggufQ8Supported(gguf) ? ggufQ8Products(rows, m, k, w) : undefined;
  for (let j = 0; j < n; j++) {
    // int8 rows hold raw q (the row's scale is applied to the sum); int4 rows are dequantized;
    // GGUF rows are ggml's float32 values (the verified dequantizers).
    const colScale = w.format === 'int8' ? readHost(scales, w.scaleDtype as 'float32' | 'float16', j) : 1;
    if (w.format === 'int8') int8Row(w, j, wrow);
    else if (q8) wrow.fill(0);
    else if (gguf && grow) {
      dequantizeGgufPlanes(gguf, (w.q as CpuStorage).data as Uint32Array, scales as Uint16Array | Uint32Array, k, j, j + 1, grow);
      wrow.set(grow);
    } else int4Row(w, j, wrow);
    for (let i = 0; i < m; i++) {
      let acc = 0;
      const base = i * k;
      if (q8) acc = q8[i * n + j];
      else for (let p = 0; p < k; p++) acc += rows[base + p] * wrow[p];
      let v = acc * colScale * (aScales ? aScales[i] : 1);
      if (bias && biasData) v += readHost(biasData, bias.dtype, bias.offset + i * bias.strides[0] + j * bias.strides[1]);
      if (act) v = act(v);
      if (res && resData) v += readHost(resData, res.dtype, res.offset + i * res.strides[0] + j * res.strides[1]);
      writeHost(out.data, outDtype, i * n + j, castNumber(v, outDtype));
    }
  }
  return out;
}

/** Row j of an int8 weight: q as numbers (the scale is applied after the dot product). */
function int8Row(w: QuantWeight, j: number, dst: Float64Array): void {
  const q = (w.q as CpuStorage).data as Int8Array;
  const stride = Math.ceil(w.k / 32) * 32; // src/quant/formats.ts int8RowStride
  for (let p = 0; p < w.k; p++) dst[p] = q[j * stride + p];
}

/** Row j of an int4 weight, dequantized: (q - zero) * scale per group (src/quant/pack.ts layout). */
function int4Row(w: QuantWeight, j: number, dst: Float64Array): void {
  const words = (w.q as CpuStorage).data as Uint32Array;
  const scales = (w.scales as CpuStorage).data;
  const zeros = (w.zeros as CpuStorage).data as Uint8Array;
  const groups = w.k / w.groupSize;
  const wordsPerRow = w.k / 8;
  for (let g = 0; g < groups; g++) {
    const s = readHost(scales, w.scaleDtype as 'float32' | 'float16', j * groups + g);
    const z = zeros[j * groups + g];
    for (let wi = (g * w.groupSize) / 8; wi < ((g + 1) * w.groupSize) / 8; wi++) {
      const word = words[j * wordsPerRow + wi];
      for (let b = 0; b < 4; b++) {
        const byte = (word >>> (8 * b)) & 0xff;
        dst[8 * wi + b] = ((byte & 0xf) - z) * s;
        dst[8 * wi + 4 + b] = ((byte >>> 4) - z) * s;
      }
    }
  }
}
