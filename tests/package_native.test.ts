import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './cli_run.js';

/**
 * The npm package's prebuilt addon (scripts/prebuild.mjs), as a user gets it: `npm pack`, `npm
 * install` of the tarball into an empty folder, and there, with every compiler hidden (PATH shims
 * that fail and say so), a cpu matmul on oneDNN through the prebuilt binary, each ISA variant this
 * CPU runs, and a 2-rank allReduce through the packaged `xpu run` and MPI plugin. The baseline
 * binary is built here when prebuilds/ has none (one node-gyp build in a scratch copy; `npm run
 * native:prebuild` makes all three). tests/package.test.ts checks the rest of the package.
 */

const exec = promisify(execFile);
const linuxX64 = process.platform === 'linux' && process.arch === 'x64';
const PREBUILT = join(ROOT, 'prebuilds', 'linux-x64');
const BASELINE = join(PREBUILT, 'xpu_native.napi.glibc.node');
/** What a build would need; each is replaced by a script that fails loudly. */
const COMPILERS = ['cc', 'c++', 'gcc', 'g++', 'clang', 'clang++', 'make', 'ld', 'node-gyp', 'mpicc', 'mpicxx', 'python3'];

let work = '';
let consumer = '';
let shims = '';
let tarballFiles = new Set<string>();

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${shims}:${process.env.PATH}`,
    XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
    NO_COLOR: '1',
    XPU_DEVICE: 'cpu',
    ...extra,
  };
  // Nothing from this checkout or the build machine's paths may help the installed package.
  for (const k of ['LD_LIBRARY_PATH', 'XPU_NATIVE', 'XPU_NATIVE_ISA', 'XPU_CCL_ROOT', 'FORCE_COLOR']) if (!(k in extra)) delete env[k];
  return env;
}

async function node(args: string[], extra: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  return exec(process.execPath, args, { cwd: consumer, env: childEnv(extra), timeout: 120_000, maxBuffer: 16 << 20 });
}

const lastJson = <T>(stdout: string): T => JSON.parse(stdout.trim().split('\n').pop()!) as T;

/** ISA levels this CPU runs (the same /proc/cpuinfo flags the loader reads). */
function cpuLevels(): string[] {
  const flags = new Set(
    (
      readFileSync('/proc/cpuinfo', 'utf8')
        .split('\n')
        .find((l) => l.startsWith('flags'))
        ?.split(':')[1] ?? ''
    )
      .trim()
      .split(/\s+/),
  );
  const v3 = ['avx2', 'fma', 'f16c', 'bmi1', 'bmi2', 'abm', 'movbe'].every((f) => flags.has(f));
  const v4 = v3 && ['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl'].every((f) => flags.has(f));
  return ['x86-64-v2', ...(v3 ? ['x86-64-v3'] : []), ...(v4 ? ['x86-64-v4'] : [])];
}

beforeAll(async () => {
  if (!linuxX64) return;
  ensureBuilt();
  if (!existsSync(BASELINE))
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'prebuild.mjs'), '--isa', 'x86-64-v2'], {
      cwd: ROOT,
      stdio: 'pipe',
      maxBuffer: 64 << 20,
    });
  work = mkdtempSync(join(tmpdir(), 'xpu-package-native-'));
  shims = join(work, 'no-compilers');
  mkdirSync(shims);
  for (const c of COMPILERS) {
    writeFileSync(
      join(shims, c),
      `#!/bin/sh\necho "package_native.test: '${c}' was called, but a prebuilt install must not compile" >&2\nexit 127\n`,
    );
    chmodSync(join(shims, c), 0o755);
  }
  const packDir = join(work, 'pack');
  mkdirSync(packDir);
  const { stdout } = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], {
    cwd: ROOT,
    maxBuffer: 64 << 20,
  });
  const report = (JSON.parse(stdout) as { filename: string; files: { path: string }[] }[])[0];
  tarballFiles = new Set(report.files.map((f) => f.path));
  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // --ignore-scripts as in package.test.ts; the shims are on PATH for the install too.
  const install = (mode: string) =>
    exec('npm', ['install', mode, '--no-audit', '--no-fund', '--ignore-scripts', join(packDir, report.filename)], {
      cwd: consumer,
      env: childEnv(),
      maxBuffer: 16 << 20,
    });
  await install('--offline').catch(() => install('--prefer-offline'));
}, 1_800_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!linuxX64)(`the prebuilt addon in the installed package${linuxX64 ? '' : ' (skipped: linux-x64 only)'}`, () => {
  it("ships the baseline binary, oneDNN with what it needs, and the engines' plugins", () => {
    for (const f of [
      'xpu_native.napi.glibc.node',
      'lib/libdnnl.so.2',
      'lib/libgomp.so.1',
      'lib/libOpenCL.so.1',
      'lib/BUNDLED.txt',
      'lib/xpu_mpi.so',
    ]) {
      expect(tarballFiles.has(`prebuilds/linux-x64/${f}`), f).toBe(true);
    }
    // Only the binaries: no build tree, no object files.
    expect([...tarballFiles].filter((f) => f.startsWith('build/') || f.endsWith('.o'))).toEqual([]);
  });

  const matmul = `
    import * as xpu from 'xpu';
    import { readFileSync } from 'node:fs';
    const n = xpu.nativeInfo();
    const [m, k, p] = [64, 48, 40];
    const a = Float32Array.from({ length: m * k }, (_, i) => ((i * 7) % 13) - 6);
    const b = Float32Array.from({ length: k * p }, (_, i) => ((i * 5) % 11) - 5);
    const c = await xpu.matmul(xpu.tensor(a, { shape: [m, k] }), xpu.tensor(b, { shape: [k, p] })).data();
    let wrong = 0;
    for (let i = 0; i < m; i++) for (let j = 0; j < p; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) s += a[i * k + q] * b[q * p + j];
      if (c[i * p + j] !== s) wrong++;
    }
    const maps = readFileSync('/proc/self/maps', 'utf8').split('\\n');
    const lib = (name) => maps.find((l) => l.includes(name))?.split(/\\s+/).pop() ?? null;
    console.log(JSON.stringify({ loaded: n.loaded, error: n.error, path: n.path, variant: n.variant, library: n.compute?.library, calls: xpu.nativeInfo().compute?.stats?.calls, wrong, dnnl: lib('libdnnl.so'), gomp: lib('libgomp.so'), mpi: n.build?.mpi }));
  `;
  interface MatmulReport {
    loaded: boolean;
    error: string | null;
    path: string;
    variant: string;
    library: string;
    calls: number;
    wrong: number;
    dnnl: string | null;
    gomp: string | null;
    mpi: { built: boolean; plugin?: string; error?: string };
  }

  it('runs a cpu matmul on oneDNN through the prebuilt binary, with no compiler and no system oneDNN path', async () => {
    // XPU_CPU_GEMM=native: the addon's GEMM or an error, never the TypeScript fallback.
    const { stdout } = await node(['--input-type=module', '-e', matmul], { XPU_CPU_GEMM: 'native' });
    const r = lastJson<MatmulReport>(stdout);
    const installed = join(consumer, 'node_modules', 'xpu', 'prebuilds', 'linux-x64');
    expect(r.error).toBeNull();
    expect(r.loaded).toBe(true);
    expect(r.path.startsWith(installed), r.path).toBe(true);
    expect(r.variant).toBe(
      cpuLevels()
        .filter((l) => l === 'x86-64-v2' || existsSync(join(installed, l)))
        .pop(),
    );
    expect(r.library).toBe('oneDNN');
    expect(r.calls).toBeGreaterThan(0);
    expect(r.wrong).toBe(0);
    // oneDNN and libgomp are the bundled copies (RPATH $ORIGIN/lib), not the build machine's.
    expect(r.dnnl?.startsWith(join(installed, 'lib')), String(r.dnnl)).toBe(true);
    expect(r.gomp?.startsWith(join(installed, 'lib')), String(r.gomp)).toBe(true);
    expect(r.mpi.plugin?.startsWith(join(installed, 'lib')), String(r.mpi.plugin)).toBe(true);
  });

  it('loads each ISA variant this CPU runs and the package has', async () => {
    const installed = join(consumer, 'node_modules', 'xpu', 'prebuilds', 'linux-x64');
    const levels = cpuLevels().filter((l) => l === 'x86-64-v2' || existsSync(join(installed, l)));
    for (const level of levels) {
      const { stdout } = await node(['--input-type=module', '-e', matmul], { XPU_CPU_GEMM: 'native', XPU_NATIVE_ISA: level });
      const r = lastJson<MatmulReport>(stdout);
      expect({ variant: r.variant, wrong: r.wrong, library: r.library }, level).toEqual({ variant: level, wrong: 0, library: 'oneDNN' });
    }
  });

  it('runs a 2-rank allReduce through the packaged launcher and MPI plugin', async () => {
    writeFileSync(
      join(consumer, 'allreduce.mjs'),
      `import * as xpu from 'xpu';
      await xpu.dist.initProcessGroup({ timeoutMs: 60_000 });
      const r = xpu.dist.getRank();
      const t = xpu.tensor([r + 1, 10 * (r + 1)], { dtype: 'float32' });
      await xpu.dist.allReduce(t);
      console.log('RESULT ' + JSON.stringify({ rank: r, values: Array.from(await t.data()), plugin: xpu.nativeInfo().build.mpi.plugin }));
      await xpu.dist.destroyProcessGroup();\n`,
    );
    const bin = join(consumer, 'node_modules', 'xpu', 'dist', 'src', 'cli', 'main.js');
    const { stdout } = await node([bin, 'run', '-n', '2', '--timeout', '100', 'allreduce.mjs']);
    const results = stdout
      .split('\n')
      .filter((l) => l.includes('RESULT '))
      .map((l) => JSON.parse(l.slice(l.indexOf('RESULT ') + 7)) as { rank: number; values: number[]; plugin: string });
    expect(results.map((x) => x.rank).sort()).toEqual([0, 1]);
    for (const x of results) {
      expect(x.values).toEqual([3, 30]);
      expect(x.plugin.startsWith(join(consumer, 'node_modules', 'xpu', 'prebuilds')), x.plugin).toBe(true);
    }
  });
});
