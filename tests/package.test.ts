import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './cli_run.js';

/**
 * The package as a user gets it: `npm pack`, `npm install` of the tarball into an empty folder,
 * then, there, what a user does first. One pack and one install per run (beforeAll); each check
 * is its own test on `pkg`, so more join as one `it` each (the prebuilt addon's oneDNN matmul and
 * a 2-rank allReduce belong here once the addon ships prebuilt: run them with `node(...)` in
 * `pkg.dir`, with compilers hidden from PATH).
 */

const exec = promisify(execFile);
const pkgJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

interface Packed {
  /** The consumer project the tarball is installed into. */
  dir: string;
  tarball: string;
  /** Paths inside the tarball (relative to the package root). */
  files: Set<string>;
}

let pkg: Packed;
let work: string;

/** A child's environment: no device forced, no colour, the runtime dir Dawn wants. */
const childEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', NO_COLOR: '1', ...extra };
  delete env.XPU_DEVICE;
  delete env.FORCE_COLOR;
  return env;
};

/** Runs node in the consumer project (`args` as given: a file, or -e / --input-type flags). */
async function node(args: string[], extra: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  return exec(process.execPath, args, { cwd: pkg.dir, env: childEnv(extra), timeout: 60_000 });
}

/** The last stdout line as JSON. */
const lastJson = (stdout: string): unknown => JSON.parse(stdout.trim().split('\n').pop()!);

/** Dawn's adapter-enumeration warnings: must never reach a user's stderr. */
const DAWN_NOISE = /artificially reduced/;

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'xpu-package-'));
  const packDir = join(work, 'pack');
  mkdirSync(packDir);
  // --ignore-scripts: dist/ is built above (ensureBuilt); packing must not rebuild it.
  const { stdout } = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], {
    cwd: ROOT,
    maxBuffer: 64 << 20,
  });
  const report = (JSON.parse(stdout) as { filename: string; files: { path: string }[] }[])[0];
  const dir = join(work, 'consumer');
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  pkg = { dir, tarball: join(packDir, report.filename), files: new Set(report.files.map((f) => f.path)) };
  // From npm's cache when it holds every dependency (no network); else from the registry.
  const install = (mode: string) =>
    exec('npm', ['install', mode, '--no-audit', '--no-fund', '--ignore-scripts', pkg.tarball], { cwd: dir, maxBuffer: 16 << 20 });
  await install('--offline').catch(() => install('--prefer-offline'));
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('ships the files its source maps, its bin and the bench schema refer to', () => {
    for (const f of [
      'LICENSE',
      'README.md',
      'package.json',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/cli/main.js',
      'bench/schema/results.schema.json',
      'kernels/map.wgsl',
    ]) {
      expect(pkg.files.has(f), f).toBe(true);
    }
    const missing: string[] = [];
    for (const f of pkg.files) {
      if (!f.endsWith('.map')) continue;
      const map = JSON.parse(readFileSync(join(ROOT, f), 'utf8')) as { sources: string[] };
      for (const s of map.sources) {
        const target = normalize(join(dirname(f), s));
        // A map whose source is gone from the repo is stale output in this checkout's dist/ (the
        // prepack script's clean build drops it), not a file the package fails to ship.
        if (!pkg.files.has(target) && existsSync(join(ROOT, target))) missing.push(`${f} -> ${target}`);
      }
    }
    expect(missing).toEqual([]);
    expect([...pkg.files].filter((f) => f.startsWith('tests/') || f.startsWith('.cache/') || f.startsWith('bench/results/'))).toEqual([]);
  });

  it('installs with its runtime dependencies only (charts and progress bar are optional peers)', () => {
    const modules = join(pkg.dir, 'node_modules');
    expect(existsSync(join(modules, 'xpu', 'package.json'))).toBe(true);
    expect(existsSync(join(modules, '@webgpu', 'types', 'package.json'))).toBe(true);
    for (const optional of ['vega', 'vega-lite', 'cli-progress']) expect(existsSync(join(modules, optional)), optional).toBe(false);
    expect(readdirSync(modules).length).toBeLessThan(30);
  });
});

describe('the installed package', () => {
  // [[1, 2], [3, 4]] @ [[5, 6], [7, 8]] on cpu, with no GPU opened (nothing opens it at import).
  const matmul = (x: string) => `const a = ${x}.tensor([[1, 2], [3, 4]], { device: 'cpu' });
const b = ${x}.tensor([[5, 6], [7, 8]], { device: 'cpu' });
${x}.matmul(a, b).toArray().then((v) => console.log(JSON.stringify({ v, ready: ${x}.accelerator.isReady() })));`;
  const expected = {
    v: [
      [19, 22],
      [43, 50],
    ],
    ready: false,
  };

  it('imports as an ES module and runs a cpu matmul', async () => {
    const { stdout, stderr } = await node(['--input-type=module', '-e', `import * as xpu from 'xpu';\n${matmul('xpu')}`]);
    expect(lastJson(stdout)).toEqual(expected);
    expect(stderr).not.toMatch(DAWN_NOISE);
  });

  it('loads with require() and runs a cpu matmul', async () => {
    const { stdout, stderr } = await node(['--input-type=commonjs', '-e', `const xpu = require('xpu');\n${matmul('xpu')}`]);
    expect(lastJson(stdout)).toEqual(expected);
    expect(stderr).toBe('');
  });

  it('type-checks a strict TypeScript consumer without skipLibCheck', async () => {
    writeFileSync(
      join(pkg.dir, 'main.ts'),
      `import * as xpu from 'xpu';
const dev: xpu.DeviceString = 'cpu';
const a: xpu.Tensor = xpu.ones([2, 2], { device: dev });
const data = await xpu.matmul(a, a).data();
const n: number = data.length;
const ints: Int32Array = await xpu.tensor([1, 2], { device: 'cpu', dtype: 'int32' }).data('int32');
const ready: Promise<xpu.Device> = xpu.ready();
const err: typeof xpu.XpuDeviceError = xpu.XpuNotReadyError;
void [n, ints, ready, err, xpu.device('xpu:1'), xpu.accelerator.memoryStats('xpu')];
// @ts-expect-error: not a device name
xpu.zeros([1], { device: 'gpu' });
`,
    );
    // @types/node is the consumer's own (any Node.js TypeScript project has it): the repo's here.
    writeFileSync(
      join(pkg.dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
        },
        files: ['main.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = await exec(process.execPath, [tsc, '-p', pkg.dir], { cwd: pkg.dir, timeout: 120_000 }).catch((e: { stdout: string }) => ({
      stdout: e.stdout,
      failed: true,
    }));
    expect(r.stdout).toBe('');
  });

  it('runs its bin: --version, and bench --html says what to install without the charting packages', async () => {
    const bin = join(pkg.dir, 'node_modules', 'xpu', 'dist', 'src', 'cli', 'main.js');
    expect((await node([bin, '--version'])).stdout.trim()).toBe(pkgJson.version);
    const e = await node([bin, 'bench', 'elementwise', '--html', join(work, 'r.html')]).catch((x: { code: number; stderr: string }) => x);
    expect(e).toMatchObject({ code: 1 });
    const lines = (e as { stderr: string }).stderr.trim().split('\n');
    expect(lines).toEqual([expect.stringMatching(/^xpu bench: .*npm install vega vega-lite$/)]);
  });
});
