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

pip_cmd=()
if command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; then pip_cmd=(python3 -m pip)
elif command -v pip3 >/dev/null; then pip_cmd=(pip3)
else
  echo "fetch-mkl: no pip found (python3 -m pip); cannot fetch oneMKL" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xpu-mkl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' "$REQUIREMENTS" > "$tmp/requirements.txt"
echo "downloading mkl and mkl-include $VERSION (PyPI wheels, ~230 MB) with ${pip_cmd[*]}"
# --require-hashes: the bytes are the ones this script was written against.
if ! "${pip_cmd[@]}" download --no-deps --require-hashes --disable-pip-version-check --quiet -r "$tmp/requirements.txt" -d "$tmp/wheels"; then
  echo "fetch-mkl: pip download failed" >&2
  exit 1
fi

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
