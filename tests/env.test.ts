import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

// These run the built package in child processes, since the device is chosen once per process.
const root = fileURLToPath(new URL('..', import.meta.url));
const entry = `${root}dist/src/index.js`;
const script = `const x = await import(${JSON.stringify(entry)});
console.log(JSON.stringify({ device: String(x.defaultDevice()), available: x.accelerator.isAvailable(),
  why: x.accelerator.unavailable(), sum: await x.ones([3]).add(1).toArray() }));`;

function run(env: Record<string, string>): { out: Record<string, unknown>; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', ...env }, encoding: 'utf8', timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return { out: JSON.parse(r.stdout.trim().split('\n').pop()!), stderr: r.stderr };
}

describe('device selection from the environment', () => {
  beforeAll(() => {
    if (!existsSync(entry)) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  });

  it('XPU_DEVICE=cpu forces the cpu device and ops still run', () => {
    const { out } = run({ XPU_DEVICE: 'cpu' });
    expect(out.device).toBe('cpu');
    expect(out.available).toBe(false);
    expect(out.why).toBe('XPU_DEVICE=cpu');
    expect(out.sum).toEqual([2, 2, 2]);
  });

  it('without any adapter the default is cpu and one clear line says why', () => {
    const { out, stderr } = run({ VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json' });
    expect(out.device).toBe('cpu');
    expect(out.sum).toEqual([2, 2, 2]);
    const lines = stderr.split('\n').filter((l) => l.startsWith('xpu:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^xpu: no GPU device, running on cpu: .+/);
  });
});
