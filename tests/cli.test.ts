import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paint, tableStyle, useColor } from '../src/color.js';
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
    if (r.native.loaded)
      expect(r.native.build).toMatchObject({
        mpi: { built: expect.any(Boolean) },
        ccl: { built: expect.any(Boolean) },
        cpuKernels: expect.any(Array),
      });
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
    await expect(xpuCli(['bench', 'no-such-suite'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining("unknown suite 'no-such-suite'"),
    });
  });
});

describe('xpu run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xpu-run-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a missing script in one line, before starting any rank', async () => {
    const e = await xpuCli(['run', '-n', '2', '--backend', 'ccl', join(dir, 'missing.mjs')]).catch(
      (x: { code: number; stdout: string; stderr: string }) => x,
    );
    expect(e).toMatchObject({ code: 2, stdout: '' });
    expect((e as { stderr: string }).stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^\[xpu run\] no such script: .*missing\.mjs/),
    ]);
  });

  it('prefixes rank output without colour when it is not a terminal, with it under FORCE_COLOR', async () => {
    const script = join(dir, 'hello.mjs');
    writeFileSync(script, 'console.log(`hello from ${process.env.RANK}`);\n');
    const plain = (await xpuCli(['run', '-n', '2', '--backend', 'ccl', script], { NO_COLOR: '', FORCE_COLOR: '' })).stdout
      .trim()
      .split('\n')
      .sort();
    expect(plain).toEqual(['[rank 0] hello from 0', '[rank 1] hello from 1']);
    const forced = (await xpuCli(['run', '-n', '2', '--backend', 'ccl', script], { NO_COLOR: '', FORCE_COLOR: '1' })).stdout;
    expect(forced).toContain('\x1b[36m[rank 0]\x1b[39m hello from 0');
  });
});

describe('colour (src/color.ts)', () => {
  const withEnv = <T>(env: Record<string, string | undefined>, fn: () => T): T => {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    for (const [k, v] of Object.entries(env))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    try {
      return fn();
    } finally {
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  };
  const tty = { isTTY: true };
  const pipe = { isTTY: false };

  it('colours a terminal only; NO_COLOR wins, FORCE_COLOR forces', () => {
    withEnv({ NO_COLOR: undefined, FORCE_COLOR: undefined }, () => {
      expect([useColor(tty), useColor(pipe)]).toEqual([true, false]);
      expect(paint('x', 'red', pipe)).toBe('x');
      expect(paint('x', 'red', tty)).toBe('\x1b[31mx\x1b[39m');
      expect(tableStyle(pipe)).toEqual({ head: [], border: [] });
    });
    withEnv({ NO_COLOR: '1', FORCE_COLOR: '1' }, () => expect(useColor(tty)).toBe(false));
    withEnv({ NO_COLOR: undefined, FORCE_COLOR: '1' }, () => expect(useColor(pipe)).toBe(true));
    withEnv({ NO_COLOR: undefined, FORCE_COLOR: '0' }, () => expect(useColor(tty)).toBe(false));
  });
});
