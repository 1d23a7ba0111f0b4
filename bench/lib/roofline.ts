/**
 * The roofline, measured once per run on each selected device: copy bandwidth (the memory bound)
 * and the best GEMM rate xpu.matmul reaches (the compute bound). A row's fraction is the larger of
 * its two bounds' times over its achieved time: how close it is to the bound that applies.
 */
import type { DeviceName } from '../suite.js';
import { cpuCopyBandwidth, xpuBufferCopyBandwidth, type CopyBandwidth } from './bandwidth.js';
import { gemmRate, type GemmRate } from './gemm_peak.js';
import { nativeGemmUnavailable } from '../../src/backends/cpu/native_gemm.js';
import type { RooflineFraction } from './records.js';
import type { RepeatOptions } from './timing.js';

export interface DeviceRoofline {
  device: DeviceName;
  /** GB/s, read + written. */
  bandwidthGBps: number;
  /** GFLOP/s, the best of the GEMM sizes tried (f32). */
  peakGflops: number;
  copy: CopyBandwidth;
  gemm: GemmRate[];
}

export type Roofline = Partial<Record<DeviceName, DeviceRoofline>>;

/** Square GEMM sizes tried per device. The cpu kernels are plain TypeScript: smaller sizes. */
const GEMM_SIZES: Record<DeviceName, { quick: number[]; full: number[] }> = {
  xpu: { quick: [256, 512], full: [256, 512, 1024] },
  cpu: { quick: [128, 256], full: [128, 256, 512] },
};
/** With the native (oneDNN) GEMM the cpu reaches its rate only at larger sizes. */
const CPU_NATIVE_GEMM_SIZES = { quick: [512, 1024], full: [512, 1024, 2048] };
const gemmSizes = (device: DeviceName): { quick: number[]; full: number[] } =>
  device === 'cpu' && nativeGemmUnavailable() === null ? CPU_NATIVE_GEMM_SIZES : GEMM_SIZES[device];

/** How many measurements measureRoofline makes (for a progress bar). */
export function rooflineSteps(devices: DeviceName[], quick: boolean): number {
  return devices.reduce((s, d) => s + 1 + gemmSizes(d)[quick ? 'quick' : 'full'].length, 0);
}

export async function measureRoofline(devices: DeviceName[], quick: boolean, step: (label: string) => void = () => {}): Promise<Roofline> {
  const opts: RepeatOptions = quick ? { warmup: 1, reps: 3 } : { warmup: 1, reps: 5 };
  const out: Roofline = {};
  for (const device of devices) {
    step(`roofline: ${device} copy bandwidth`);
    const copy = device === 'xpu' ? await xpuBufferCopyBandwidth(opts) : await cpuCopyBandwidth(opts);
    const gemm: GemmRate[] = [];
    for (const n of gemmSizes(device)[quick ? 'quick' : 'full']) {
      step(`roofline: ${device} matmul ${n}`);
      gemm.push(await gemmRate(device, n, opts));
    }
    // A size whose check failed does not set the peak; if none passed, the peak is unknown (0).
    const peakGflops = Math.max(0, ...gemm.filter((g) => g.check.ok).map((g) => g.gflops));
    out[device] = { device, bandwidthGBps: copy.gbps, peakGflops, copy, gemm };
  }
  return out;
}

/**
 * max(flops / peak, bytes / bandwidth) over the achieved time. A bound whose peak is unknown
 * (0) is left out; with neither known there is no fraction.
 */
export function rooflineFraction(flops: number, bytes: number, achievedMs: number, r: DeviceRoofline | undefined): RooflineFraction | undefined {
  if (!r || !(achievedMs > 0)) return undefined;
  const computeMs = r.peakGflops > 0 ? flops / (r.peakGflops * 1e6) : 0;
  const memoryMs = r.bandwidthGBps > 0 ? bytes / (r.bandwidthGBps * 1e6) : 0;
  const boundMs = Math.max(computeMs, memoryMs);
  if (!(boundMs > 0)) return undefined;
  return { fraction: boundMs / achievedMs, bound: computeMs > memoryMs ? 'compute' : 'memory', boundMs };
}
