import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The optional native addon: built from source by node-gyp (build/Release/xpu_native.node, what
 * `npm run setup` makes), or prebuilt in the npm package (prebuilds/linux-x64/, `npm run prebuild`),
 * found by node-gyp-build, which prefers a source build. The prebuilt one comes in three ISA
 * levels: x86-64-v2 (the baseline, any x86-64 of the last decade), and x86-64-v3 (AVX2, FMA, F16C)
 * and x86-64-v4 (AVX-512) in folders beside it; the best one this CPU runs is loaded
 * (XPU_NATIVE_ISA=x86-64-v2|v3|v4 picks one). Everything works without the addon: loading never
 * throws, it reports why it is absent instead, and the TypeScript kernels stay the always-available
 * path. XPU_NATIVE=off skips it entirely.
 */

/** What buildInfo() in native/build_info.cc returns. */
export interface NativeBuildInfo {
  compiler: string;
  napiVersion: number;
  nodeAddonApi: string;
  simd: string;
  /**
   * The collective engines, each a plugin the addon loads at its own load (native/collectives/
   * plugins.cc): `built` when it loaded and can be used; `plugin` the file found; `error` why an
   * engine whose plugin exists did not load (its library, libmpi or libccl, is missing).
   */
  mpi: { built: boolean; version?: string; library?: string; plugin?: string; error?: string };
  ccl: { built: boolean; root?: string; version?: string; plugin?: string; error?: string };
  cpuKernels: string[];
}

/** What addon.compute.info() returns (native/compute/gemm.cc): the library behind the CPU GEMM. */
export interface NativeComputeInfo {
  /** 'oneDNN', or null when the addon was built without it (no native GEMM). */
  library: string | null;
  version?: string;
  /** The instruction set oneDNN's JIT targets on this CPU (e.g. avx512_core). */
  isa?: string;
  /** oneDNN's threading runtime and its thread count. */
  runtime?: string;
  threads?: number;
  stats?: { calls: number; folded: number; packedA: number; packedB: number; refImpl: number; cacheHits: number; lastImpl: string };
  /**
   * oneMKL beside oneDNN (scripts/fetch-mkl.sh, native/configure.mjs), or null without it: the
   * shapes it takes are in native/compute/gemm.cc. `isa` is the code branch it dispatched to on
   * this CPU; `enabled` false under XPU_CPU_MKL=off.
   */
  blas?: { library: string; version: string; isa: string; runtime: string; enabled: boolean } | null;
}

/** A GEMM operand as the addon takes it (see native_gemm.ts). */
export interface NativeGemmOperand {
  data: Float32Array | Uint16Array;
  f16: boolean;
  offset: number;
  strides: number[];
}

export interface NativeGemmDesc {
  m: number;
  n: number;
  k: number;
  batch: number[];
  a: NativeGemmOperand;
  b: NativeGemmOperand;
  bias?: NativeGemmOperand;
  residual?: NativeGemmOperand;
  out: Float32Array | Uint16Array;
  outF16: boolean;
  alpha: number;
  beta: number;
  activation?: string;
  /** Ids of pending jobs that write the inputs (a failure of one fails this job). */
  deps?: number[];
}

/** addon.compute: the ordered compute queue and the kernels on it (native/compute/). */
export interface NativeCompute {
  info(): NativeComputeInfo;
  /** Plans and queues a GEMM; returns its job id. Absent when built without oneDNN. */
  gemm?(desc: NativeGemmDesc): number;
  /** Plans and runs a GEMM on the calling thread (small GEMMs while the queue is idle). */
  gemmNow?(desc: NativeGemmDesc): void;
  /** Blocks until job `id` is done; its error message, or undefined. */
  wait(id: number): string | undefined;
  completed(): number;
  submitted(): number;
  /**
   * The inline team (native/compute/inline_team.h) that splits kernels running on the JS thread:
   * its threads, the JS thread included (before it is made: what it would have; 1: no helpers),
   * and the calls it has split so far.
   */
  inlineTeam?(): { threads: number; splits: number };
  setOnDone(fn: (id: number, error?: string) => void): void;
}

export interface NativeAddon {
  buildInfo(): NativeBuildInfo;
  compute?: NativeCompute;
}

export interface NativeLoad {
  addon: NativeAddon | null;
  /** Why the addon is not loaded (null when it is). */
  error: string | null;
  /** Where the addon was looked for. */
  path: string | null;
  /** 'source' (build/Release), or the ISA level of the prebuilt binary loaded; null when none. */
  variant: string | null;
}

let loaded: NativeLoad | null = null;

/**
 * How long libgomp's idle threads spin before they sleep, unless the user set OMP_WAIT_POLICY or
 * GOMP_SPINCOUNT: 3000 spins, about 150 us on this machine's cores (measured with a parallel
 * region every 5 ms: 236 us of CPU per region against 89 us with no spinning).
 *
 * Why not PASSIVE (sleep at once, the first choice here): oneDNN runs several parallel regions
 * and barriers per GEMM, and on a VM every sleep and wake-up is a futex round trip through the
 * hypervisor. With PASSIVE, oneDNN's matmul primitive ran at half speed in a plain C++ loop
 * (native/compute/tools/gemm_libs.cc, median of 5 alternating runs: 64^3 16 vs 144 GFLOP/s,
 * 128^3 78 vs 155, 256^3 155 vs 200, 512^3 106 vs 157-197 with 1000-10000 spins). Nor libgomp's
 * own default (300000 spins, ~15 ms): threads spinning that long after each GEMM would take a
 * core from the JS thread and from other work between GEMMs.
 */
