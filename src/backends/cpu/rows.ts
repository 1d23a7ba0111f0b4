import type { RowOp } from '../backend.js';

/**
 * Softmax, log-softmax, LayerNorm and RMSNorm of one row, in float64, written to
 * y[base + j * stride]. x is scratch: softmax leaves exp(x - max) in it. Both the generic rows
 * path (backend.ts) and the contiguous one (rows_fast.ts) call this, so they compute the same.
 */
export function rowOpInto(
  op: RowOp,
  x: Float64Array,
  eps: number,
  weight: Float32Array | undefined,
  bias: Float32Array | undefined,
  y: Float32Array | Float64Array,
  base: number,
  stride: number,
): void {
  const n = x.length;
  if (op === 'softmax' || op === 'logsoftmax') {
    let mx = -Infinity;
    for (let i = 0; i < n; i++) mx = Math.max(mx, x[i]);
    if (mx === -Infinity) mx = 0; // an all -inf row gives NaN for softmax, as in PyTorch, via 0/0
    let s = 0;
    if (op === 'softmax') {
      for (let i = 0; i < n; i++) s += x[i] = Math.exp(x[i] - mx);
      for (let i = 0; i < n; i++) y[base + i * stride] = x[i] / s;
      return;
    }
    for (let i = 0; i < n; i++) s += Math.exp(x[i] - mx);
    const logS = Math.log(s);
    for (let i = 0; i < n; i++) y[base + i * stride] = x[i] - mx - logS;
    return;
  }
  let mean = 0;
  if (op === 'layernorm') {
    for (let i = 0; i < n; i++) mean += x[i];
    mean /= n;
  }
  let m2 = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i] - mean;
    m2 += d * d;
  }
  const inv = 1 / Math.sqrt(m2 / n + eps);
  if (weight && bias) for (let i = 0; i < n; i++) y[base + i * stride] = (x[i] - mean) * inv * weight[i] + bias[i];
  else if (weight) for (let i = 0; i < n; i++) y[base + i * stride] = (x[i] - mean) * inv * weight[i];
  else if (bias) for (let i = 0; i < n; i++) y[base + i * stride] = (x[i] - mean) * inv + bias[i];
  else for (let i = 0; i < n; i++) y[base + i * stride] = (x[i] - mean) * inv;
}

/** The row op of x into a fresh float64 row (x is scratch). */
export function rowOp(op: RowOp, x: Float64Array, eps: number, weight?: Float32Array, bias?: Float32Array): Float64Array {
  const y = new Float64Array(x.length);
  rowOpInto(op, x, eps, weight, bias, y, 0, 1);
  return y;
}
