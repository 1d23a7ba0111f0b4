import {
  cpuDevice,
  currentXpu,
  defaultDevice as defaultDev,
  isReady,
  ready,
  resolveDevice,
  setCurrentXpu,
  unavailableReason,
  xpuEntries,
  xpuEntry,
  type XpuDeviceInfo,
} from './registry.js';
import type { Device, DeviceLike } from './device.js';
import { XpuDeviceError } from '../errors.js';
import type { MemoryStats } from '../backends/webgpu/allocator.js';
import type { TuneGemmOptions, TunedGemm } from '../backends/webgpu/gemm_autotune.js';
export type { TuneGemmOptions, TunedGemm } from '../backends/webgpu/gemm_autotune.js';
import type { AttentionTuneShape, TuneAttentionOptions, TunedAttention } from '../backends/webgpu/attention_autotune.js';
export type { AttentionTuneShape, TuneAttentionOptions, TunedAttention } from '../backends/webgpu/attention_autotune.js';
export type { XpuDeviceInfo } from './registry.js';

/**
 * The device-agnostic accelerator API, with the meaning of torch.accelerator / torch.xpu. The
 * xpu devices are known once `await xpu.ready()` has resolved: before that isAvailable() is false
 * and unavailable() says so; calls that need a device throw XpuNotReadyError, while the async
 * ones (synchronize, tuneGemm, tuneAttention) open the GPU themselves.
 */
export const isAvailable = (): boolean => xpuEntries().length > 0;
export const deviceCount = (): number => xpuEntries().length;
export const currentDevice = (): number => currentXpu();
export const setDevice = (i: number): void => setCurrentXpu(i);
/** Why no accelerator is available (null when one is). */
export const unavailable = (): string | null => unavailableReason();
export { ready, isReady };

/** An xpu index, an xpu device ('xpu', 'xpu:1', a Device), or the current xpu (undefined). */
export type XpuSelector = number | DeviceLike | undefined;

/** The xpu entry a selector names; cpu is refused (these calls are about GPU adapters). */
function entry(op: string, which: XpuSelector) {
  if (which === undefined || typeof which === 'number') return xpuEntry(op, which);
  const d = resolveDevice(op, which);
  if (d.type === 'cpu')
    throw new XpuDeviceError('cpu is not an accelerator', {
      op,
      arg: 'device',
      expected: "an xpu device: an index, 'xpu' or 'xpu:N'",
      got: "'cpu'",
    });
  return xpuEntry(op, d.index);
}

/** Whether a selector names an xpu device (so an async call should open the GPU first). */
const namesXpu = (which: XpuSelector): boolean => which === undefined || typeof which === 'number' || String(which).startsWith('xpu');

/**
 * Waits until every queued kernel on a device has finished: an xpu index, or a device ('cpu',
 * 'xpu:1', a Device). With no argument: the current xpu (if any) and the cpu, whose native GEMMs
 * also run asynchronously on the addon's compute thread.
 */
export async function synchronize(which?: number | DeviceLike): Promise<void> {
  if (which === undefined) {
    await cpuDevice.backend.synchronize();
    // Before ready() no xpu work can have been queued: nothing to wait for, nothing to open.
    if (isAvailable()) await entry('accelerator.synchronize', undefined).backend.synchronize();
    return;
  }
  if (namesXpu(which)) await ready();
  if (typeof which === 'number') {
    await entry('accelerator.synchronize', which).backend.synchronize();
    return;
  }
  await resolveDevice('accelerator.synchronize', which).backend.synchronize();
}

/** The adapter behind an xpu device: an index, 'xpu', 'xpu:N' or a Device (default: the current one). */
export function getDeviceInfo(which?: XpuSelector): XpuDeviceInfo {
  return entry('accelerator.getDeviceInfo', which).info;
}

export function getDeviceName(which?: XpuSelector): string {
  return entry('accelerator.getDeviceName', which).info.description;
}

/** The GPU caching allocator's counters of an xpu device (an index, 'xpu', 'xpu:N' or a Device). */
export function memoryStats(which?: XpuSelector): MemoryStats {
  return entry('accelerator.memoryStats', which).backend.allocator.stats();
}

export function memoryAllocated(which?: XpuSelector): number {
  return memoryStats(which).allocatedBytes;
}

export function maxMemoryAllocated(which?: XpuSelector): number {
  return memoryStats(which).peakAllocatedBytes;
}

export function resetPeakMemoryStats(which?: XpuSelector): void {
  entry('accelerator.resetPeakMemoryStats', which).backend.allocator.resetPeak();
}

/** Frees every cached, unused GPU block (torch.xpu.empty_cache); nothing to do without an xpu. */
export function emptyCache(which?: XpuSelector): void {
  if (!isAvailable()) return;
  entry('accelerator.emptyCache', which).backend.emptyCache();
}

/** A Device object: device('cpu'), device('xpu'), device('xpu:0'). */
export function device(like: DeviceLike): Device {
  return resolveDevice('device', like);
}

/**
 * The default device for new tensors: XPU_DEVICE when set; else, once ready() has resolved, the
 * current xpu when it is a hardware adapter; else cpu (the rule lives in registry.defaultDevice).
 */
export function defaultDevice(): Device {
  return defaultDev();
}

export const cpu = cpuDevice;

/**
 * Measures GEMM configs for the shape buckets of `shapes` ([m, n, k] each) on an xpu device and
 * keeps the fastest per bucket: used by matmul at once, and cached on disk per adapter
 * ($XDG_CACHE_HOME/xpu/). See gemm_tuner.ts for XPU_AUTOTUNE=off|on|force.
 */
export async function tuneGemm(
  shapes: readonly (readonly [number, number, number])[],
  options: TuneGemmOptions & { device?: number } = {},
): Promise<TunedGemm[]> {
  await ready();
  const e = entry('accelerator.tuneGemm', options.device);
  const { tuneGemmOn } = await import('../backends/webgpu/gemm_autotune.js');
  return tuneGemmOn(e.backend, shapes, options);
}

/**
 * Measures attention configs (attentionCandidates) for the shape buckets of `shapes` on an xpu
 * device and keeps the fastest per bucket: used by attention at once, and cached on disk per
 * adapter ($XDG_CACHE_HOME/xpu/attention-*.json). XPU_AUTOTUNE means what it does for tuneGemm.
 */
export async function tuneAttention(
  shapes: readonly AttentionTuneShape[],
  options: TuneAttentionOptions & { device?: number } = {},
): Promise<TunedAttention[]> {
  await ready();
  const e = entry('accelerator.tuneAttention', options.device);
  const { tuneAttentionOn } = await import('../backends/webgpu/attention_autotune.js');
  return tuneAttentionOn(e.backend, shapes, options);
}
