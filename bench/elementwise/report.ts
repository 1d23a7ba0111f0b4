/** Console tables for the elementwise suite. */
import type { CopyBandwidth } from '../lib/bandwidth.js';
import type { Check } from '../lib/check.js';
import type { OverheadRow, PollRow, ThroughputRow } from '../lib/records.js';
import { fmt, pct, printTable, sizeLabel } from '../lib/table.js';

const checkCell = (c: Check | undefined): string => (!c ? '-' : c.ok ? `ok ${c.relErr.toExponential(1)}` : `WRONG ${c.error ?? c.relErr.toExponential(1)}`);

export function printCopy(rows: CopyBandwidth[]): void {
  printTable('Copy bandwidth (bytes read + written)', ['device', 'method', 'size', 'GB/s', 'spread'],
    rows.map((r) => [r.device, r.method, `${sizeLabel(r.elements)} f32`, r.gbps, pct(r.stats.spread)]));
}

export function printThroughput(rows: ThroughputRow[]): void {
  printTable('Elementwise throughput (median; GB/s counts the bytes the op must move)',
    ['impl', 'op', 'elements', 'poll', 'ms/op', 'GB/s', 'of copy', 'spread', 'check', 'note'],
    rows.map((r) => [r.impl, r.op, sizeLabel(r.elements), r.poll, fmt(r.stats?.medianMs), fmt(r.gbps), pct(r.fractionOfCopy), pct(r.stats?.spread), checkCell(r.check), short(r.note)]));
}

export function printOverhead(rows: OverheadRow[]): void {
  const xpuOf = (r: OverheadRow) => rows.find((x) => x.impl === 'xpu' && x.chain === r.chain)?.usPerOp;
  printTable('Per-op overhead: 1,000 dependent ops on [256], then one read-back',
    ['impl', 'chain', 'poll', 'µs/op', 'vs xpu', 'spread', 'check', 'note'],
    rows.map((r) => {
      const base = xpuOf(r);
      return [r.impl, r.chain, r.poll, fmt(r.usPerOp), r.usPerOp && base ? `${fmt(r.usPerOp / base)}x` : '-', pct(r.stats?.spread), checkCell(r.check), short(r.note)];
    }));
}

export function printPolling(rows: PollRow[]): void {
  printTable('Poll strategy (same run; ratio < 1 is faster than spin)', ['impl', 'workload', 'poll', 'ms/op', 'vs spin', 'spread', 'note'],
    rows.map((r) => [r.impl, r.workload, r.poll, fmt(r.stats?.medianMs), r.ratioToSpin === undefined ? '-' : `${fmt(r.ratioToSpin)}x`, pct(r.stats?.spread), short(r.note)]));
}

function short(note: string | undefined): string {
  if (!note) return '';
  return note.length > 60 ? `${note.slice(0, 57)}...` : note;
}
