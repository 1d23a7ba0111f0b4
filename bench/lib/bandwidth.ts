/**
 * Copy bandwidth per device: the memory side of the roofline (bench/lib/roofline.ts). Bytes count
 * what is read plus what is written (2 x the buffer), as STREAM's copy does. The runtime's own copy
 * kernel (clone) is not the ceiling but a benchmarked kernel: bench/elementwise measures it.
 */
import * as xpu from '../../src/index.js';
import { xpuEntries } from '../../src/device/registry.js';
import { gbPerSecond, repeat, type RepeatOptions, type Stats } from './timing.js';

export interface CopyBandwidth {
  device: 'xpu' | 'cpu';
  /** How the copy was made. */
  method: string;
  elements: number;
  bytes: number;
  stats: Stats;
  gbps: number;
}

/** 16M f32 = 64 MiB per buffer: twice the L3, below lavapipe's 128 MiB binding limit. */
export const COPY_ELEMENTS = 16 * 2 ** 20;

/**
 * copyBufferToBuffer on the runtime's own GPUDevice: the driver's copy path, no shader. The
 * buffers are made here (the runtime does not expose raw buffers); the device is reached through
 * the registry, which a benchmark may do and user code should not.
 */
export async function xpuBufferCopyBandwidth(opts: RepeatOptions, n = COPY_ELEMENTS): Promise<CopyBandwidth> {
  const device = xpuEntries()[0].backend.device;
  await xpu.accelerator.synchronize();
  const bytes = 4 * n;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const bufs = Array.from({ length: 4 }, () => device.createBuffer({ size: bytes, usage }));
  const perRun = 4;
  let i = 0;
  const stats = await repeat(async () => {
    const enc = device.createCommandEncoder();
    for (let k = 0; k < perRun; k++, i++) enc.copyBufferToBuffer(bufs[(2 * i) % 4], 0, bufs[(2 * i + 1) % 4], 0, bytes);
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  }, perRun, opts);
  for (const b of bufs) b.destroy();
  return { device: 'xpu', method: 'copyBufferToBuffer (no shader)', elements: n, bytes: 2 * bytes, stats, gbps: gbPerSecond(2 * bytes, stats.medianMs) };
}

/** Float32Array.set: V8's memcpy, the best a TypeScript kernel could hope to stream at. */
export async function cpuCopyBandwidth(opts: RepeatOptions, n = COPY_ELEMENTS): Promise<CopyBandwidth> {
  const a = [new Float32Array(n).fill(1), new Float32Array(n).fill(2)];
  // fill() touches every page now, so no timed run pays the first-touch page faults.
  const b = [new Float32Array(n).fill(0), new Float32Array(n).fill(0)];
  let i = 0;
  const stats = await repeat(() => {
    b[i % 2].set(a[i % 2]);
    i++;
  }, 1, opts);
  const bytes = 2 * 4 * n;
  return { device: 'cpu', method: 'Float32Array.set (memcpy)', elements: n, bytes, stats, gbps: gbPerSecond(bytes, stats.medianMs) };
}
