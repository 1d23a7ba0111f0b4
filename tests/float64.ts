import { expect } from 'vitest';

/**
 * Float64 references for the elementwise tests (written here, independent of src/), and the ulp
 * check against them.
 */

const F32_MAX = 3.4028234663852886e38;

/** The spacing of float32 values at |r| (2^-149 in the subnormal range). */
export function ulp(r: number): number {
  const a = Math.abs(r);
  if (a < 2 ** -126) return 2 ** -149;
  const e = Math.floor(Math.log2(a));
  // log2 may round up just below a power of two.
  return 2 ** (2 ** e > a ? e - 24 : e - 23);
}

/**
 * Each out[i] within maxUlp of ref[i] (float64); NaN where ref is NaN, the same infinity where ref
 * overflows float32. Reports the worst element with its inputs.
 */
export function expectUlp(out: ArrayLike<number>, ref: ArrayLike<number>, maxUlp: number, what: string, inputs: ArrayLike<number>[]): void {
  expect(out.length, `${what} length`).toBe(ref.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < ref.length; i++) {
    const o = out[i];
    const r = ref[i];
    let err: number;
    if (Number.isNaN(r)) err = Number.isNaN(o) ? 0 : Infinity;
    else if (Math.abs(r) > F32_MAX) err = o === Math.sign(r) * Infinity ? 0 : Infinity;
    else if (!Number.isFinite(o)) err = Infinity;
    else err = Math.abs(o - r) / ulp(r);
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  const where = at < 0 ? '' : ` at (${inputs.map((x) => x[at]).join(', ')}): ${out[at]} vs ${ref[at]}`;
  expect(worst, `${what}: ${worst.toFixed(2)} ulp${where}`).toBeLessThanOrEqual(maxUlp);
}

/** erf by its series of positive terms: 2/sqrt(pi) e^-x^2 sum_n (2x^2)^n x / (2n+1)!!. */
export function erfSeries64(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 400 && term > sum * 1e-18; n++) {
    term *= (2 * x * x) / (2 * n + 1);
    sum += term;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
}

/** erfc: 1 - erf below 3, the continued fraction e^-x^2 / sqrt(pi) / (x + 1/2 / (x + 1 / (x + ...))) above. */
export function erfc64(x: number): number {
  if (x < 0) return 2 - erfc64(-x);
  if (x < 3) return 1 - erfSeries64(x);
  let t = x;
  for (let k = 100; k >= 1; k--) t = x + k / 2 / t;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * t);
}

export const sigmoid64 = (x: number): number => 1 / (1 + Math.exp(-x));
export const geluTanh64 = (x: number): number => {
  const v = Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3);
  return x / (1 + Math.exp(-2 * v)); // = 0.5 x (1 + tanh v)
};

/** C99 pow (what torch.pow gives for float tensors), in float64. */
export function pow64(x: number, y: number): number {
  if (y === 0 || x === 1) return 1;
  if (Number.isNaN(x) || Number.isNaN(y)) return NaN;
  if (x === -1 && !Number.isFinite(y)) return 1;
  return Math.pow(x, y); // JS agrees with C99 everywhere else
}

/** gelu(x) = x Phi(x) = x erfc(-x / sqrt 2) / 2 (gelu(-inf) = NaN, -inf * 0, as torch). */
export const gelu64 = (x: number): number => (x === -Infinity ? NaN : x * 0.5 * erfc64(-x / Math.SQRT2));
