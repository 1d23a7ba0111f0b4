/**
 * The roofline, measured once per run on each selected device: its peak FMA rate (fma_peak.ts),
 * read bandwidth and copy bandwidth (bandwidth.ts), each from a probe made for the purpose, never
 * from a benchmarked kernel. A row's attainable rate is min(peak, intensity x bandwidth), with the
 * bandwidth that fits its traffic: bytes it only reads at the read bandwidth, bytes it writes at
 * what a copy leaves for writing; its fraction is the bound's time over its achieved time. A
 * fraction above 1 cannot be the hardware's doing: it is flagged as a measurement error (inputs
 * left in a cache, a wrong flop or byte count, or a ceiling measured while the machine was busy).
 */
import type { DeviceName } from '../suite.js';
import { cpuCopyBandwidth, cpuReadBandwidth, xpuBufferCopyBandwidth, xpuDevice, xpuShaderBandwidth } from './bandwidth.js';
import type { Ceiling } from './ceiling.js';
import { cpuFmaPeak, xpuFmaPeak } from './fma_peak.js';
import type { RepeatOptions } from './timing.js';

export interface DeviceRoofline {
  device: DeviceName;
  /** f32 FMA peak, GFLOP/s; 0 when unknown. */
  peakGflops: number;
  /** f16 FMA peak where it was measured (xpu with shader-f16); f16 rows are held to the higher of the two. */
  peakGflopsF16?: number;
  /**
   * Read bandwidth, GB/s: the best read probe, and never below the copy bandwidth (a kernel that
   * only reads can move bytes at least as fast as a copy does). Absent in schema-1 files: copy.
   */
  readGBps?: number;
  /** Copy bandwidth, GB/s, bytes read + written; 0 when its probes could not run. */
  bandwidthGBps: number;
  /** Every probe that was run (several methods per kind on xpu; the best of each kind is used). */
  ceilings?: Ceiling[];
}

/** A row's place under its roofline (records.ts stores it per row). */
export interface RooflineFraction {
  /** The bound's time / the achieved time (1 = at the roofline; above 1 = flagged). */
  fraction: number;
  /** Which bound is larger: flops / FMA peak, or bytes / the bandwidth that fits the row's traffic. */
  bound: 'compute' | 'memory';
  /** max(flops / peak, bytes / bandwidth), in ms. */
  boundMs: number;
  /**
   * What the row's bytes mostly are: 'read' (held to the read bandwidth), 'copy' (read and written
   * alike, or not split by the case: the copy bandwidth), 'read+write' (a mix). The bound counts
   * reads at the read bandwidth and writes at the copy's share whatever the label.
   */
  traffic?: 'read' | 'copy' | 'read+write';
  /** The bandwidth the row's bytes were held to (GB/s). */
  bandwidthGBps?: number;
  /** The FMA peak its flops were held to (GFLOP/s); absent when it has none. */
  peakGflops?: number;
  /**
   * 'above-roofline': the row beat the hardware's ceiling, which no kernel can: a measurement error
   * (inputs cached between runs, a wrong flop or byte count, a ceiling measured under load).
   */
  flag?: 'above-roofline';
}

export type Roofline = Partial<Record<DeviceName, DeviceRoofline>>;

/** Below this share of a row's bytes, writes (or the difference between reads and writes) do not name its traffic. */
const TRAFFIC_SHARE = 0.05;

/** What a row reads and writes, where its case says (bench/suite.ts). */
export interface Traffic {
  readBytes?: number;
  writeBytes?: number;
}

/** Which FMA peak a row's arithmetic is held to; null: none (e.g. int8 dot products, which are not FMAs). */
export type PeakKind = 'float32' | 'float16' | null;

/** The probes measureRoofline runs per device (for a progress bar). */
const STEPS: Record<DeviceName, string[]> = {
  xpu: ['fma f32', 'fma f16', 'read (WGSL)', 'copy (WGSL)', 'copy (copyBufferToBuffer)'],
  cpu: ['fma', 'read', 'copy'],
};

/** How many measurements measureRoofline makes (for a progress bar). */
export function rooflineSteps(devices: DeviceName[]): number {
  return devices.reduce((s, d) => s + STEPS[d].length, 0);
}

export async function measureRoofline(devices: DeviceName[], quick: boolean, step: (label: string) => void = () => {}): Promise<Roofline> {
  const opts: RepeatOptions = quick ? { warmup: 1, reps: 3 } : { warmup: 1, reps: 5 };
  const out: Roofline = {};
  for (const device of devices) {
    const ceilings: Ceiling[] = [];
    const run = async (label: string, probe: () => Ceiling | Promise<Ceiling> | null): Promise<void> => {
      step(`roofline: ${device} ${label}`);
      try {
        const c = await probe();
        if (c) ceilings.push(c);
      } catch (e) {
        // One probe that cannot run (a shader this adapter rejects) leaves that ceiling unknown, not the run.
        process.stderr.write(`xpu bench: roofline probe ${device} ${label} failed: ${(e as Error).message}\n`);
      }
    };
    if (device === 'xpu') {
      const f16 = xpuDevice().features.has('shader-f16');
      await run('fma f32', () => xpuFmaPeak('f32', opts));
      await run('fma f16', () => (f16 ? xpuFmaPeak('f16', opts) : null));
      await run('read (WGSL)', () => xpuShaderBandwidth('read', opts));
      await run('copy (WGSL)', () => xpuShaderBandwidth('copy', opts));
      await run('copy (copyBufferToBuffer)', () => xpuBufferCopyBandwidth(opts));
    } else {
      await run('fma', () => cpuFmaPeak(opts));
      await run('read', () => cpuReadBandwidth(opts));
      await run('copy', () => cpuCopyBandwidth(opts));
    }
    // A device none of whose probes ran has no roofline (its rows get no fraction), not one of zeros.
    if (ceilings.length) out[device] = deviceRoofline(device, ceilings);
  }
  return out;
}

