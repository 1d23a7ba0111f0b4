/**
 * Quantization suite: xpu.linear with float32, float16, int8 (per channel), int4 (g128) and w8a8
 * weights at decode (M = 1, the split-K GEMV) and prefill (many rows, the GEMM template with a
 * dequantizing mm_readB), for Llama-like layers 4096 x 4096 and 14336 x 4096 (N x K). The figure
 * of merit at decode is GB/s of weight bytes against the device's copy bandwidth; the memory
 * footprint of each weight is in the row's note. Speed lives here, never in tests.
 *
 *   npm run bench -- quant [--quick] [--device xpu|cpu|all] [--dtype f32,f16,int8] [--json F] [--html F]
 */
import { xpuEntries } from '../src/device/registry.js';
import { gemmAdapterInfo } from '../src/backends/webgpu/gemm_config.js';
import type { BenchCase, DeviceName, Suite, SuiteContext, SuitePlan } from './suite.js';
import { INT4_GROUP, QUANT_KINDS, quantLinearWorkload, weightBytes, type QuantKind, type QuantShape } from './quant/workloads.js';

export const suite: Suite = {
  name: 'quant',
  description:
    'quantized linear (f32 / f16 / int8 / int4 g128 / w8a8 weights): decode GEMV and prefill GEMM, GB/s of weight bytes vs copy bandwidth, footprint',
  plan,
};

/** Llama-3-8B-like layers, N x K: attention / MLP down (4096 x 4096) and MLP up (14336 x 4096). */
const LAYERS: [number, number][] = [
  [4096, 4096],
  [14336, 4096],
];
/** Prefill rows: 2048 on a GPU; on a software adapter (lavapipe) a 2048-row GEMM takes ~10 s per run. */
const PREFILL_M = { gpu: 2048, software: 256, softwareQuick: 32 };
const MIB = 2 ** 20;

const BITS: Record<QuantKind, string> = {
  float32: '32 bits',
  float16: '16 bits',
  int8: '8 bits + f32 scale per row',
  int4: `4 bits + f32 scale and u8 zero per ${INT4_GROUP}`,
  w8a8: '8 bits + f32 scale per row; int8 activations',
};

function adapterFacts(): { software: boolean; maxBinding: number } | undefined {
  const entry = xpuEntries()[0];
  if (!entry) return undefined;
  const info = gemmAdapterInfo(entry.backend.device);
  return {
    software: info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(info.vendor + info.description),
    maxBinding: entry.backend.device.limits.maxStorageBufferBindingSize,
  };
}

function kindsFor(ctx: SuiteContext): QuantKind[] {
  if (!ctx.dtypes) return [...QUANT_KINDS];
  // --dtype speaks tensor dtypes: int8 selects the integer weights (int8, int4, w8a8) too.
  return QUANT_KINDS.filter((k) => ctx.dtypes?.includes(k) || ((k === 'int4' || k === 'w8a8') && ctx.dtypes?.includes('int8')));
}

async function plan(ctx: SuiteContext): Promise<SuitePlan> {
  const notes: string[] = [];
  const facts = ctx.devices.includes('xpu') ? adapterFacts() : undefined;
  const kinds = kindsFor(ctx);
  const prefillM = !facts || !facts.software ? PREFILL_M.gpu : ctx.quick ? PREFILL_M.softwareQuick : PREFILL_M.software;
  if (facts?.software)
    notes.push(
      `prefill uses M = ${prefillM} on this software adapter (M = 2048 takes ~10 s per run on lavapipe); GPUs use M = ${PREFILL_M.gpu}`,
    );
  notes.push(
    'GB/s counts the weight bytes only (values + scales + zeros): at decode they are the whole cost; the roofline fraction is against the read bandwidth (and the FMA peak, except w8a8)',
  );
  const cases: BenchCase[] = [];
  for (const device of ctx.devices) {
    for (const [n, k] of LAYERS) {
      for (const phase of ['decode', 'prefill'] as const) {
        const m = phase === 'decode' ? 1 : prefillM;
        const s: QuantShape = { m, n, k };
        for (const kind of kinds) {
          const bytes = weightBytes(kind, n, k);
          const base: BenchCase = {
            kernel: `linear-${phase}-${kind}`,
            device,
            dtype: kind === 'w8a8' ? 'int8' : kind === 'int4' ? 'int4' : kind,
            size: n,
            sizeLabel: `M=${m} ${n}x${k}`,
            shape: `x [${m}, ${k}] @ w[${n}, ${k}]^T (${kind})`,
            // bytes are the weight's, all read; w8a8's int8 dot products are not f32 FMAs, so it has no compute bound.
            flops: 2 * m * n * k,
            bytes,
            readBytes: bytes,
            writeBytes: 0,
            peak: kind === 'w8a8' ? null : undefined,
            metric: 'throughput',
            repeat: phase === 'decode' ? { warmup: 2, reps: ctx.quick ? 5 : 9 } : { warmup: 1, reps: 3 },
            note: `weight ${(bytes / MIB).toFixed(1)} MiB (${BITS[kind]}; ${((8 * bytes) / (n * k)).toFixed(2)} bits/weight)`,
            setup: () => quantLinearWorkload(device, kind, s),
          };
          const skip = skipReason(device, kind, phase, n, k, bytes, ctx.quick, facts?.maxBinding);
          cases.push(skip ? { ...base, skip } : base);
        }
      }
    }
  }
  return {
    cases,
    notes,
    settings: {
      layers: LAYERS,
      prefillM,
      kinds,
      int4GroupSize: INT4_GROUP,
      method:
        'several linears recorded per run (weights rotated among sets spanning twice the last-level cache, >= 96 MiB), then one synchronize; GB/s = weight bytes / median time; checked on 2 rows x 64 columns against float64 of the dequantized weight',
    },
  };
}

function skipReason(
  device: DeviceName,
  kind: QuantKind,
  phase: 'decode' | 'prefill',
  n: number,
  k: number,
  bytes: number,
  quick: boolean,
  maxBinding?: number,
): string | undefined {
  if (device === 'xpu' && maxBinding !== undefined && bytes > maxBinding) {
    return `the ${kind} weight is ${(bytes / MIB).toFixed(0)} MiB, above this adapter's ${(maxBinding / MIB).toFixed(0)} MiB storage binding limit (the weight is one binding)`;
  }
  if (device === 'cpu') {
    if (phase === 'prefill') return 'cpu prefill: the TypeScript kernels take minutes at this size (a native kernel comes with the addon)';
    if (quick && n > 4096) return 'cpu: --quick runs the 4096 x 4096 layer only';
    if ((kind === 'float32' || kind === 'float16') && n > 4096)
      return 'cpu dense GEMM unpacks B into a float64 panel (470 MB at 14336 x 4096)';
  }
  return undefined;
}
