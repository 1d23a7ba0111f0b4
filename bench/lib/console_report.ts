/** The tables printed at the end of a run (cli-table3): the roofline, then one table per suite. */
import type { BenchResults, Row } from './records.js';
import { seriesName } from './records.js';
import type { Roofline } from './roofline.js';
import { fmt, pct, printTable } from './table.js';

/** ms as the unit that reads best: s, ms or µs. */
export function fmtTime(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (ms >= 1000) return `${fmt(ms / 1000)} s`;
  if (ms >= 1) return `${fmt(ms)} ms`;
  return `${fmt(ms * 1000)} µs`;
}

export function checkCell(r: Row): string {
  if (r.status === 'skipped' || r.status === 'failed') return r.status;
  if (!r.check) return '-';
  const err = Number.isFinite(r.check.relErr) ? r.check.relErr.toExponential(1) : String(r.check.relErr);
  return r.check.ok ? `ok ${err}` : `WRONG ${r.check.error ? short(r.check.error, 30) : err}`;
}

export function rooflineCell(r: Row): string {
  return r.roofline ? `${pct(r.roofline.fraction)} ${r.roofline.bound === 'compute' ? 'flops' : 'bytes'}` : '-';
}

export function printRoofline(roofline: Roofline): void {
  const rows = Object.values(roofline).map((d) => [
    d.device,
    `${fmt(d.bandwidthGBps)} GB/s`,
    d.copy.method,
    d.peakGflops > 0 ? `${fmt(d.peakGflops)} GFLOP/s` : 'unknown',
    d.gemm.map((g) => `${g.n}: ${fmt(g.gflops)}${g.check.ok ? '' : ' WRONG'}`).join(', '),
  ]);
  printTable('Roofline (measured once per run; bytes = read + written)', ['device', 'copy bandwidth', 'copy method', 'best matmul f32', 'GFLOP/s by size'], rows);
}

export function printSuiteRows(suite: string, description: string | undefined, rows: Row[], notes: string[]): void {
  printTable(`${suite}${description ? `: ${description}` : ''}`,
    ['kernel', 'impl', 'dtype', 'size', 'time/op', 'spread', 'GPU/op', 'GFLOP/s', 'GB/s', 'roofline', 'rel. time', 'check', 'note'],
    rows.map((r) => [
      r.variant ? `${r.kernel} [${r.variant}]` : r.kernel,
      seriesName(r),
      r.dtype,
      r.sizeLabel,
      fmtTime(r.wall?.medianMs),
      pct(r.wall?.spread),
      fmtTime(r.gpu?.medianMs),
      fmt(r.gflops),
      fmt(r.gbps),
      rooflineCell(r),
      r.relative ? `${fmt(r.relative.ratio)}x` : '-',
      checkCell(r),
      short(r.note ?? '', 40),
    ]));
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
}

export function printResults(results: BenchResults): void {
  printRoofline(results.roofline);
  for (const s of results.suites) {
    if (s.status !== 'ran') continue;
    printSuiteRows(s.name, s.description, results.rows.filter((r) => r.suite === s.name), s.notes);
  }
  const missing = results.suites.filter((s) => s.status !== 'ran');
  for (const s of missing) process.stdout.write(`\n${s.name}: ${s.status}${s.error ? ` (${s.error})` : ''}\n`);
  const wrong = results.rows.filter((r) => r.status === 'wrong');
  if (wrong.length) process.stdout.write(`\n${wrong.length} row(s) failed the correctness check (marked WRONG): ${wrong.map((r) => r.key).join(', ')}\n`);
  process.stdout.write(`\nrel. time: the row's median over its case's first row (ours, first setting); < 1 is faster\n`);
}

function short(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 3)}...` : s;
}
