import { settings } from '../../settings.js';
import { installPollPacing, parsePollStrategy, setPollStrategy } from './poll.js';

/**
 * Finding a GPU through Dawn (the npm package `webgpu`).
 *
 * Hazard in webgpu 0.6.2: the object returned by create() owns Dawn's instance. If V8 collects it
 * while an adapter or device is alive, the next event poll touches freed memory (segfaults, futex
 * errors, hangs). A module-level const was not enough in a probe, so every instance is pinned in a
 * global registry for the life of the process.
 */
const PIN = Symbol.for('xpu.dawnInstances');
type Pinned = { instances: unknown[] };
const pinned: Pinned = ((globalThis as Record<symbol, unknown>)[PIN] as Pinned | undefined) ?? { instances: [] };
(globalThis as Record<symbol, unknown>)[PIN] = pinned;

/** The Dawn GPU object xpu opened (for peers like tfjs to share the same adapter in benchmarks). */
export function dawnInstance(): GPU | undefined {
  return pinned.instances.find((x) => typeof (x as GPU).requestAdapter === 'function') as GPU | undefined;
}

export interface AdapterChoice {
  adapter: GPUAdapter;
  device: GPUDevice;
  dawnVersion: string;
  features: string[];
}

/** Features we ask for when the adapter has them. */
const WANTED_FEATURES = [
  'shader-f16',
  'subgroups',
  'subgroup-size-control',
  'timestamp-query',
  'chromium-experimental-subgroup-matrix',
  'chromium-experimental-timestamp-query-inside-passes',
];

/** Limits we raise to the adapter's maximum (defaults are small: 128 MiB bindings, 16 KiB shared). */
const WANTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxUniformBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxTextureDimension2D',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxBindGroups',
];

function rank(a: GPUAdapter, requestedHighPerf: boolean): number {
  const vendor = a.info.vendor.toLowerCase();
  if (vendor === 'intel' || vendor.includes('8086')) return 0;
  const fallback = (a as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter || a.info.isFallbackAdapter;
  if (!fallback && requestedHighPerf) return 1;
  if (!fallback) return 2;
  return 3;
}

/**
 * Opens the preferred adapter: Intel first, then a discrete (high-performance) one, then any.
 * XPU_BACKEND (vulkan, metal, d3d12...) and XPU_ADAPTER (a name substring) pass through to Dawn.
 * Returns a reason string when there is no usable adapter.
 */
/**
 * Runs the synchronous part of a requestAdapter call. Dawn enumerates adapters in the first one and
 * prints warnings to fd 2 there; the device layer passes a wrapper that filters them
 * (src/device/stderr_filter.ts).
 */
export type Enumerate = <T>(request: () => T) => T;

export async function openDawnDevice(enumerate: Enumerate = (request) => request()): Promise<AdapterChoice | string> {
  setPollStrategy(parsePollStrategy(settings.XPU_POLL));
  let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
  try {
    mod = (await import('webgpu')) as unknown as typeof mod;
  } catch (e) {
    return `the 'webgpu' package (Dawn) could not be loaded: ${(e as Error).message}`;
  }
  // Dawn's classes (GPUBufferUsage...) are used as globals by WebGPU code, as in a browser.
  for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  installPollPacing();
  const flags: string[] = [];
  if (settings.XPU_BACKEND) flags.push(`backend=${settings.XPU_BACKEND}`);
  if (settings.XPU_ADAPTER) flags.push(`adapter=${settings.XPU_ADAPTER}`);
  let gpu: GPU;
  try {
    gpu = mod.create(flags);
  } catch (e) {
    return `Dawn failed to start: ${(e as Error).message}`;
  }
  pinned.instances.push(gpu);
  const candidates: { a: GPUAdapter; score: number }[] = [];
  for (const powerPreference of ['high-performance', 'low-power'] as const) {
    try {
      // Dawn enumerates adapters in the first call and may print then (see Enumerate).
      const a = await enumerate(() => gpu.requestAdapter({ powerPreference }));
      if (a) candidates.push({ a, score: rank(a, powerPreference === 'high-performance') });
    } catch {
      // try the next preference
    }
  }
  if (!candidates.length) {
    if (settings.XPU_ADAPTER) {
      let names: string[] = [];
      try {
        names = await adapterNames(mod.create(settings.XPU_BACKEND ? [`backend=${settings.XPU_BACKEND}`] : []), enumerate);
      } catch {
        // listing is a courtesy: the message below still names the filter
      }
      return `XPU_ADAPTER='${settings.XPU_ADAPTER}' matches no adapter; ${names.length ? `the adapters are: ${names.map((n) => `'${n}'`).join(', ')}` : 'there is no adapter at all'}`;
    }
    return 'no WebGPU adapter was found (on Linux, install a Vulkan driver: mesa-vulkan-drivers from bookworm-backports for lavapipe)';
  }
  candidates.sort((x, y) => x.score - y.score);
  const adapter = candidates[0].a;
  const features = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const l of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[l];
    if (typeof v === 'number') requiredLimits[l] = v;
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: features as GPUFeatureName[], requiredLimits });
  } catch (e) {
    return `the adapter refused a device: ${(e as Error).message}`;
  }
  pinned.instances.push(adapter, device);
  return { adapter, device, features, dawnVersion: await dawnPackageVersion() };
}

/**
 * The names of the adapters an unfiltered Dawn instance offers (for the error when XPU_ADAPTER
 * matches none): one per power preference, and the fallback adapter.
 */
async function adapterNames(gpu: GPU, enumerate: Enumerate): Promise<string[]> {
  pinned.instances.push(gpu);
  const names = new Set<string>();
  for (const options of [
    { powerPreference: 'high-performance' },
    { powerPreference: 'low-power' },
    { forceFallbackAdapter: true },
  ] as GPURequestAdapterOptions[]) {
    try {
      const a = await enumerate(() => gpu.requestAdapter(options));
      if (a) names.add(a.info.description || a.info.device || a.info.vendor);
    } catch {
      // an adapter that cannot be asked for this way is simply not listed
    }
  }
  return [...names];
}

async function dawnPackageVersion(): Promise<string> {
  try {
    const { createRequire } = await import('node:module');
    const req = createRequire(import.meta.url);
    return (req('webgpu/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
