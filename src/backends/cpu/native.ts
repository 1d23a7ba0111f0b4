import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The optional native addon (build/Release/xpu_native.node, built by node-gyp from binding.gyp).
 * Everything works without it: loading never throws, it reports why it is absent instead, and the
 * TypeScript kernels stay the always-available path. XPU_NATIVE=off skips it entirely.
 */

/** What buildInfo() in native/build_info.cc returns. */
export interface NativeBuildInfo {
  compiler: string;
  napiVersion: number;
  nodeAddonApi: string;
  simd: string;
  mpi: { built: boolean; version?: string; library?: string };
  ccl: { built: boolean; root?: string; version?: string };
  cpuKernels: string[];
}

export interface NativeAddon {
  buildInfo(): NativeBuildInfo;
}

export interface NativeLoad {
  addon: NativeAddon | null;
  /** Why the addon is not loaded (null when it is). */
  error: string | null;
  /** Where the addon was looked for. */
  path: string | null;
}

let loaded: NativeLoad | null = null;

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

/** Loads the addon once; later calls return the same result. */
export function loadNative(): NativeLoad {
  if (loaded) return loaded;
  if (off(process.env.XPU_NATIVE)) return (loaded = { addon: null, error: 'disabled by XPU_NATIVE=off', path: null });
  const root = packageRoot();
  if (!root) return (loaded = { addon: null, error: 'package root (binding.gyp) not found', path: null });
  const path = join(root, 'build', 'Release', 'xpu_native.node');
  if (!existsSync(path)) return (loaded = { addon: null, error: `not built (run \`npm run build:native\`; expected ${path})`, path });
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    if (typeof addon?.buildInfo !== 'function') return (loaded = { addon: null, error: `${path} is not xpu_native (no buildInfo)`, path });
    return (loaded = { addon, error: null, path });
  } catch (e) {
    // A stale binary (other Node ABI) or a missing shared library (libmpi) lands here.
    return (loaded = { addon: null, error: `failed to load: ${(e as Error).message.split('\n')[0]}`, path });
  }
}

export interface NativeInfo {
  loaded: boolean;
  path: string | null;
  error: string | null;
  build: NativeBuildInfo | null;
}

/** What the native addon was built with, or why it is not there. */
export function nativeInfo(): NativeInfo {
  const { addon, error, path } = loadNative();
  return { loaded: addon !== null, path, error, build: addon ? addon.buildInfo() : null };
}
