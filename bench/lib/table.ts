/** Console tables for benchmark results (cli-table3), with number formats that read at a glance. */
import Table from 'cli-table3';
import { tableStyle } from '../../src/color.js';

export function printTable(title: string, head: string[], rows: (string | number)[][]): void {
  // No rule between rows: a run has dozens of them, and the columns already line them up. Colour
  // on a terminal only (src/color.ts).
  const t = new Table({ head, style: { ...tableStyle(process.stdout), compact: true } });
  for (const r of rows) t.push(r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  process.stdout.write(`\n${title}\n${t.toString()}\n`);
}

/** Three significant digits, no exponent for the ranges benchmarks produce. */
export function fmt(x: number | undefined, digits = 3): string {
  if (x === undefined || Number.isNaN(x)) return '-';
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const mag = Math.floor(Math.log10(Math.abs(x)));
  return x.toFixed(Math.max(0, digits - 1 - mag));
}

export const pct = (x: number | undefined): string => (x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);

/** 1048576 -> "1M", 4096 -> "4K". */
export function sizeLabel(n: number): string {
  if (n % 2 ** 20 === 0) return `${n / 2 ** 20}M`;
  if (n % 2 ** 10 === 0) return `${n / 2 ** 10}K`;
  return String(n);
}
