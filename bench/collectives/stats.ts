import { busFactor, type Row } from './plan.js';

/** A row's numbers as nccl-tests prints them: mean time, algbw and busbw (GB/s), spread. */
export interface RowStats {
  time_us: number;
  algbw: number;
  busbw: number;
  t_min_us: number;
  t_max_us: number;
  stddev_us: number;
}

export function statsOf(r: Row, n: number): RowStats {
  const t = r.times_us;
  const mean = t.reduce((a, b) => a + b, 0) / t.length;
  const sd = Math.sqrt(t.reduce((a, b) => a + (b - mean) ** 2, 0) / t.length);
  const algbw = r.bytes / (mean * 1e-6) / 1e9;
  return { time_us: mean, algbw, busbw: algbw * busFactor(r.coll, n), t_min_us: Math.min(...t), t_max_us: Math.max(...t), stddev_us: sd };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
