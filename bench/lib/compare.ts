/**
 * `xpu bench compare A.json B.json`: the rows of two runs matched by key
 * (suite/kernel[variant]/impl/device/dtype/size), with B's median time over A's.
 *
 * A row regressed when B is slower by more than the threshold AND by more than the two runs'
 * measured spread: every timed run of B was slower than every timed run of A (B's min above A's
 * max). On a shared machine one run's median moves by tens of percent with the load, so a median
 * alone flagged noise as regressions; a change that the runs' own ranges cover is reported as
 * 'within noise' instead. Improvements are judged the same way. A row that passed its check in A
 * and fails it in B is a regression whatever its time. The CLI exits non-zero on any regression.
 */
import type { BenchResults, Row } from './records.js';
import { fmtTime } from './console_report.js';
import { fmt, pct, printTable } from './table.js';
import type { Stats } from './timing.js';

export type Verdict = 'regression' | 'improvement' | 'same' | 'within noise' | 'now wrong' | 'only in A' | 'only in B' | 'not timed';

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

/**
 * The spread rule for one row's wall times: beyond the threshold and outside both runs' ranges
 * (regression, improvement), beyond the threshold but inside them ('within noise'), or 'same'.
 */
export function timeVerdict(a: Stats, b: Stats, threshold: number): 'regression' | 'improvement' | 'same' | 'within noise' {
  const ratio = b.medianMs / a.medianMs;
  if (ratio > 1 + threshold) return b.minMs > a.maxMs ? 'regression' : 'within noise';
  if (ratio < 1 - threshold) return b.maxMs < a.minMs ? 'improvement' : 'within noise';
  return 'same';
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
    if (ra.gpu && rb.gpu && ra.gpu.medianMs > 0) out.gpuRatio = rb.gpu.medianMs / ra.gpu.medianMs;
    if (ra.wall && rb.wall && ra.wall.medianMs > 0) {
      out.ratio = rb.wall.medianMs / ra.wall.medianMs;
      out.verdict = timeVerdict(ra.wall, rb.wall, threshold);
    }
    if (ra.status === 'ok' && rb.status === 'wrong') out.verdict = 'now wrong';
    return out;
  });
}

export const isRegression = (c: RowComparison): boolean => c.verdict === 'regression' || c.verdict === 'now wrong';

export function printComparison(list: RowComparison[], nameA: string, nameB: string, threshold: number): void {
  const flag: Record<Verdict, string> = {
    regression: 'REGRESSION',
    'now wrong': 'REGRESSION (now wrong)',
    improvement: 'faster',
    same: '',
    'within noise': 'within noise',
    'only in A': 'only in A',
    'only in B': 'only in B',
    'not timed': 'not timed',
  };
  printTable(
    `B / A time per op (A: ${nameA}, B: ${nameB}); flagged when > ${fmt(1 + threshold)}x and every run of B is slower than every run of A`,
    ['row', 'A time/op', 'A spread', 'B time/op', 'B spread', 'B/A', 'B/A GPU', 'verdict'],
    list.map((c) => [
      c.key,
      fmtTime(c.a?.wall?.medianMs),
      pct(c.a?.wall?.spread),
      fmtTime(c.b?.wall?.medianMs),
      pct(c.b?.wall?.spread),
      c.ratio === undefined ? '-' : `${fmt(c.ratio)}x`,
      c.gpuRatio === undefined ? '-' : `${fmt(c.gpuRatio)}x`,
      flag[c.verdict],
    ]),
  );
  const count = (v: (c: RowComparison) => boolean) => list.filter(v).length;
  process.stdout.write(
    `\n${count(isRegression)} regression(s), ${count((c) => c.verdict === 'improvement')} improvement(s), ` +
      `${count((c) => c.verdict === 'within noise')} beyond ±${Math.round(threshold * 100)}% but within the runs' spread, ${count((c) => c.verdict === 'same')} within ±${Math.round(threshold * 100)}%, ` +
      `${count((c) => c.verdict === 'only in A' || c.verdict === 'only in B')} row(s) in one run only\n`,
  );
}
