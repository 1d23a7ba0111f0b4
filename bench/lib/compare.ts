/**
 * `xpu bench compare A.json B.json`: the rows of two runs matched by key
 * (suite/kernel[variant]/impl/device/dtype/size), with B's median time over A's. A ratio above
 * 1 + threshold is a regression (B is slower), below 1 - threshold an improvement; a row that
 * passed its check in A and fails it in B is a regression whatever its time.
 */
import type { BenchResults, Row } from './records.js';
import { fmtTime } from './console_report.js';
import { fmt, printTable } from './table.js';

export type Verdict = 'regression' | 'improvement' | 'same' | 'now wrong' | 'only in A' | 'only in B' | 'not timed';

export interface RowComparison {
  key: string;
  a?: Row;
  b?: Row;
  /** B's median wall time / A's (> 1: B is slower). */
  ratio?: number;
  /** The same for GPU time, where both runs have it. */
  gpuRatio?: number;
  verdict: Verdict;
}

export function compareResults(a: BenchResults, b: BenchResults, threshold = 0.1): RowComparison[] {
  const byKey = (rows: Row[]) => new Map(rows.map((r) => [r.key, r]));
  const ma = byKey(a.rows);
  const mb = byKey(b.rows);
  const keys = [...new Set([...ma.keys(), ...mb.keys()])];
  return keys.map((key) => {
    const ra = ma.get(key);
    const rb = mb.get(key);
    if (!ra) return { key, b: rb, verdict: 'only in B' };
    if (!rb) return { key, a: ra, verdict: 'only in A' };
    const out: RowComparison = { key, a: ra, b: rb, verdict: 'not timed' };
    if (ra.wall && rb.wall && ra.wall.medianMs > 0) out.ratio = rb.wall.medianMs / ra.wall.medianMs;
    if (ra.gpu && rb.gpu && ra.gpu.medianMs > 0) out.gpuRatio = rb.gpu.medianMs / ra.gpu.medianMs;
    if (ra.status === 'ok' && rb.status === 'wrong') out.verdict = 'now wrong';
    else if (out.ratio !== undefined) out.verdict = out.ratio > 1 + threshold ? 'regression' : out.ratio < 1 - threshold ? 'improvement' : 'same';
    return out;
  });
}

export const isRegression = (c: RowComparison): boolean => c.verdict === 'regression' || c.verdict === 'now wrong';

export function printComparison(list: RowComparison[], nameA: string, nameB: string, threshold: number): void {
  const flag: Record<Verdict, string> = { regression: 'REGRESSION', 'now wrong': 'REGRESSION (now wrong)', improvement: 'faster', same: '', 'only in A': 'only in A', 'only in B': 'only in B', 'not timed': 'not timed' };
  printTable(`B / A time per op (A: ${nameA}, B: ${nameB}); > ${fmt(1 + threshold)}x is flagged`,
    ['row', 'A time/op', 'B time/op', 'B/A', 'B/A GPU', 'verdict'],
    list.map((c) => [c.key, fmtTime(c.a?.wall?.medianMs), fmtTime(c.b?.wall?.medianMs), c.ratio === undefined ? '-' : `${fmt(c.ratio)}x`, c.gpuRatio === undefined ? '-' : `${fmt(c.gpuRatio)}x`, flag[c.verdict]]));
  const count = (v: (c: RowComparison) => boolean) => list.filter(v).length;
  process.stdout.write(`\n${count(isRegression)} regression(s), ${count((c) => c.verdict === 'improvement')} improvement(s), ${count((c) => c.verdict === 'same')} within ±${Math.round(threshold * 100)}%, `
    + `${count((c) => c.verdict === 'only in A' || c.verdict === 'only in B')} row(s) in one run only\n`);
}
