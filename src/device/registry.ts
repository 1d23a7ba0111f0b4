import { CpuBackend } from '../backends/cpu/backend.js';
import { openDawnDevice } from '../backends/webgpu/dawn.js';
import { WebGPUBackend } from '../backends/webgpu/backend.js';
import { XpuDeviceError, XpuNotReadyError } from '../errors.js';
import { settings } from '../settings.js';
import { withoutDawnNoise } from './stderr_filter.js';
import { Device, type DeviceLike } from './device.js';

export interface XpuDeviceInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  driver: string;
  isFallbackAdapter: boolean;
  isSoftware: boolean;
  features: string[];
  limits: Record<string, number>;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  dawnVersion: string;
}

interface XpuEntry {
  device: Device;
  backend: WebGPUBackend;
  info: XpuDeviceInfo;
}

export const cpuDevice = new Device('cpu', 0, new CpuBackend());
const xpus: XpuEntry[] = [];
let current = 0;
let why: string | null = null;
let opening: Promise<void> | null = null;
let opened = false;

/** Dawn 0.6.2 does not report its backend; it is the platform's native one unless forced. */
function inferBackend(): string {
  if (settings.XPU_BACKEND) return settings.XPU_BACKEND;
  return process.platform === 'darwin' ? 'metal' : process.platform === 'win32' ? 'd3d12' : 'vulkan';
}

function describeAdapter(adapter: GPUAdapter, device: GPUDevice, features: string[], dawnVersion: string): XpuDeviceInfo {
  const info = adapter.info as GPUAdapterInfo & {
    backendType?: string;
    driverDescription?: string;
    isFallbackAdapter?: boolean;
    subgroupMinSize?: number;
    subgroupMaxSize?: number;
  };
  const limits: Record<string, number> = {};
  for (const key in device.limits) {
    const v = (device.limits as unknown as Record<string, unknown>)[key];
    if (typeof v === 'number') limits[key] = v;
  }
  const fallback = Boolean(info.isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter);
  const software =
    fallback || /llvmpipe|lavapipe|swiftshader|software|warp/i.test(`${info.architecture} ${info.description} ${info.device}`);
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    backend: info.backendType ?? inferBackend(),
    driver: info.driverDescription ?? info.description,
    isFallbackAdapter: fallback,
    isSoftware: software,
    features: [...adapter.features].sort(),
    limits,
    subgroupMinSize: info.subgroupMinSize,
    subgroupMaxSize: info.subgroupMaxSize,
    dawnVersion,
  };
}

/**
 * What XPU_DEVICE asks for: 'cpu' (the GPU is never opened), 'xpu' or 'xpu:N' (that device is
 * the default even when it is a software adapter), or nothing (the automatic choice).
 */
type Wanted = { type: 'cpu' } | { type: 'xpu'; index?: number } | null;

function wantedDevice(op: string): Wanted {
  const raw = settings.XPU_DEVICE?.trim().toLowerCase();
  if (!raw) return null;
  const m = DEVICE_PATTERN.exec(raw);
  if (!m)
    throw new XpuDeviceError('XPU_DEVICE names no device', {
      op,
      arg: 'XPU_DEVICE',
      expected: "'cpu', 'xpu' or 'xpu:N'",
      got: `'${settings.XPU_DEVICE}'`,
    });
  return m[1] === 'cpu' ? { type: 'cpu' } : { type: 'xpu', index: m[2] === undefined ? undefined : Number(m[2]) };
}

/** 'cpu', 'xpu', 'xpu:N': the one grammar of device strings (arguments and XPU_DEVICE). */
const DEVICE_PATTERN = /^(cpu|xpu)(?::(\d+))?$/;

async function open(): Promise<void> {
  try {
    if (wantedDevice('ready')?.type === 'cpu') {
      why = 'XPU_DEVICE=cpu';
      return;
    }
    const r = await openDawnDevice(withoutDawnNoise);
    if (typeof r === 'string') {
      why = r;
      if (!settings.XPU_QUIET) process.stderr.write(`xpu: no GPU device, running on cpu: ${r}\n`);
      return;
    }
    const backend = new WebGPUBackend(r.device, r.features);
    xpus.push({ device: new Device('xpu', 0, backend), backend, info: describeAdapter(r.adapter, r.device, r.features, r.dawnVersion) });
  } finally {
    opened = true;
  }
}

/**
 * Opens the GPU, once: the first call starts it, every call returns the same promise, which
 * resolves to the default device. Nothing opens the GPU at import, so `import` and `require` of
 * the package both work and a cpu-only program never touches Dawn; an xpu device can be used once
 * this has resolved. XPU_DEVICE=cpu skips the GPU entirely. Without an adapter the default device
 * is cpu, and one line on stderr says why (XPU_QUIET=1: none).
 */
export async function ready(): Promise<Device> {
  opening ??= open();
  await opening;
  return defaultDevice('ready');
}

