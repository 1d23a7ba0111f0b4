/**
 * Correctness of a benchmarked kernel: its output on a small slice against a float64 reference,
 * as the relative error ||out - ref|| / ||ref||. A row whose check fails is marked, not dropped.
 */
export interface Check {
  elements: number;
  relErr: number;
  bound: number;
  ok: boolean;
  /** Why the check could not run, when it could not. */
  error?: string;
}

export function compare(out: ArrayLike<number>, ref: ArrayLike<number>, bound: number): Check {
  if (out.length < ref.length)
    return { elements: out.length, relErr: Infinity, bound, ok: false, error: `got ${out.length} elements, expected ${ref.length}` };
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = out[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  const relErr = Math.sqrt(num) / Math.max(Math.sqrt(den), Number.MIN_VALUE);
  return { elements: ref.length, relErr, bound, ok: relErr <= bound };
}

export function failedCheck(e: unknown, bound: number): Check {
  return { elements: 0, relErr: Infinity, bound, ok: false, error: e instanceof Error ? e.message : String(e) };
}
