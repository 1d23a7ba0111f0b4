import type { RowOp } from '../backend.js';

/** Softmax, log-softmax, LayerNorm and RMSNorm of one row, in float64. */
export function rowOp(op: RowOp, x: Float64Array, eps: number, weight?: Float32Array, bias?: Float32Array): Float64Array {
  const n = x.length;
  const y = new Float64Array(n);
  if (op === 'softmax' || op === 'logsoftmax') {
    let mx = -Infinity;
    for (let i = 0; i < n; i++) mx = Math.max(mx, x[i]);
    if (mx === -Infinity) mx = 0; // an all -inf row gives NaN for softmax, as in PyTorch, via 0/0
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.exp(x[i] - mx);
    const logS = Math.log(s);
    for (let i = 0; i < n; i++) y[i] = op === 'softmax' ? Math.exp(x[i] - mx) / s : x[i] - mx - logS;
    return y;
  }
  let mean = 0;
  if (op === 'layernorm') {
    for (let i = 0; i < n; i++) mean += x[i];
    mean /= n;
  }
  let m2 = 0;
  for (let i = 0; i < n; i++) m2 += (x[i] - mean) ** 2;
  const inv = 1 / Math.sqrt(m2 / n + eps);
  for (let i = 0; i < n; i++) {
    let v = (x[i] - mean) * inv;
    if (weight) v *= weight[i];
    if (bias) v += bias[i];
    y[i] = v;
  }
  return y;
}
