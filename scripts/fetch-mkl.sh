#!/usr/bin/env bash
# Puts Intel's oneMKL (BLAS with GNU OpenMP threading) into .cache/mkl/ (include/, lib/), where
# native/configure.mjs finds it when the native addon is built (after $XPU_MKL_ROOT, before
# $MKLROOT and a oneAPI install). The addon's CPU GEMM then runs on oneMKL's sgemm / sgemv instead
# of Debian's oneDNN 2.6.3 (native/compute/gemm.cc; the measurement is in bench/results/README.md,
# "cpu GEMM on oneMKL").
#
# It comes from Intel's own PyPI wheels, fetched with pip (no other client, nothing at run time):
#   mkl          lib/: of its 28 libraries only the ones the GEMM needs are kept: the LP64 gfortran
#                interface (libmkl_gf_lp64), GNU OpenMP threading (libmkl_gnu_thread: the addon's
#                libgomp pool, no Intel OpenMP), libmkl_core, and the per-ISA kernels libmkl_core
#                loads at run time (def, mc3, avx2, avx512, avx10), ~430 MB unpacked
#   mkl-include  include/ (the headers, 19 MB)
# Both pinned to 2026.2.1 with their SHA-256; --no-deps: the wheels' dependencies (intel-openmp,
# tbb) serve threading layers the addon does not use.
#
# Idempotent: a complete install of the pinned version is kept. Exit status 0 on success, 1 on
# failure; setup.sh turns a failure into a warning (the GEMM then runs on Debian's oneDNN, or on
# the TypeScript fallback without either). XPU_MKL_ROOT=off (or a directory) skips the fetch.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=lib/pip_wheels.sh
source scripts/lib/pip_wheels.sh
VERSION=2026.2.1
TARGET=.cache/mkl
REQUIREMENTS="mkl==$VERSION --hash=sha256:76322a3abf512594ab7b4e82cb72df91e4e5d195498769aa8b292373c1ddd6d1
mkl-include==$VERSION --hash=sha256:0c4e6f27b1ee435cc7fac115f6df259eb5be38328428cb73927c68dbac32d39f"
LIBS="libmkl_gf_lp64.so.3 libmkl_gnu_thread.so.3 libmkl_core.so.3 libmkl_def.so.3 libmkl_mc3.so.3 libmkl_avx2.so.3 libmkl_avx512.so.3 libmkl_avx10.so.3"

if [ -n "${XPU_MKL_ROOT:-}" ]; then
  echo "XPU_MKL_ROOT=$XPU_MKL_ROOT: oneMKL not fetched (off, or the addon builds against that install)"
  exit 0
fi
if [ "$(uname -m)" != x86_64 ]; then
  echo "oneMKL's wheels are x86-64 only; not fetched on $(uname -m)"
  exit 0
fi
if [ "$(cat "$TARGET/VERSION" 2>/dev/null)" = "$VERSION" ] && [ -f "$TARGET/include/mkl_cblas.h" ] && [ -f "$TARGET/lib/libmkl_core.so" ]; then
  echo "oneMKL $VERSION present: $TARGET"
  exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xpu-mkl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pip_download_wheels fetch-mkl "mkl and mkl-include $VERSION (PyPI wheels, ~230 MB)" "$REQUIREMENTS" "$tmp" || exit 1

# A wheel is a zip (python3's zipfile is there whenever pip is). Built beside the target and
# renamed into place, so an interrupted run never leaves half an install.
rm -rf "$TARGET.part"
python3 - "$tmp/wheels" "$TARGET.part" "$VERSION" "$LIBS" <<'PY'
import glob, os, shutil, sys, zipfile
wheels, out, version, libs = sys.argv[1:5]
libs = libs.split()

def extract(z, member, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with z.open(member) as f, open(dst, 'wb') as g:
        shutil.copyfileobj(f, g)

def data_path(name):
    """The path under the wheel's .data/data/ (where its lib/ and include/ are), or None."""
    parts = name.split('.data/data/', 1)
    return parts[1] if len(parts) == 2 else None

runtime = zipfile.ZipFile(glob.glob(os.path.join(wheels, f'mkl-{version}-*.whl'))[0])
devel = zipfile.ZipFile(glob.glob(os.path.join(wheels, f'mkl_include-{version}-*.whl'))[0])
headers = 0
for m in devel.infolist():
    p = data_path(m.filename)
    if p and p.startswith('include/') and not m.is_dir():
        extract(devel, m, os.path.join(out, p))
        headers += 1
found = set()
for m in runtime.infolist():
    if m.filename.endswith('.dist-info/LICENSE.txt'):
        extract(runtime, m, os.path.join(out, 'share', 'doc', 'mkl', 'LICENSE.txt'))
    p = data_path(m.filename)
    if not p:
        continue
    name = os.path.basename(p)
    if p == 'lib/' + name and name in libs:
        extract(runtime, m, os.path.join(out, 'lib', name))
        found.add(name)
        # The name the linker looks for (-lmkl_core -> libmkl_core.so) points to the soname.
        os.symlink(name, os.path.join(out, 'lib', name[: -len('.3')]))
    elif p.startswith('share/doc/mkl/licensing/'):
        extract(runtime, m, os.path.join(out, p))
if not headers or found != set(libs):
    sys.exit(f'fetch-mkl: the wheels do not have the expected layout (include/, lib/); missing {sorted(set(libs) - found)}')
with open(os.path.join(out, 'VERSION'), 'w') as f:
    f.write(version + '\n')
PY
rm -rf "$TARGET"
mv "$TARGET.part" "$TARGET"
echo "oneMKL $VERSION installed: $TARGET (include/, lib/libmkl_core.so.3 and its GNU OpenMP layer)"
