/**
 * Quantized-linear workloads: y = x @ W^T with W [N, K] dense (float32, float16) or quantized
 * (int8 per channel, int4 g128, w8a8), inputs rotating among several weights so the caches do not
 * hold them between two runs. Bytes are the weight's bytes (values + scales + zeros): at decode
 * the weight stream is the whole cost, so GB/s of weight bytes against copy bandwidth says how
 * close the kernel is to the memory bound.
 */
import * as xpu from '../../src/index.js';
import { compare, failedCheck } from '../lib/check.js';
import { opsPerRun, rotationSets } from '../lib/rotation.js';
import type { DeviceName, Workload } from '../suite.js';

export type QuantKind = 'float32' | 'float16' | 'int8' | 'int4' | 'w8a8';
export const QUANT_KINDS: readonly QuantKind[] = ['float32', 'float16', 'int8', 'int4', 'w8a8'];
export const INT4_GROUP = 128;

export interface QuantShape {
  m: number;
  n: number;
  k: number;
}

/** Bytes of the weight as stored (what a decode step must stream). */
export function weightBytes(kind: QuantKind, n: number, k: number): number {
  switch (kind) {
    case 'float32':
      return 4 * n * k;
    case 'float16':
      return 2 * n * k;
    case 'int8':
    case 'w8a8':
      return n * Math.ceil(k / 32) * 32 + 4 * n;
    case 'int4':
      return (n * k) / 2 + (4 + 1) * n * (k / INT4_GROUP);
  }
}

const SCHEME: Record<'int8' | 'int4' | 'w8a8', xpu.quant.QuantizeOptions> = {
  int8: { scheme: 'int8_weight_only' },
  int4: { scheme: 'int4_weight_only', groupSize: INT4_GROUP },
  w8a8: { scheme: 'int8_dynamic' },
};

type Weight = xpu.Tensor | xpu.quant.QuantizedTensor;
/** Output columns checked against float64 (weight rows read back for the reference). */
const CHECK_COLS = 64;
/** A timed run streams about this many weight bytes, at most MAX_UNITS linears. */
const TARGET_BYTES = 256 * 2 ** 20;
const MAX_UNITS = 16;
export const BOUND: Record<QuantKind, number> = { float32: 1e-4, float16: 2e-3, int8: 1e-4, int4: 1e-4, w8a8: 1e-4 };

/** Rows quantized at a time: a float32 slice of 4096 x 4096 (64 MiB) fits every binding limit. */
const SLICE_ROWS = 4096;

function makeWeight(device: DeviceName, kind: QuantKind, n: number, k: number): Weight {
  if (kind === 'float32' || kind === 'float16') return xpu.randn([n, k], { device, dtype: kind });
  // Quantized from float32 slices of rows, so no float32 binding exceeds the device's limit
  // (14336 x 4096 f32 is 224 MiB; lavapipe binds at most 128 MiB), then concatenated.
  const parts: xpu.quant.QuantizedTensor[] = [];
  try {
    for (let r = 0; r < n; r += SLICE_ROWS) {
      const w = xpu.randn([Math.min(SLICE_ROWS, n - r), k], { device });
      parts.push(xpu.quant.quantize(w, SCHEME[kind]));
      w.dispose();
    }
    if (parts.length === 1) return parts[0];
    const p0 = parts[0];
    const cat = (get: (p: xpu.quant.QuantizedTensor) => xpu.Tensor) => xpu.cat(parts.map(get), 0);
    const zeros = p0.zeros ? cat((p) => p.zeros as xpu.Tensor) : undefined;
    const out = new xpu.quant.QuantizedTensor(
      p0.scheme,
      n,
      k,
      p0.groupSize,
      p0.scaleDtype,
      cat((p) => p.qdata),
      cat((p) => p.scales),
      zeros,
    );
    for (const p of parts) p.dispose();
    return out;
  } catch (e) {
    for (const p of parts) p.dispose();
    throw e;
  }
}

