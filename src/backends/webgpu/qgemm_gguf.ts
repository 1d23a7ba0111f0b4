import type { QuantMatmulSpec, Storage } from '../backend.js';
import { ggufFormatInfo, type GgufWeightFormat } from '../../quant/gguf_formats.js';
import { kernelSource } from './pipelines.js';
import type { GpuHost } from './host.js';
import { bindWhole, bufferLayout } from './program.js';
import { QGEMM_PARAMS } from './qgemm_codegen.js';
import { ggufDequantSource } from './qgemm_gguf_codegen.js';

/**
 * Many rows (prefill) against a GGUF weight where the dense GEMM would take the texture variant
 * (lavapipe: texel fetches instead of per-lane storage-buffer loads, 3-4x the storage-buffer
 * tiles, gemm_texture.ts): the weight is decoded once per call into a float32 [N, K] buffer
 * (exactly ggml's values) and the dense GEMM runs on it, bias fused. The decode is O(N K)
 * against the GEMM's O(M N K) and its buffer (4 N K bytes) goes back to the cache at once. The
 * quantized tile template (dequantizing mm_readB) stays where no texture variant is chosen.
 */
export function ggufDequantMatmul(host: GpuHost, spec: QuantMatmulSpec, format: GgufWeightFormat): Storage {
  const { w } = spec;
  const { n, k } = w;
  const dense = decodeGguf(host, w.q, w.scales, format, n, k);
  try {
    return host.matmul({
      a: spec.a,
      // B = W^T: element (k, n) of [K, N] lies at n K + k.
      b: { storage: dense, dtype: 'float32', strides: [1, k], offset: 0 },
      batchShape: [],
      m: spec.m,
      n,
      k,
      outDtype: spec.outDtype,
      epilogue: spec.bias ? { bias: spec.bias } : undefined,
    });
  } finally {
    host.release(dense); // the queue keeps the buffer until the GEMM ran
  }
}

/** The weight as a dense float32 [N, K] storage (one launch). */
export function decodeGguf(host: GpuHost, q: Storage, scales: Storage, format: GgufWeightFormat, n: number, k: number): Storage {
  const info = ggufFormatInfo(format);
  const groups = k / info.block;
  const out = host.alloc('float32', n * k, 'linear');
  const uniforms = QGEMM_PARAMS.write({
    m: 1,
    n,
    k,
    batch: 1,
    tilesN: 1,
    tilesM: 1,
    kw: groups * info.qWords,
    groups,
    aoff: 0,
    sam: 0,
    sak: 0,
    biasoff: 0,
    sbiasm: 0,
    sbiasn: 0,
    akw: 0,
    chunks: k / 32,
  });
  host.run({
    name: 'gguf_decode',
    op: 'linear',
    key: `gguf_decode|${format}`,
    layout: bufferLayout(2),
    source: () => [QGEMM_PARAMS.wgsl, kernelSource('quant/qgemm_batch.wgsl'), ggufDequantSource(format)].join('\n'),
    uniforms,
    bindings: [bindWhole(out), bindWhole(q), bindWhole(scales)],
    groups: Math.ceil((n * k) / 4 / 64),
  });
  return out;
}
