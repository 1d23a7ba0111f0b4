import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

/**
 * Versions `xpu info` reports. Each lookup fails soft (null/'unknown'): info must print on any
 * machine, including one without Mesa or dpkg.
 */

const req = createRequire(import.meta.url);

function packageVersion(name: string): string {
  try {
    return (req(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** This package's own version (package.json at the root, two levels above src/cli or dist/src/cli). */
export function xpuVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const p = req(rel) as { name?: string; version?: string };
      if (p.name === 'xpu' && p.version) return p.version;
    } catch {
      // try the next layout
    }
  }
  return 'unknown';
}

/** The version of Dawn's Node binding: the npm package `webgpu`. */
export const dawnVersion = (): string => packageVersion('webgpu');

export interface MesaVersion {
  version: string;
  /** Where it was read: the GPU adapter's description, or the installed Debian package. */
  source: 'adapter' | 'dpkg';
}

/**
 * Mesa's version. Mesa drivers (lavapipe, anv, radv) put "Mesa X.Y.Z" in the adapter's
 * description, which is the driver actually in use; dpkg is the fallback when no adapter is open.
 */
export function mesaVersion(adapterText: string | undefined): MesaVersion | null {
  const m = /Mesa ([0-9][^\s)]*)/.exec(adapterText ?? '');
  if (m) return { version: m[1], source: 'adapter' };
  if (process.platform !== 'linux') return null;
  try {
    const v = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'mesa-vulkan-drivers'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return v ? { version: v, source: 'dpkg' } : null;
  } catch {
    return null;
  }
}
