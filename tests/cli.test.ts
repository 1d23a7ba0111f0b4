import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, xpuCli } from './cli_run.js';

/** The `xpu` command, run as a user runs it (tests/cli_run.ts). The bench command: tests/bench.test.ts. */

const requireGpu = process.env.XPU_REQUIRE_GPU === '1';

beforeAll(ensureBuilt);

describe('xpu --version', () => {
  it("prints package.json's version and nothing else", async () => {
    const { stdout } = await xpuCli(['--version']);
    expect(stdout.trim()).toBe((createRequire(import.meta.url)('../package.json') as { version: string }).version);
  });
});

describe('xpu info', () => {
  it('--json reports devices, native components and versions', async () => {
    const { stdout } = await xpuCli(['info', '--json']);
    const r = JSON.parse(stdout);
    expect(r.devices[0]).toMatchObject({ name: 'cpu', type: 'cpu' });
    const gpu = r.devices.find((d: { type: string }) => d.type === 'xpu');
    if (requireGpu) expect(gpu, `xpu device (${r.xpuUnavailable})`).toBeDefined();
    if (gpu) {
      expect(gpu.name).toBe('xpu:0');
      expect(Array.isArray(gpu.adapter.features)).toBe(true);
      expect(gpu.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
      expect(typeof gpu.adapter.isSoftware).toBe('boolean');
    } else {
      expect(typeof r.xpuUnavailable).toBe('string');
    }
    expect(typeof r.native.loaded).toBe('boolean');
    if (r.native.loaded) expect(r.native.build).toMatchObject({ mpi: { built: expect.any(Boolean) }, ccl: { built: expect.any(Boolean) }, cpuKernels: expect.any(Array) });
    else expect(r.native.error).toEqual(expect.any(String));
    expect(r.versions.node).toBe(process.versions.node);
    expect(r.versions.dawn).toBe((createRequire(import.meta.url)('webgpu/package.json') as { version: string }).version);
    expect(r.versions.xpu).toBe((createRequire(import.meta.url)('../package.json') as { version: string }).version);
    expect(['spin', 'throttle', 'adaptive']).toContain(r.pollStrategy);
  });

  it('shows cpu as the default device on a machine without a hardware GPU', async () => {
    // Without any adapter, and with only a software one (lavapipe in CI): cpu either way.
    for (const env of [{ VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json', XPU_QUIET: '1' }, {}]) {
      const r = JSON.parse((await xpuCli(['info', '--json'], { XPU_DEVICE: '', ...env })).stdout);
      const gpu = r.devices.find((d: { type: string }) => d.type === 'xpu');
      if (gpu && !gpu.adapter.isSoftware) continue;
      expect(r.defaultDevice).toBe('cpu');
      expect(r.devices.find((d: { isDefault: boolean }) => d.isDefault).name).toBe('cpu');
      if (gpu) expect(r.defaultReason).toMatch(/software adapter/);
    }
  });

  it('prints the same report as text', async () => {
    const { stdout } = await xpuCli(['info']);
    for (const heading of ['Devices', 'Native components', 'Versions and settings', 'Dawn (npm webgpu)']) expect(stdout).toContain(heading);
  });

  it('reports the addon as disabled under XPU_NATIVE=off, and still runs', async () => {
    const { stdout } = await xpuCli(['info', '--json'], { XPU_NATIVE: 'off' });
    const r = JSON.parse(stdout);
    expect(r.native).toMatchObject({ loaded: false, build: null, error: expect.stringContaining('XPU_NATIVE=off') });
  });

  it('runs on cpu only under XPU_DEVICE=cpu', async () => {
    const { stdout } = await xpuCli(['info', '--json'], { XPU_DEVICE: 'cpu' });
    const r = JSON.parse(stdout);
    expect(r.devices.map((d: { name: string }) => d.name)).toEqual(['cpu']);
    expect(r.xpuUnavailable).toBe('XPU_DEVICE=cpu');
  });
});

describe('xpu demo', () => {
  it('runs on both devices and passes', async () => {
    const { stdout } = await xpuCli(['demo'], { XPU_NATIVE: 'off' });
    expect(stdout).toContain('Devices');
    if (requireGpu || stdout.includes('xpu:0')) expect(stdout).toMatch(/^PASS: all \d+ ops agree/m);
    else expect(stdout).toMatch(/^SKIP/m);
  });
});

describe('xpu bench', () => {
  it('lists suites and rejects an unknown one', async () => {
    await expect(xpuCli(['bench', '--list'])).resolves.toBeDefined();
    await expect(xpuCli(['bench', 'no-such-suite'])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("unknown suite 'no-such-suite'") });
  });
});
