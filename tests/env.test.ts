import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

// These run the built package in child processes, since the device is chosen once per process.
const root = fileURLToPath(new URL('..', import.meta.url));
const entry = `${root}dist/src/index.js`;
const script = `const x = await import(${JSON.stringify(entry)});
await x.ready();
console.log(JSON.stringify({ device: String(x.defaultDevice()), available: x.accelerator.isAvailable(),
  why: x.accelerator.unavailable(), sum: await x.ones([3]).add(1).toArray() }));`;

function run(env: Record<string, string>): { out: Record<string, unknown>; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', ...env },
    encoding: 'utf8',
    timeout: 60_000,
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

/** Runs `code` (CommonJS when cjs, else an ES module) against the built package; its last stdout line is JSON. */
function runCode(code: string, env: Record<string, string> = {}, cjs = false): Record<string, unknown> {
  const r = spawnSync(process.execPath, [...(cjs ? [] : ['--input-type=module']), '-e', code], {
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', XPU_DEVICE: '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe("Dawn's adapter warnings", () => {
  const filterModule = `${root}dist/src/device/stderr_filter.js`;
  const nativeModule = `${root}dist/src/backends/cpu/native.js`;
  const hasCapture = (): boolean => {
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const n = await import(${JSON.stringify(nativeModule)}); console.log(Boolean(n.loadNative().addon?.stderrCapture))`,
      ],
      { encoding: 'utf8' },
    );
    return r.stdout.trim() === 'true';
  };

  it('never reach stderr, and other native stderr output still does (needs the native addon)', () => {
    // CI builds the addon (XPU_REQUIRE_MPI=1); elsewhere an addon without the capture skips this.
    if (!hasCapture()) {
      expect(process.env.XPU_REQUIRE_MPI, 'the native addon has no stderrCapture (rebuild it: npm run build:native)').not.toBe('1');
      return;
    }
    const { stderr } = run({});
    expect(stderr).not.toMatch(/artificially reduced/);
    // The capture itself, on a write straight to fd 2 (as Dawn's fprintf does): Dawn's line dropped, the rest kept.
    const noise =
      'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { writeSync } = await import('node:fs');
const { withoutDawnNoise } = await import(${JSON.stringify(filterModule)});
const v = withoutDawnNoise(() => { writeSync(2, ${JSON.stringify(`${noise}
keep me
`)}); return 7; });
console.log(v);`,
      ],
      { encoding: 'utf8' },
    );
    expect(r.stdout.trim()).toBe('7');
    expect(r.stderr).toBe('keep me\n');
  });
});

describe('adapter filter', () => {
  it('XPU_ADAPTER that matches nothing says so and names the adapters there are', () => {
    const { out } = run({ XPU_ADAPTER: 'no-such-adapter', XPU_QUIET: '1' });
    expect(out.device).toBe('cpu');
    expect(out.why).toMatch(/^XPU_ADAPTER='no-such-adapter' matches no adapter; (the adapters are: '.+'|there is no adapter at all)/);
    if (process.env.XPU_REQUIRE_GPU === '1') expect(out.why).toMatch(/the adapters are: '.+'/);
  });
});

describe('lazy device initialisation', () => {
  it('require() and import both load the package, and cpu works before ready()', () => {
    const probe = (x: string) =>
      `const t = ${x}.ones([2, 2]); ${x}.matmul(t, t).toArray().then((v) => console.log(JSON.stringify({ device: String(t.device), v, ready: ${x}.accelerator.isReady() })));`;
    const expected = {
      device: 'cpu',
      v: [
        [2, 2],
        [2, 2],
      ],
      ready: false,
    };
    expect(runCode(`const x = require(${JSON.stringify(entry)}); ${probe('x')}`, {}, true)).toEqual(expected);
    expect(runCode(`const x = await import(${JSON.stringify(entry)}); ${probe('x')}`)).toEqual(expected);
  });

  it("'xpu' before ready() throws XpuNotReadyError naming the remedy; after it, xpu works", () => {
    const out = runCode(`const x = await import(${JSON.stringify(entry)});
let before;
try { x.zeros([2], { device: 'xpu' }); } catch (e) { before = { name: e.name, isDevice: e instanceof x.XpuDeviceError, message: e.message }; }
const def = String(await x.ready());
const avail = x.accelerator.isAvailable();
const info = avail ? x.accelerator.getDeviceInfo('xpu') : null;
const sum = avail ? await x.ones([3], { device: 'xpu' }).add(1).toArray() : null;
console.log(JSON.stringify({ before, def, avail, software: info?.isSoftware ?? null, sum, stats: avail ? typeof x.accelerator.memoryStats('xpu:0').allocatedBytes : null }));`);
    expect(out.before).toMatchObject({ name: 'XpuNotReadyError', isDevice: true, message: expect.stringContaining('await xpu.ready()') });
    if (process.env.XPU_REQUIRE_GPU === '1') expect(out.avail).toBe(true);
    if (out.avail) {
      expect(out.sum).toEqual([2, 2, 2]);
      expect(out.stats).toBe('number');
      // A software adapter (lavapipe in CI) is never the default; a hardware one is.
      expect(out.def).toBe(out.software ? 'cpu' : 'xpu:0');
    } else {
      expect(out.def).toBe('cpu');
    }
  });

  it('XPU_DEVICE=xpu makes xpu the default (after ready(); before it, the default throws XpuNotReadyError)', () => {
    const out = runCode(
      `const x = await import(${JSON.stringify(entry)});
let before = null;
try { x.zeros([1]); } catch (e) { before = e.name; }
let def = null, err = null;
try { def = String(await x.ready()); } catch (e) { err = e.name; }
console.log(JSON.stringify({ before, def, err, avail: x.accelerator.isAvailable() }));`,
      { XPU_DEVICE: 'xpu' },
    );
    expect(out.before).toBe('XpuNotReadyError');
    if (out.avail) expect(out.def).toBe('xpu:0');
    else expect(out.err).toBe('XpuDeviceError');
  });
});