/** Whether ready() has finished (the xpu devices, if any, are known). */
export function isReady(): boolean {
  return opened;
}

function notReady(op: string, got: string): XpuNotReadyError {
  return new XpuNotReadyError(opening ? 'the GPU is still being opened' : 'the GPU has not been opened yet', {
    op,
    arg: 'device',
    expected: 'await xpu.ready() before the first use of an xpu device (cpu needs no wait)',
    got,
  });
}

/** Why there is no xpu device (null when there is one). */
export function unavailableReason(): string | null {
  if (!opened) return opening ? 'xpu.ready() has not resolved yet' : 'xpu.ready() has not been called yet';
  return xpus.length ? null : why;
}

export function xpuEntries(): readonly XpuEntry[] {
  return xpus;
}

/** The entry of xpu device `i` (the current one by default); throws the reason there is none. */
export function xpuEntry(op: string, i?: number): XpuEntry {
  if (!opened) throw notReady(op, i === undefined ? 'the current xpu device' : `xpu:${i}`);
  const idx = i ?? current;
  const e = xpus[idx];
  if (!e) {
    throw new XpuDeviceError('no such xpu device', {
      op,
      arg: 'device',
      expected: xpus.length ? `an index in [0, ${xpus.length - 1}]` : 'an available xpu device',
      got: `${idx}${why ? ` (${why})` : ''}`,
    });
  }
  return e;
}

export function currentXpu(): number {
  return current;
}

export function setCurrentXpu(i: number): void {
  if (!opened) throw notReady('accelerator.setDevice', `xpu:${i}`);
  if (!Number.isInteger(i) || i < 0 || i >= xpus.length) {
    throw new XpuDeviceError('no such device', {
      op: 'accelerator.setDevice',
      arg: 'device',
      expected: xpus.length ? `an index in [0, ${xpus.length - 1}]` : 'no index: no xpu device is available',
      got: String(i),
    });
  }
  current = i;
}

/**
 * The default device, decided here only. XPU_DEVICE=cpu / xpu / xpu:N decides it when set (an xpu
 * named there needs ready() first). Otherwise: cpu until ready() has resolved, then the current xpu
 * when it is a hardware adapter, else cpu. A software or fallback adapter (lavapipe, SwiftShader,
 * WARP) is never the default: a small MLP took 9.4 ms on lavapipe and 1.6 ms on the cpu device. It
 * stays available as 'xpu' for whoever asks for it.
 */
export function defaultDevice(op = 'defaultDevice'): Device {
  const wanted = wantedDevice(op);
  if (wanted?.type === 'cpu') return cpuDevice;
  if (wanted?.type === 'xpu') {
    if (!opened) throw notReady(op, `XPU_DEVICE=${settings.XPU_DEVICE} as the default device`);
    const e = xpus[wanted.index ?? current];
    if (!e)
      throw new XpuDeviceError('XPU_DEVICE names an xpu device that is not available', {
        op,
        arg: 'XPU_DEVICE',
        expected: xpus.length ? `xpu:0..xpu:${xpus.length - 1}` : 'a GPU adapter',
        got: `${settings.XPU_DEVICE}${why ? ` (${why})` : ''}`,
      });
    return e.device;
  }
  const e = opened ? xpus[current] : undefined;
  return e && !e.info.isSoftware ? e.device : cpuDevice;
}

/** Why the default device is what it is, in words (for `xpu info`). */
export function defaultReason(): string {
  const wanted = wantedDevice('defaultReason');
  if (wanted) return `XPU_DEVICE=${settings.XPU_DEVICE}`;
  if (!opened) return 'xpu.ready() has not resolved yet';
  const e = xpus[current];
  if (!e) return `no xpu device (${why})`;
  if (e.info.isSoftware) return `xpu:${current} is a software adapter (${e.info.description}): use it with device 'xpu' or XPU_DEVICE=xpu`;
  return `xpu:${current} is a hardware adapter`;
}

export function resolveDevice(op: string, like: DeviceLike | undefined): Device {
  if (like === undefined) return defaultDevice(op);
  if (like instanceof Device) return like;
  const m = DEVICE_PATTERN.exec(String(like));
  if (!m) throw new XpuDeviceError('unknown device', { op, arg: 'device', expected: "'cpu', 'xpu' or 'xpu:N'", got: String(like) });
  if (m[1] === 'cpu') return cpuDevice;
  if (!opened) throw notReady(op, `'${like}'`);
  const i = m[2] === undefined ? current : Number(m[2]);
  if (!xpus[i]) {
    throw new XpuDeviceError('xpu device is not available', {
      op,
      arg: 'device',
      expected: xpus.length ? `xpu:0..xpu:${xpus.length - 1}` : 'a GPU adapter',
      got: `${like}${why ? ` (${why})` : ''}`,
    });
  }
  return xpus[i].device;
}