/** The best ceiling of each kind; read is never below copy (see DeviceRoofline.readGBps). */
export function deviceRoofline(device: DeviceName, ceilings: Ceiling[]): DeviceRoofline {
  const best = (kind: Ceiling['kind']) => Math.max(0, ...ceilings.filter((c) => c.kind === kind).map((c) => c.value));
  const copy = best('copy');
  const r: DeviceRoofline = { device, peakGflops: best('fma-f32'), readGBps: Math.max(best('read'), copy), bandwidthGBps: copy, ceilings };
  const f16 = best('fma-f16');
  if (f16 > 0) r.peakGflopsF16 = f16;
  return r;
}

/**
 * The peak a row's dtype is held to by default: f16 rows to the f16 peak, the rest to f32's. An f16
 * row is held to the higher of the f16 and f32 peaks: f16 data may be computed in either (ours
 * accumulate in f32), and lavapipe's emulated f16 arithmetic is 5x slower than its f32.
 */
export const defaultPeak = (dtype: string): PeakKind => (dtype === 'float16' ? 'float16' : 'float32');

/**
 * How long `bytes` take at the device's bandwidths, and which bandwidth that was. Reads go at the
 * read bandwidth; writes at what a copy leaves for them (a copy of N bytes takes 2N / copy, of
 * which N / read is its reading), so a pure read is held to the read bandwidth, a copy to the copy
 * bandwidth, and anything between to a mix. A case that does not split its bytes is held to the
 * copy bandwidth, as every row was before the split existed.
 */
export function memoryTime(bytes: number, t: Traffic, r: DeviceRoofline): { ms: number; traffic: RooflineFraction['traffic'] } | undefined {
  const copy = r.bandwidthGBps;
  const read = Math.max(r.readGBps ?? 0, copy);
  if (!(copy > 0)) return undefined;
  if (t.readBytes === undefined && t.writeBytes === undefined) return { ms: bytes / (copy * 1e6), traffic: 'copy' };
  const write = t.writeBytes ?? Math.max(0, bytes - (t.readBytes ?? 0));
  const reads = t.readBytes ?? Math.max(0, bytes - write);
  const writeSecondsPerByte = 2 / copy - 1 / read; // > 0, since read >= copy
  const ms = (reads / read + write * writeSecondsPerByte) / 1e6;
  // The label names what dominates (a GEMV's 16 KiB output beside a 64 MiB weight is a read); the
  // time above counts every byte either way.
  const total = reads + write;
  const traffic = write <= TRAFFIC_SHARE * total ? 'read' : Math.abs(reads - write) <= TRAFFIC_SHARE * total ? 'copy' : 'read+write';
  return { ms, traffic };
}

/**
 * The row's bound: max(flops / peak, bytes at its bandwidth), i.e. the time min(peak, intensity x
 * bandwidth) allows, over the achieved time. A bound whose ceiling is unknown (0) is left out;
 * with neither known there is no fraction. Above 1 the row is flagged: no kernel beats the hardware.
 */
export function rooflineFraction(
  flops: number,
  bytes: number,
  achievedMs: number,
  r: DeviceRoofline | undefined,
  traffic: Traffic = {},
  peak: PeakKind = 'float32',
): RooflineFraction | undefined {
  if (!r || !(achievedMs > 0)) return undefined;
  const peakGflops = peak === null ? 0 : peak === 'float16' ? Math.max(r.peakGflopsF16 ?? 0, r.peakGflops) : r.peakGflops;
  const computeMs = peakGflops > 0 && flops > 0 ? flops / (peakGflops * 1e6) : 0;
  const mem = bytes > 0 ? memoryTime(bytes, traffic, r) : undefined;
  const memoryMs = mem?.ms ?? 0;
  const boundMs = Math.max(computeMs, memoryMs);
  if (!(boundMs > 0)) return undefined;
  const out: RooflineFraction = { fraction: boundMs / achievedMs, bound: computeMs > memoryMs ? 'compute' : 'memory', boundMs };
  if (mem) {
    out.traffic = mem.traffic;
    out.bandwidthGBps = bytes / (mem.ms * 1e6);
  }
  if (computeMs > 0) out.peakGflops = peakGflops;
  if (out.fraction > 1) out.flag = 'above-roofline';
  return out;
}

/** The flagged rows' explanation, for the tables and the report. */
export const ABOVE_ROOFLINE =
  'above the roofline: a measurement error, not speed (inputs left in a cache between runs, a wrong flop or byte count, or a ceiling measured while the machine was busy)';
