import { busFactor, type Row } from './plan.js';
import { statsOf } from './stats.js';

/** The console table, one block per collective and device, in nccl-tests' column order. */

const fmt = (x: number, digits = 2) => (x >= 1e5 ? x.toExponential(2) : x.toFixed(digits));
const size = (b: number) => (b >= 1 << 20 ? `${b / (1 << 20)} MiB` : b >= 1024 ? `${b / 1024} KiB` : `${b} B`);

export function printTable(rows: Row[], n: number, log: (line: string) => void): void {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const k = `${r.impl} | ${r.coll} | ${r.device}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  for (const [key, rs] of groups) {
    const coll = rs[0].coll;
    log('');
    log(`# ${key}, ${n} ranks, busbw = algbw x ${fmt(busFactor(coll, n), 3)}`);
    log(
      `#${'size'.padStart(10)} ${'count'.padStart(10)} ${'type'.padStart(6)} ${'redop'.padStart(5)} |` +
        ` ${'out-of-place'.padStart(52)} | ${'in-place'.padStart(52)} | ${'staging'.padStart(9)}`,
    );
    log(
      `#${''.padStart(10)} ${''.padStart(10)} ${''.padStart(6)} ${''.padStart(5)} |` +
        `${[0, 1].map(() => ` ${'time'.padStart(9)} ${'algbw'.padStart(6)} ${'busbw'.padStart(6)} ${'#wrong'.padStart(6)} ${'t_min'.padStart(8)} ${'t_max'.padStart(8)} ${'sd'.padStart(6)} |`).join('')} ${'(us)'.padStart(9)}`,
    );
    const bySize = new Map<number, Row[]>();
    for (const r of rs) bySize.set(r.bytes, [...(bySize.get(r.bytes) ?? []), r]);
    for (const [bytes, pair] of bySize) {
      const cells = [false, true].map((ip) => {
        const r = pair.find((x) => x.inPlace === ip);
        if (!r) return ` ${'-'.padStart(52)} |`;
        const s = statsOf(r, n);
        return ` ${fmt(s.time_us, 1).padStart(9)} ${fmt(s.algbw).padStart(6)} ${fmt(s.busbw).padStart(6)} ${String(r.wrong).padStart(6)} ${fmt(s.t_min_us, 1).padStart(8)} ${fmt(s.t_max_us, 1).padStart(8)} ${fmt(s.stddev_us, 1).padStart(6)} |`;
      });
      const stage = pair.find((x) => x.stage_us !== undefined)?.stage_us;
      log(
        ` ${size(bytes).padStart(10)} ${String(pair[0].count).padStart(10)} ${'float'.padStart(6)} ${(coll === 'allReduce' || coll === 'reduceScatter' ? 'sum' : 'none').padStart(5)} |${cells.join('')} ${stage === undefined ? '' : fmt(stage, 1).padStart(9)}`,
      );
    }
  }
}
