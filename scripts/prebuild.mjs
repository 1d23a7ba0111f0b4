#!/usr/bin/env node
/**
 * npm run native:prebuild: the native addon as it ships in the npm package, for linux-x64, into
 * prebuilds/linux-x64/ (ignored by git; "files" in package.json puts it in the tarball). Not named
 * `prebuild`: npm runs a script of that name before every `npm run build`.
 *
 *   xpu_native.napi.glibc.node            -march=x86-64-v2: runs on any x86-64 of the last decade
 *   x86-64-v3/xpu_native.napi.glibc.node  AVX2, FMA, F16C kernels
 *   x86-64-v4/xpu_native.napi.glibc.node  AVX-512 kernels
 *   lib/xpu_mpi.so, lib/xpu_ccl.so        the collective engines' plugins (native/collectives/plugin.h),
 *                                         loaded when the addon loads, if OpenMPI / oneCCL are there
 *   lib/libdnnl.so.2, libgomp.so.1, libOpenCL.so.1 and their licenses: oneDNN (Debian has no
 *                                         static libdnnl) with what it needs, found through the
 *                                         binaries' RPATH $ORIGIN/lib:$ORIGIN/../lib
 *
 * node-gyp-build finds the baseline (the variant folders are not .node files, so it skips them);
 * src/backends/cpu/native.ts then loads the best variant the CPU runs. The kernels choose their
 * SIMD code at compile time (#if __AVX512F__ ...), so the ISA is chosen per whole binary, at load.
 * Each level is a full node-gyp build in a temporary copy of the sources, so the developer's own
 * build/ is left alone. The machine's own glibc and libstdc++ are the floor (Debian 12: glibc 2.36,
 * GCC 12's libstdc++); OpenMPI (libmpi.so.40) and oneCCL (libccl.so.1) are not bundled.
 *
 * usage: node scripts/prebuild.mjs [--isa x86-64-v2,x86-64-v3,x86-64-v4]
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'prebuilds', 'linux-x64');
const NAME = 'xpu_native.napi.glibc.node';
const BASELINE = 'x86-64-v2';
const LEVELS = [BASELINE, 'x86-64-v3', 'x86-64-v4'];
/** Shared libraries that ship beside the binaries; everything else must come from the system. */
const BUNDLE = ['libdnnl.so.2', 'libgomp.so.1', 'libOpenCL.so.1'];
/** What a user's machine provides itself: glibc, GCC's C++ runtime (Node needs it too), the engines. */
const SYSTEM = /^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s)\.so/;

const log = (s) => process.stdout.write(`prebuild: ${s}\n`);
function fail(s) {
  process.stderr.write(`prebuild: ${s}\n`);
  process.exit(1);
}

const arg = process.argv.indexOf('--isa');
const levels = arg > 0 ? process.argv[arg + 1].split(',') : LEVELS;
for (const l of levels) if (!LEVELS.includes(l)) fail(`unknown ISA level ${l} (one of ${LEVELS.join(', ')})`);
if (!levels.includes(BASELINE)) fail(`${BASELINE} is needed: it is the binary node-gyp-build finds`);
if (process.platform !== 'linux' || process.arch !== 'x64')
  fail(`builds linux-x64 binaries only, this is ${process.platform}-${process.arch}`);

const run = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...opts });

/** The shared libraries `file` needs, as ldd resolves them: soname -> path. */
function needed(file) {
  const out = new Map();
  for (const line of run('ldd', [file]).split('\n')) {
    const m = /^\s*(\S+) => (\/\S+)/.exec(line);
    if (m) out.set(m[1], m[2]);
    else if (/not found/.test(line)) fail(`${file}: ${line.trim()}`);
  }
  return out;
}

