/**
 * JavaScript twins (float64, then rounded once to the output dtype) of the WGSL helpers that
 * kernels/common/math.wgsl adds for floor division, remainders, rounding, clamp and the
 * activations of issue 15. Each gives the same special values as its WGSL side and as torch 1.13
 * (whose results are quoted where they are surprising).
 */
import { roundHalfEven } from '../backends/scalar_math.js';

export { roundHalfEven };

/**
 * torch.round(x, decimals=d) for d != 0, in float32 steps as torch computes it (x * 10^d rounded
 * to float32, rounded half to even, divided back; for d < 0 the other way round). scale is
 * 10^|d| as a float32, negative says d < 0.
 */
export function roundDecimals(x: number, scale: number, negative: number): number {
  if (negative) return Math.fround(roundHalfEven(Math.fround(x / scale)) * scale);
  return Math.fround(roundHalfEven(Math.fround(x * scale)) / scale);
}

/** sign as torch 1.13: (0 < x) - (x < 0), so sign(NaN) = 0 and sign(-0) = +0. */
export const sign = (x: number): number => (x > 0 ? 1 : x < 0 ? -1 : 0);

/**
 * torch.floor_divide of floats (Python's //): exact fmod (JS % is C's fmod), (a - mod) / b
 * corrected by one when mod and b differ in sign, rounded to the nearest integer; a zero keeps
 * the sign of a / b; b = 0 gives a / b.
 */
export function floorDivide(a: number, b: number): number {
  if (b === 0) return a / b;
  const mod = a % b;
  let div = (a - mod) / b;
  if (mod !== 0 && b < 0 !== mod < 0) div -= 1;
  if (div === 0) {
    const q = a / b;
    return q < 0 || Object.is(q, -0) ? -0 : 0;
  }
  const fd = Math.floor(div);
  return div - fd > 0.5 ? fd + 1 : fd;
}

/** torch.remainder of floats (Python's %): fmod, moved by b when its sign differs from b's. */
export function remainder(a: number, b: number): number {
  const mod = a % b;
  return mod !== 0 && b < 0 !== mod < 0 ? mod + b : mod;
}

/** Integer floor division (i32 or u32 values); 0 for a zero divisor (cpu throws before, as torch). */
export function floorDivideInt(a: number, b: number): number {
  if (b === 0) return 0;
  const q = Math.trunc(a / b); // exact: |a| < 2^53
  return a % b !== 0 && a < 0 !== b < 0 ? q - 1 : q;
}

export function remainderInt(a: number, b: number): number {
  if (b === 0) return 0;
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
}

export const fmodInt = (a: number, b: number): number => (b === 0 ? 0 : a % b);

/** torch.clamp with tensor bounds: NaN if any is NaN, else std::min(std::max(x, lo), hi). */
export function clampNaN(x: number, lo: number, hi: number): number {
  if (Number.isNaN(x) || Number.isNaN(lo) || Number.isNaN(hi)) return NaN;
  const m = x < lo ? lo : x;
  return hi < m ? hi : m;
}

/** torch.lerp: start + w (end - start) for |w| < 0.5, else end - (end - start)(1 - w). */
export const lerp = (s: number, e: number, w: number): number => (Math.abs(w) < 0.5 ? s + w * (e - s) : e - (e - s) * (1 - w));

export const leakyRelu = (x: number, slope: number): number => (x > 0 ? x : x * slope);

/** alpha (e^x - 1) for x <= 0 through expm1 (torch's exp(x) - 1 gives 0 for |x| < 3e-8); elu(-0) = +0 as torch. */
export const elu = (x: number, alpha: number): number => (x > 0 || Number.isNaN(x) ? x : x === 0 ? 0 : alpha * Math.expm1(x));

/** log1p(e^(beta x)) / beta, or x where beta x > threshold. */
export const softplus = (x: number, beta: number, threshold: number): number =>
  x * beta > threshold ? x : Math.log1p(Math.exp(x * beta)) / beta;

/** x min(max(x + 3, 0), 6) / 6; hardswish(-inf) = -inf * 0 = NaN as torch. */
export const hardswish = (x: number): number => (x * Math.min(Math.max(x + 3, 0), 6)) / 6;

/** x tanh(softplus(x)); mish(-inf) = -inf * 0 = NaN as torch. */
export const mish = (x: number): number => x * Math.tanh(Math.log1p(Math.exp(x)));
