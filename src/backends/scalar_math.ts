/**
 * float64 twins of kernels/common/math.wgsl helpers that the backends need themselves (the GEMM
 * epilogue's gelu, activation.ts) as well as the elementwise table (src/ops/elementwise_table.ts
 * re-exports them) and quantization (roundHalfEven): here, below all three, so that backends do not
 * import src/ops.
 */

/**
 * erfc in float64, to ~1e-13 relative: 1 - erf by its series of positive terms below 2.5
 * (erf(x) = 2/sqrt(pi) e^-x^2 sum (2x^2)^n x / (2n+1)!!), the continued fraction
 * erfc(x) = e^-x^2 / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))) above.
 * (The WGSL twin in kernels/common/math.wgsl is an f32 fit of the same function.)
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) return 1 - erfSeries(x);
  if (x > 27) return 0;
  let t = x;
  for (let k = 60; k >= 1; k--) t = x + k / 2 / t;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * t);
}

function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && term > sum * 1e-17; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  const r = a < 2.5 ? erfSeries(a) : 1 - erfc(a);
  return x < 0 || Object.is(x, -0) ? -r : r; // erf(-0) = -0, as torch
}

/** The logistic function 1 / (1 + e^-x) in float64 (the twin of math.wgsl's sigmoid_f32). */
export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** gelu(x) = x Phi(x), Phi through erfc so that the negative tail keeps its precision. */
export const gelu = (x: number): number => (x === -Infinity ? NaN : x * 0.5 * erfc(-x * Math.SQRT1_2));

/**
 * Round half to even, keeping the sign of a zero result (torch.round(-0.4) is -0): WGSL's round(),
 * torch.round, and the quantizers' rounding (src/quant/formats.ts re-exports it).
 */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  const d = x - f; // exact: x has at most 53 bits and f shares its binade or is 0
  const r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  return r === 0 ? (x < 0 || Object.is(x, -0) ? -0 : 0) : r;
}
