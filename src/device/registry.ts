import { CpuBackend } from '../backends/cpu/backend.js';
import { openDawnDevice } from '../backends/webgpu/dawn.js';
import { WebGPUBackend } from '../backends/webgpu/backend.js';
import { XpuDeviceError } from '../errors.js';
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
let initialised: Promise<void> | null = null;

/** Dawn 0.6.2 does not report its backend; it is the platform's native one unless forced. */
function inferBackend(): string {
  if (process.env.XPU_BACKEND) return process.env.XPU_BACKEND;
  return process.platform === 'darwin' ? 'metal' : process.platform === 'win32' ? 'd3d12' : 'vulkan';
}

function describeAdapter(adapter: GPUAdapter, device: GPUDevice, features: string[], dawnVersion: string): XpuDeviceInfo {
  const info = adapter.info as GPUAdapterInfo & { backendType?: string; driverDescription?: string; isFallbackAdapter?: boolean; subgroupMinSize?: number; subgroupMaxSize?: number };
  const limits: Record<string, number> = {};
  for (const key in device.limits) {
    const v = (device.limits as unknown as Record<string, unknown>)[key];
    if (typeof v === 'number') limits[key] = v;
  }
  const fallback = Boolean(info.isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter);
  const software = fallback || /llvmpipe|lavapipe|swiftshader|software|warp/i.test(`${info.architecture} ${info.description} ${info.device}`);
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
 * Opens the GPU once (at import of the package). XPU_DEVICE=cpu skips the GPU entirely. Without
 * an adapter the default device is cpu, and one line on stderr says why.
 */
export function initDevices(): Promise<void> {
  initialised ??= (async () => {
    const forced = process.env.XPU_DEVICE?.toLowerCase();
    if (forced === 'cpu') {
      why = 'XPU_DEVICE=cpu';
      return;
    }
    const r = await openDawnDevice();
    if (typeof r === 'string') {
      why = r;
      if (!process.env.XPU_QUIET) process.stderr.write(`xpu: no GPU device, running on cpu: ${r}\n`);
      return;
    }
    const backend = new WebGPUBackend(r.device, r.features);
    xpus.push({ device: new Device('xpu', 0, backend), backend, info: describeAdapter(r.adapter, r.device, r.features, r.dawnVersion) });
  })();
  return initialised;
}

/** Why there is no xpu device (null when there is one). */
export function unavailableReason(): string | null {
  return xpus.length ? null : why;
}

export function xpuEntries(): readonly XpuEntry[] {
  return xpus;
}

export function currentXpu(): number {
  return current;
}

export function setCurrentXpu(i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= xpus.length) {
    throw new XpuDeviceError('no such device', { op: 'accelerator.setDevice', arg: 'device', expected: xpus.length ? `an index in [0, ${xpus.length - 1}]` : 'no index: no xpu device is available', got: String(i) });
  }
  current = i;
}

/** The default device: the current xpu when there is one, otherwise cpu. */
export function defaultDevice(): Device {
  return xpus.length ? xpus[current].device : cpuDevice;
}

export function resolveDevice(op: string, like: DeviceLike | undefined): Device {
  if (like === undefined) return defaultDevice();
  if (like instanceof Device) return like;
  const m = /^(cpu|xpu)(?::(\d+))?$/.exec(String(like));
  if (!m) throw new XpuDeviceError('unknown device', { op, arg: 'device', expected: "'cpu', 'xpu' or 'xpu:N'", got: String(like) });
  if (m[1] === 'cpu') return cpuDevice;
  const i = m[2] === undefined ? current : Number(m[2]);
  if (!xpus[i]) {
    throw new XpuDeviceError('xpu device is not available', { op, arg: 'device', expected: xpus.length ? `xpu:0..xpu:${xpus.length - 1}` : 'a GPU adapter', got: `${like}${why ? ` (${why})` : ''}` });
  }
  return xpus[i].device;
}
