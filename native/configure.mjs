#!/usr/bin/env node
/**
 * Decides what the native addon is built with. binding.gyp calls this through `<!(...)`, so the
 * decisions live in one readable place instead of shell one-liners quoted inside gyp.
 *
 *   node native/configure.mjs mpi       -> 1 when OpenMPI's C bindings are found (pkg-config ompi-c)
 *   node native/configure.mjs ccl-root  -> oneCCL's install root, or nothing (see cclRoot)
 *   node native/configure.mjs march     -> the -march value (CPU kernels want the host's SIMD)
 *   node native/configure.mjs dnnl      -> 1 when oneDNN (Debian libdnnl-dev) is installed: the CPU GEMM
 *   node native/configure.mjs mkl-root  -> oneMKL's root (see mklRoot), or nothing: with oneDNN, the
 *                                          large GEMMs and the one-row GEMV run on oneMKL
 *   node native/configure.mjs mkl-lib   -> the lib dir of that root
 *   node native/configure.mjs prebuild  -> 1 when building the npm package's binaries (XPU_PREBUILD=1)
 *
 * Overrides: XPU_MPI=off, XPU_CCL_ROOT=off|<dir>, CCL_ROOT=<dir> (set by oneAPI's setvars.sh),
 * XPU_MARCH=<value> (e.g. x86-64-v3 for a binary that must run on other machines), XPU_DNNL=off,
 * XPU_MKL_ROOT=off|<dir>, MKLROOT=<dir> (set by oneAPI's setvars.sh).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const off = (v) => /^(0|off|false|no)$/i.test(v ?? '');

function mpi() {
  if (off(process.env.XPU_MPI)) return '0';
  try {
    execFileSync('pkg-config', ['--exists', 'ompi-c'], { stdio: 'ignore' });
    return '1';
  } catch {
    return '0';
  }
}

/** A root counts only when it has both the header and the library: a half install would fail the link. */
function isCclRoot(dir) {
  return (
    existsSync(join(dir, 'include', 'oneapi', 'ccl.hpp')) &&
    (existsSync(join(dir, 'lib', 'libccl.so')) || existsSync(join(dir, 'lib', 'intel64', 'libccl.so')))
  );
}

/** The repository root (this file is native/configure.mjs). */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * oneCCL's root: XPU_CCL_ROOT, else CCL_ROOT (oneAPI's setvars.sh), else the project-local copy of
 * Intel's PyPI wheels that scripts/fetch-oneccl.sh (setup) puts in .cache/oneccl, else a oneAPI
 * install in its default place.
 */
function cclRoot() {
  if (off(process.env.XPU_CCL_ROOT)) return '';
  const candidates = [
    process.env.XPU_CCL_ROOT,
    process.env.CCL_ROOT,
    join(ROOT, '.cache', 'oneccl'),
    '/opt/intel/oneapi/ccl/latest',
  ].filter(Boolean);
  return candidates.find(isCclRoot) ?? '';
}

/** The lib dir of a root found by cclRoot() (oneAPI puts it under lib/ or lib/intel64/). */
function cclLib() {
  const root = cclRoot();
  if (!root) return '';
  return existsSync(join(root, 'lib', 'libccl.so')) ? join(root, 'lib') : join(root, 'lib', 'intel64');
}

function march() {
  return process.env.XPU_MARCH || (process.arch === 'x64' ? 'native' : '');
}

/** oneDNN counts when its C++ header and its shared library are both there (a half install fails the link). */
function dnnl() {
  if (off(process.env.XPU_DNNL)) return '0';
  if (!existsSync('/usr/include/oneapi/dnnl/dnnl.hpp')) return '0';
  const libDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  return libDirs.some((d) => existsSync(join(d, 'libdnnl.so'))) ? '1' : '0';
}

/** A oneMKL root counts when it has the BLAS header and the three libraries the addon links (GNU OpenMP layer). */
function isMklRoot(dir) {
  const lib = mklLibOf(dir);
  return (
    existsSync(join(dir, 'include', 'mkl_cblas.h')) &&
    ['libmkl_gf_lp64.so', 'libmkl_gnu_thread.so', 'libmkl_core.so'].every((f) => existsSync(join(lib, f)))
  );
}

/** oneAPI puts the libraries under lib/ or lib/intel64/; the PyPI wheels (scripts/fetch-mkl.sh) under lib/. */
function mklLibOf(dir) {
  return existsSync(join(dir, 'lib', 'intel64', 'libmkl_core.so')) ? join(dir, 'lib', 'intel64') : join(dir, 'lib');
}

/**
 * oneMKL's root: XPU_MKL_ROOT, else the project-local copy of Intel's PyPI wheels that
 * scripts/fetch-mkl.sh (setup) puts in .cache/mkl, else MKLROOT (oneAPI's setvars.sh), else a oneAPI
 * install in its default place. Only beside oneDNN (gemm.cc plans with oneDNN and hands oneMKL the
 * shapes it measured faster at), only on x86-64, and never for the npm package's prebuilt binaries
 * (they would have to ship ~430 MB of oneMKL beside them).
 */
function mklRoot() {
  if (off(process.env.XPU_MKL_ROOT) || dnnl() !== '1' || prebuild() === '1' || process.arch !== 'x64') return '';
  const candidates = [process.env.XPU_MKL_ROOT, join(ROOT, '.cache', 'mkl'), process.env.MKLROOT, '/opt/intel/oneapi/mkl/latest'].filter(
    Boolean,
  );
  return candidates.find(isMklRoot) ?? '';
}

function mklLib() {
  const root = mklRoot();
  return root ? mklLibOf(root) : '';
}

/** 1 when scripts/prebuild.mjs builds the binaries that ship in the npm package (XPU_PREBUILD=1). */
function prebuild() {
  return process.env.XPU_PREBUILD === '1' ? '1' : '0';
}

const what = { mpi, 'ccl-root': cclRoot, 'ccl-lib': cclLib, march, dnnl, 'mkl-root': mklRoot, 'mkl-lib': mklLib, prebuild }[
  process.argv[2]
];
if (!what) {
  process.stderr.write(`usage: configure.mjs mpi|ccl-root|ccl-lib|march|dnnl|mkl-root|mkl-lib|prebuild\n`);
  process.exit(2);
}
process.stdout.write(what());
