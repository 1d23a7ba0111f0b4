import type { ReduceSpec } from '../backend.js';

/** Greater-than where NaN wins, as PyTorch's max/argmax propagate NaN. */
const gtNaN = (a: number, b: number): boolean => a > b || (Number.isNaN(a) && !Number.isNaN(b));
const ltNaN = (a: number, b: number): boolean => a < b || (Number.isNaN(a) && !Number.isNaN(b));

/** Reduces one row of values (already converted to the accumulation kind). */
export function reduceRow(spec: ReduceSpec, row: Float64Array): number {
  const n = row.length;
  const acc = spec.accKind;
  switch (spec.op) {
    case 'sum': {
      let s = 0;
      if (acc === 'f32') for (let i = 0; i < n; i++) s += row[i];
      else for (let i = 0; i < n; i++) s = acc === 'i32' ? (s + row[i]) | 0 : (s + row[i]) >>> 0;
      return s;
    }
    case 'prod': {
      let s = 1;
      if (acc === 'f32') for (let i = 0; i < n; i++) s *= row[i];
      else for (let i = 0; i < n; i++) s = acc === 'i32' ? Math.imul(s, row[i]) : Math.imul(s, row[i]) >>> 0;
      return s;
    }
    case 'mean': {
      let s = 0;
      for (let i = 0; i < n; i++) s += row[i];
      return s / n;
    }
    case 'var': {
      let s = 0;
      for (let i = 0; i < n; i++) s += row[i];
      const mean = s / n;
      let m2 = 0;
      for (let i = 0; i < n; i++) m2 += (row[i] - mean) ** 2;
      // PyTorch clamps the divisor at 0: m2 / 0 is inf, or NaN when m2 is 0 (one element, or none).
      return m2 / Math.max(0, n - (spec.correction ?? 1));
    }
    case 'max':
    case 'min': {
      const better = spec.op === 'max' ? gtNaN : ltNaN;
      let best = row[0];
      for (let i = 1; i < n; i++) if (better(row[i], best)) best = row[i];
      return best;
    }
    case 'argmax':
    case 'argmin': {
      const better = spec.op === 'argmax' ? gtNaN : ltNaN;
      let best = 0;
      for (let i = 1; i < n; i++) if (better(row[i], row[best])) best = i;
      return best;
    }
  }
}