/** The first CHECK_COLS rows of the weight as the kernel sees it (dequantized), in float64. */
async function weightHead(w: Weight, rows: number): Promise<Float64Array> {
  if (xpu.isTensor(w)) {
    const head = w.narrow(0, 0, rows);
    try {
      return Float64Array.from(await head.data());
    } finally {
      head.dispose();
    }
  }
  const cut = (t: xpu.Tensor | undefined) => t && xpu.contiguous(t.narrow(0, 0, rows));
  const [n, k] = w.shape;
  void n;
  const part = new xpu.quant.QuantizedTensor(
    w.scheme,
    rows,
    k,
    w.groupSize,
    w.scaleDtype,
    cut(w.qdata) as xpu.Tensor,
    cut(w.scales) as xpu.Tensor,
    cut(w.zeros),
  );
  try {
    const d = part.dequantize();
    const out = Float64Array.from(await d.data());
    d.dispose();
    return out;
  } finally {
    part.dispose();
  }
}

export function quantLinearWorkload(device: DeviceName, kind: QuantKind, s: QuantShape): Workload {
  const bytes = weightBytes(kind, s.n, s.k);
  // Both devices rotate among weights (an int4 4096^2 weight, 8 MiB, would otherwise sit in this
  // CPU's 32 MiB L3 and report cache bandwidth) and run several linears per timed run (one 0.5 ms
  // GEMV per run was mostly the thread hand-off and the VM's noise).
  const sets = rotationSets(bytes);
  const weights: Weight[] = [];
  const xs: xpu.Tensor[] = [];
  const actDtype = kind === 'float16' ? 'float16' : 'float32';
  const dispose = () => {
    for (const t of [...weights, ...xs]) t.dispose();
  };
  try {
    for (let i = 0; i < sets; i++) weights.push(makeWeight(device, kind, s.n, s.k));
    for (let i = 0; i < 2; i++) xs.push(xpu.randn([s.m, s.k], { device, dtype: actDtype }));
  } catch (e) {
    dispose();
    throw e;
  }
  const units = opsPerRun(bytes, TARGET_BYTES, MAX_UNITS);
  let next = 0;
  return {
    units,
    run: () => {
      for (let u = 0; u < units; u++, next++) xpu.linear(xs[next % 2], weights[next % weights.length]).dispose();
    },
    check: async () => {
      const bound = BOUND[kind];
      try {
        const rows = Math.min(2, s.m);
        const cols = Math.min(CHECK_COLS, s.n);
        const x = xs[0].narrow(0, 0, rows);
        const y = xpu.linear(x, weights[0]);
        const [xd, yd, wd] = await Promise.all([x.data(), y.data(), weightHead(weights[0], cols)]);
        x.dispose();
        y.dispose();
        const xr = kind === 'w8a8' ? quantizeRows(xd, rows, s.k) : Float64Array.from(xd);
        const ref = new Float64Array(rows * cols);
        const got = new Float64Array(rows * cols);
        for (let i = 0; i < rows; i++) {
          for (let j = 0; j < cols; j++) {
            let acc = 0;
            for (let p = 0; p < s.k; p++) acc += xr[i * s.k + p] * wd[j * s.k + p];
            ref[i * cols + j] = acc;
            got[i * cols + j] = yd[i * s.n + j];
          }
        }
        return compare(got, ref, bound);
      } catch (e) {
        return failedCheck(e, bound);
      }
    },
    dispose,
  };
}

/** w8a8's activation rule in float64 (symmetric per row, round half to even, f32 scale). */
function quantizeRows(x: ArrayLike<number>, m: number, k: number): Float64Array {
  const out = new Float64Array(m * k);
  for (let i = 0; i < m; i++) {
    let amax = 0;
    for (let p = 0; p < k; p++) amax = Math.max(amax, Math.abs(x[i * k + p]));
    const s = Math.fround(amax / 127);
    for (let p = 0; p < k; p++) out[i * k + p] = s === 0 ? 0 : Math.max(-127, Math.min(127, xpu.quant.roundHalfEven(x[i * k + p] / s))) * s;
  }
  return out;
}
