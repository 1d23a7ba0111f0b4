import { dawnInstance } from './dawn.js';

/**
 * The adapter record: what kernel choices may depend on about the adapter (GPUAdapterInfo, the
 * device's features and limits), read once per device (WebGPUBackend.adapter) and shared by every
 * launcher, config chooser and tuner.
 */

/** One entry of GPUAdapterInfo.subgroupMatrixConfigs (Dawn; gemm_sgmat.ts). */
export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

/**
 * Whether the adapter runs on the CPU (lavapipe / llvmpipe, SwiftShader): Dawn reports
 * architecture 'software', and Mesa's software drivers carry vendor 'mesa'. Kernel choices that
 * trade registers for cache (tall tiles, long reduction lanes) ask this, in one place.
 */
export const isSoftwareAdapter = (a: Pick<AdapterInfo, 'architecture' | 'vendor'> | undefined): boolean =>
  !!a && (a.architecture === 'software' || /llvmpipe|lavapipe|swiftshader|mesa/i.test(a.vendor));

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  /** Part of the autotuners' cache key (with vendor, architecture and driver). */
  description?: string;
  driver?: string;
  features: ReadonlySet<string>;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  maxWorkgroupStorageBytes: number;
  maxInvocationsPerWorkgroup: number;
  /** The device's texture size limit (the 'texture' variants pack operands into 2-D textures). */
  maxTextureDimension2D?: number;
  /** Matrix-unit shapes (Dawn's chromium-experimental-subgroup-matrix; gemm_sgmat.ts). */
  subgroupMatrixConfigs?: SubgroupMatrixConfig[];
  /** WGSL has dot4I8Packed / unpack4xI8 (the w8a8 fast path; the language feature packed_4x8_integer_dot_product). */
  dot4?: boolean;
}

/**
 * The configs an adapter info lists. They are WebIDL objects: each field is read by name
 * (spreading or JSON-serialising one gives {}).
 */
export function readSubgroupMatrixConfigs(info: unknown): SubgroupMatrixConfig[] {
  const list = (info as { subgroupMatrixConfigs?: Iterable<unknown> } | undefined)?.subgroupMatrixConfigs;
  if (!list) return [];
  const out: SubgroupMatrixConfig[] = [];
  for (const c of list) {
    const o = c as Record<string, unknown>;
    const componentType = String(o.componentType ?? '');
    const resultComponentType = String(o.resultComponentType ?? '');
    const [M, N, K] = [Number(o.M), Number(o.N), Number(o.K)];
    if (componentType && resultComponentType && [M, N, K].every((x) => Number.isInteger(x) && x > 0))
      out.push({ componentType, resultComponentType, M, N, K });
  }
  return out;
}

/** The adapter facts of a Dawn device (GPUDevice.adapterInfo, features, limits). */
export function readAdapterInfo(device: GPUDevice): AdapterInfo {
  const info = (
    device as GPUDevice & {
      adapterInfo?: GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; driverDescription?: string };
    }
  ).adapterInfo;
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    description: info?.description ?? '',
    driver: info?.driverDescription ?? info?.description ?? '',
    features: new Set([...device.features] as string[]),
    subgroupMinSize: info?.subgroupMinSize || undefined,
    subgroupMaxSize: info?.subgroupMaxSize || undefined,
    maxWorkgroupStorageBytes: device.limits.maxComputeWorkgroupStorageSize,
    maxInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
    maxTextureDimension2D: device.limits.maxTextureDimension2D,
    subgroupMatrixConfigs: readSubgroupMatrixConfigs(info),
    dot4: dawnInstance()?.wgslLanguageFeatures?.has('packed_4x8_integer_dot_product') ?? false,
  };
}
