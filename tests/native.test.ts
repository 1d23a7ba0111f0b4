import { availableParallelism } from 'node:os';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { testDevices, xpu } from './helpers.js';

/**
 * The optional native addon: when it was built it must load and describe itself truthfully; when
 * it is off or absent, nothing else changes.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ADDON = join(ROOT, 'build', 'Release', 'xpu_native.node');
const built = existsSync(ADDON);
// CI (.ci/run, XPU_REQUIRE_MPI=1) must have built the addon: a missing build fails there.
if (process.env.XPU_REQUIRE_MPI === '1' && !built) throw new Error(`XPU_REQUIRE_MPI=1 but the addon was not built (${ADDON})`);

function hasPkgConfig(name: string): boolean {
  try {
    execFileSync('pkg-config', ['--exists', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('native addon', () => {
  it.runIf(built)('loads when it was built, and reports what it was built with', () => {
    const n = xpu.nativeInfo();
    expect(n.error).toBeNull();
    expect(n.loaded).toBe(true);
    expect(n.path).toBe(ADDON);
    const b = n.build!;
    expect(b.compiler).toMatch(/^(gcc|clang|msvc) \d/);
    expect(b.napiVersion).toBe(8);
    expect(b.nodeAddonApi).toBe((createRequire(import.meta.url)('node-addon-api/package.json') as { version: string }).version);
    expect(b.simd).toMatch(/^(avx512\S*|avx2|avx|sse4\.2|sse2|sve|neon|none)$/);
    expect(b.cpuKernels).toEqual(n.compute?.library ? ['gemm'] : []);
    expect(n.variant).toBe('source');
    // The inline team: as many threads as OpenMP would use (OMP_NUM_THREADS or the cores), capped
    // by XPU_CPU_INLINE_THREADS and at 16.
    const omp = parseInt(process.env.OMP_NUM_THREADS ?? '', 10) || availableParallelism();
    const cap = parseInt(process.env.XPU_CPU_INLINE_THREADS ?? '', 10) || Infinity;
    expect(n.inlineTeamThreads).toBe(Math.max(1, Math.min(omp, cap, 16)));
    // Each engine is a plugin beside the addon (native/collectives/plugins.cc), loaded with it.
    if (b.mpi.built)
      expect(b.mpi).toMatchObject({ version: expect.stringMatching(/MPI \d+\.\d+/), plugin: join(dirname(ADDON), 'xpu_mpi.so') });
    else expect(b.mpi.version).toBeUndefined();
    // oneCCL (setup puts Intel's in .cache/oneccl): a build that has it names its root.
    if (b.ccl.built) expect(b.ccl).toMatchObject({ root: expect.any(String), plugin: join(dirname(ADDON), 'xpu_ccl.so') });
    else expect(b.ccl.root).toBeUndefined();
    expect(b.mpi.error, 'an engine whose plugin is there loads').toBeUndefined();
    expect(b.ccl.error).toBeUndefined();
    // The CPU GEMM's library: oneDNN when the build found it (native/configure.mjs dnnl), else none.
    const c = n.compute!;
    if (c.library !== null) {
      expect(c).toMatchObject({
        library: 'oneDNN',
        version: expect.stringMatching(/^\d+\.\d+\.\d+$/),
        isa: expect.any(String),
        threads: expect.any(Number),
      });
      expect(c.threads).toBeGreaterThanOrEqual(1);
    }
  });

  it.runIf(built && hasPkgConfig('ompi-c') && !/^(0|off|false|no)$/i.test(process.env.XPU_MPI ?? ''))(
    'is built with MPI when OpenMPI is installed',
    () => {
      expect(xpu.nativeInfo().build?.mpi).toMatchObject({ built: true, version: expect.stringMatching(/^Open MPI/) });
    },
  );

  it('is skipped under XPU_NATIVE=off, without throwing', async () => {
    vi.stubEnv('XPU_NATIVE', 'off');
    vi.resetModules();
    try {
      const { nativeInfo } = await import('../src/backends/cpu/native.js');
      expect(nativeInfo()).toEqual({
        loaded: false,
        path: null,
        variant: null,
        error: 'disabled by XPU_NATIVE=off',
        build: null,
        compute: null,
        inlineTeamThreads: null,
      });
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('is not needed by the runtime: ops give the same results either way', async () => {
    for (const device of testDevices()) {
      const a = xpu.tensor([1, -2, 3.5, 4], { device });
      expect(Array.from(await xpu.data(xpu.add(xpu.mul(a, 2), 1)))).toEqual([3, -3, 8, 9]);
    }
  });
});