export const DEFAULT_GOMP_SPINCOUNT = '3000';

/** True when this module set GOMP_SPINCOUNT itself (child processes need not inherit it). */
export let ompSpinDefaulted = false;

/**
 * The package root: the first directory above this file holding binding.gyp. This file runs from
 * src/ (vitest) and from dist/src/ (built), so a fixed relative path would be wrong in one of them.
 */
function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

function off(v: string | undefined): boolean {
  return /^(0|off|false|no)$/i.test(v ?? '');
}

/** The x86-64 ISA levels of the prebuilt binaries, best first, with the CPU flags (Linux /proc/cpuinfo names) each needs. */
const ISA_LEVELS: [string, string[]][] = [
  ['x86-64-v4', ['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl', 'avx2', 'fma', 'f16c', 'bmi2', 'movbe']],
  ['x86-64-v3', ['avx2', 'fma', 'f16c', 'bmi1', 'bmi2', 'abm', 'movbe']],
];

/** This CPU's feature flags (the kernel lists only what the OS also supports, e.g. AVX-512 state). */
function cpuFlags(): Set<string> {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('flags'));
    return new Set((line?.split(':')[1] ?? '').trim().split(/\s+/));
  } catch {
    return new Set();
  }
}

/**
 * The prebuilt binary to load for `baseline` (node-gyp-build's pick, the x86-64-v2 one): the best
 * ISA level this CPU has whose folder exists beside it, or the one XPU_NATIVE_ISA names.
 */
function isaVariant(baseline: string): { path: string; variant: string } {
  const forced = process.env.XPU_NATIVE_ISA;
  const flags = forced ? null : cpuFlags();
  for (const [level, need] of ISA_LEVELS) {
    if (forced ? forced !== level : !need.every((f) => flags!.has(f))) continue;
    const p = join(dirname(baseline), level, basename(baseline));
    if (existsSync(p)) return { path: p, variant: level };
  }
  return { path: baseline, variant: 'x86-64-v2' };
}

/** build/Release's binary, else the prebuilt one for this platform (node-gyp-build), else why neither. */
function findAddon(root: string): { path: string; variant: string } | { error: string; path: string } {
  const local = join(root, 'build', 'Release', 'xpu_native.node');
  let resolve: ((dir: string) => string) | undefined;
  try {
    resolve = (createRequire(import.meta.url)('node-gyp-build') as { resolve: (dir: string) => string }).resolve;
  } catch {
    // node-gyp-build is a dependency; only a tree whose node_modules predates it lacks it.
  }
  if (resolve) {
    try {
      const p = resolve(root);
      return p.split(sep).includes('prebuilds') ? isaVariant(p) : { path: p, variant: 'source' };
    } catch {
      // Neither a build nor a prebuilt binary for this platform: said below.
    }
  } else if (existsSync(local)) return { path: local, variant: 'source' };
  return {
    error: `not built, and no prebuilt binary for ${process.platform}-${process.arch} (run \`npm run build:native\`; expected ${local})`,
    path: local,
  };
}

/** Loads the addon once; later calls return the same result. */
export function loadNative(): NativeLoad {
  if (loaded) return loaded;
  if (off(process.env.XPU_NATIVE)) return (loaded = { addon: null, error: 'disabled by XPU_NATIVE=off', path: null, variant: null });
  const root = packageRoot();
  if (!root) return (loaded = { addon: null, error: 'package root (binding.gyp) not found', path: null, variant: null });
  const found = findAddon(root);
  if ('error' in found) return (loaded = { addon: null, error: found.error, path: found.path, variant: null });
  const { path, variant } = found;
  // The CPU GEMM's OpenMP threads (oneDNN, through libgomp, which reads its settings when the
  // addon loads it): a short spin before sleeping (DEFAULT_GOMP_SPINCOUNT). Kept if the user set one.
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) {
    process.env.GOMP_SPINCOUNT = DEFAULT_GOMP_SPINCOUNT;
    ompSpinDefaulted = true;
  }
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    if (typeof addon?.buildInfo !== 'function')
      return (loaded = { addon: null, error: `${path} is not xpu_native (no buildInfo)`, path, variant });
    return (loaded = { addon, error: null, path, variant });
  } catch (e) {
    // A stale binary (other Node ABI) or a missing shared library lands here.
    return (loaded = { addon: null, error: `failed to load: ${(e as Error).message.split('\n')[0]}`, path, variant });
  }
}

export interface NativeInfo {
  loaded: boolean;
  path: string | null;
  /** 'source' (a node-gyp build), or the ISA level of the prebuilt binary loaded (x86-64-v2, -v3, -v4). */
  variant: string | null;
  error: string | null;
  build: NativeBuildInfo | null;
  /** The CPU GEMM's library (oneDNN version, ISA, threads), when the addon has one. */
  compute: NativeComputeInfo | null;
  /** The inline team's threads (JS thread included), when the addon has one. */
  inlineTeamThreads: number | null;
}

/** What the native addon was built with, or why it is not there. */
export function nativeInfo(): NativeInfo {
  const { addon, error, path, variant } = loadNative();
  return {
    loaded: addon !== null,
    path,
    variant,
    error,
    build: addon ? addon.buildInfo() : null,
    compute: addon?.compute ? addon.compute.info() : null,
    inlineTeamThreads: addon?.compute?.inlineTeam ? addon.compute.inlineTeam().threads : null,
  };
}