// What the source build would use, decided once by this checkout's configure.mjs (a temporary
// copy of native/ would not see .cache/oneccl).
const configure = (what) => run(process.execPath, [join(ROOT, 'native', 'configure.mjs'), what], { cwd: ROOT });
const cclRoot = configure('ccl-root');
if (configure('dnnl') !== '1') fail('oneDNN (libdnnl-dev) is missing: the prebuilt addon ships its CPU GEMM (npm run setup installs it)');
const gyp = join(ROOT, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
if (!existsSync(gyp)) fail('node-gyp is missing (npm ci)');
const nodePrefix = resolve(process.execPath, '..', '..');
const gypArgs = existsSync(join(nodePrefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${nodePrefix}`] : [];

const work = mkdtempSync(join(tmpdir(), 'xpu-prebuild-'));
// Assembled outside prebuilds/ (which `npm pack` takes whole) and renamed into place at the end.
const part = join(ROOT, '.cache', 'prebuild.part');
try {
  for (const f of ['binding.gyp', 'package.json']) copyFileSync(join(ROOT, f), join(work, f));
  cpSync(join(ROOT, 'native'), join(work, 'native'), {
    recursive: true,
    filter: (p) => !p.includes(`${join('native', 'compute', 'tools')}`),
  });
  symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'));
  rmSync(part, { recursive: true, force: true });
  mkdirSync(join(part, 'lib'), { recursive: true });

  for (const level of levels) {
    const first = level === BASELINE;
    log(`${level}: node-gyp rebuild${first ? " (with the engines' plugins)" : ''}`);
    const t0 = Date.now();
    const env = { ...process.env, XPU_MARCH: level, XPU_PREBUILD: '1', XPU_CCL_ROOT: first && cclRoot ? cclRoot : 'off' };
    // The engines' plugins hold no SIMD kernels: built once, with the baseline.
    if (!first) env.XPU_MPI = 'off';
    try {
      run(process.execPath, [gyp, 'rebuild', '-j', 'max', ...gypArgs], { cwd: work, env });
    } catch (e) {
      fail(`node-gyp failed for ${level}:\n${String(e.stdout ?? '').slice(-3000)}\n${String(e.stderr ?? '').slice(-3000)}`);
    }
    const dest = first ? part : join(part, level);
    mkdirSync(dest, { recursive: true });
    const node = join(dest, NAME);
    copyFileSync(join(work, 'build', 'Release', 'xpu_native.node'), node);
    run('strip', ['--strip-unneeded', node]);
    if (first) {
      for (const p of ['xpu_mpi.so', 'xpu_ccl.so']) {
        const src = join(work, 'build', 'Release', p);
        if (!existsSync(src)) {
          log(`no ${p}: its engine was not found here (the package then has no ${p === 'xpu_mpi.so' ? 'MPI' : 'oneCCL'} backend)`);
          continue;
        }
        copyFileSync(src, join(part, 'lib', p));
        run('strip', ['--strip-unneeded', join(part, 'lib', p)]);
      }
    }
    log(`${level}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }

  // The binaries' own dependencies: exactly the bundled ones plus the system's floor.
  const baseline = join(part, NAME);
  const deps = needed(baseline);
  for (const soname of deps.keys()) {
    if (!SYSTEM.test(soname) && !BUNDLE.includes(soname) && !/^lib(dnnl|gomp|OpenCL)\b/.test(soname))
      fail(`${NAME} needs ${soname}, which is neither bundled nor a system library`);
  }
  const manifest = [];
  const licenses = join(part, 'lib', 'licenses');
  mkdirSync(licenses, { recursive: true });
  const seen = new Map([...deps, ...needed(deps.get('libdnnl.so.2') ?? fail("libdnnl.so.2 not among the addon's libraries"))]);
  for (const soname of BUNDLE) {
    const path = seen.get(soname) ?? fail(`${soname} was not found (ldd)`);
    const real = realpathSync(path);
    copyFileSync(real, join(part, 'lib', soname));
    chmodSync(join(part, 'lib', soname), 0o644);
    let pkg = 'unknown';
    try {
      pkg = run('dpkg', ['-S', real]).split(':')[0].trim();
      const version = run('dpkg-query', ['-W', '-f=${Version}', pkg]).trim();
      const copyright = `/usr/share/doc/${pkg}/copyright`;
      if (existsSync(copyright)) copyFileSync(copyright, join(licenses, `${pkg}.copyright`));
      pkg = `${pkg} ${version}`;
    } catch {
      // Not a Debian machine: the manifest says so, and the licenses must be added by hand.
    }
    manifest.push(`${soname}\t${basename(real)}\t${pkg}`);
  }
  writeFileSync(
    join(part, 'lib', 'BUNDLED.txt'),
    `# Shared libraries shipped beside the xpu_native binaries (scripts/prebuild.mjs): soname, file, Debian package.\n${manifest.join('\n')}\n`,
  );

  // Check what was made: it loads with only the bundled and system libraries, no absolute RPATH.
  for (const f of [baseline, ...levels.filter((l) => l !== BASELINE).map((l) => join(part, l, NAME))]) {
    const dyn = run('readelf', ['-d', f]);
    const rpath = /\((?:RPATH|RUNPATH)\)\s+Library r(?:un)?path: \[(.*)\]/.exec(dyn)?.[1] ?? '';
    if (rpath.split(':').some((p) => !p.startsWith('$ORIGIN'))) fail(`${f}: RPATH ${rpath} is not relative to the binary`);
    for (const [soname, path] of needed(f))
      if (BUNDLE.includes(soname) && !path.startsWith(realpathSync(part)))
        fail(`${f}: ${soname} resolves to ${path}, not the bundled copy`);
  }
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(dirname(OUT), { recursive: true });
  renameSync(part, OUT);
  const files = readdirSync(OUT, { recursive: true }).filter((f) => !String(f).startsWith('lib/licenses'));
  log(`wrote ${OUT}: ${files.join(', ')}`);
} finally {
  rmSync(work, { recursive: true, force: true });
  rmSync(part, { recursive: true, force: true });
}
