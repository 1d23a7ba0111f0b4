/** The tables printed at the end of a run (cli-table3): the roofline, then one table per suite. */
import type { BenchResults, Row } from './records.js';
import { seriesName } from './records.js';
import type { Ceiling } from './ceiling.js';
import { ABOVE_ROOFLINE, type Roofline } from './roofline.js';
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

/**
 * '1.04x [0.98-1.10]': the ratio of medians, then the per-round ratios' confidence interval
 * (paired.ts); an interval that holds 1 means parity within this run's noise.
 */
export function relativeCell(r: Row): string {
  if (!r.relative) return '-';
  const p = r.relative.paired;
  return `${fmt(r.relative.ratio)}x${p ? ` [${fmt(p.lo)}-${fmt(p.hi)}]` : ''}`;
}

const TRAFFIC: Record<string, string> = { read: 'read', copy: 'copy', 'read+write': 'r+w' };

/** '83.2% flops', '61.0% bytes (read)'; a row above its roofline says so: it is an error, not a result. */
export function rooflineCell(r: Row): string {
  const f = r.roofline;
  if (!f) return '-';
  const what = f.bound === 'compute' ? 'flops' : `bytes${f.traffic ? ` (${TRAFFIC[f.traffic]})` : ''}`;
  return `${pct(f.fraction)} ${what}${f.flag ? ' ABOVE: error' : ''}`;
}

const UNIT: Record<Ceiling['kind'], string> = { 'fma-f32': 'GFLOP/s', 'fma-f16': 'GFLOP/s', read: 'GB/s', copy: 'GB/s' };

/** Every probe of every device; '*' marks the one each ceiling was taken from. */
export function ceilingRows(roofline: Roofline): string[][] {
  return Object.values(roofline).flatMap((d) => {
    const used = new Map<string, number>([
      ['fma-f32', d.peakGflops],
      ['fma-f16', d.peakGflopsF16 ?? 0],
      ['copy', d.bandwidthGBps],
      ['read', d.readGBps ?? 0],
    ]);
    return (d.ceilings ?? []).map((c) => [
      d.device,
      c.kind,
      `${fmt(c.value)} ${UNIT[c.kind]}${c.value === used.get(c.kind) ? ' *' : ''}`,
      `${c.method}${c.estimate ? ' [ESTIMATE]' : ''}${c.recheck ? ' (again, after the suites)' : ''}`,
      c.workingSetBytes ? `${Math.round(c.workingSetBytes / 2 ** 20)} MiB` : '-',
      pct(c.stats.spread),
    ]);
  });
}

export function printRoofline(roofline: Roofline): void {
  printTable(
    'Roofline ceilings (probes, once per run; the fastest pass of each; * = the one used)',
    ['device', 'ceiling', 'value', 'method', 'working set', 'spread'],
    ceilingRows(roofline),
  );
  for (const d of Object.values(roofline)) {
    const read = d.readGBps ?? d.bandwidthGBps;
    process.stdout.write(
      `${d.device}: peak ${fmt(d.peakGflops)} GFLOP/s f32${d.peakGflopsF16 ? `, ${fmt(d.peakGflopsF16)} f16` : ''}; read ${fmt(read)} GB/s, copy ${fmt(d.bandwidthGBps)} GB/s (read + written); ridge at ${fmt(d.peakGflops / read)} flop/byte (read)\n`,
    );
  }
}

export function printSuiteRows(suite: string, description: string | undefined, rows: Row[], notes: string[]): void {
  printTable(
    `${suite}${description ? `: ${description}` : ''}`,
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
      relativeCell(r),
      checkCell(r),
      short(r.note ?? '', 40),
    ]),
  );
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
}

export function printResults(results: BenchResults): void {
  printRoofline(results.roofline);
  for (const s of results.suites) {
    if (s.status !== 'ran') continue;
    printSuiteRows(
      s.name,
      s.description,
      results.rows.filter((r) => r.suite === s.name),
      s.notes,
    );
  }
  const missing = results.suites.filter((s) => s.status !== 'ran');
  for (const s of missing) process.stdout.write(`\n${s.name}: ${s.status}${s.error ? ` (${s.error})` : ''}\n`);
  const above = results.rows.filter((r) => r.roofline?.flag);
  if (above.length)
    process.stdout.write(
      `\n${above.length} row(s) ${ABOVE_ROOFLINE}: ${above.map((r) => `${r.key} (${pct(r.roofline?.fraction)})`).join(', ')}\n`,
    );
  const wrong = results.rows.filter((r) => r.status === 'wrong');
  if (wrong.length)
    process.stdout.write(`\n${wrong.length} row(s) failed the correctness check (marked WRONG): ${wrong.map((r) => r.key).join(', ')}\n`);
  process.stdout.write(
    `\nrel. time: the row's median over its case's first row (ours, first setting); < 1 is faster. [lo-hi]: the round-by-round ratios' ~95% interval (order statistics); one that holds 1 is parity within this run's noise\n`,
  );
}

function short(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 3)}...` : s;
}
