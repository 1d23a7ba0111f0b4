#!/usr/bin/env bash
# Puts Intel's oneCCL (CPU build) into .cache/oneccl/ (include/, lib/), where native/configure.mjs
# finds it when the native addon is built (after $XPU_CCL_ROOT and $CCL_ROOT, before a oneAPI
# install in /opt/intel/oneapi/ccl/latest). The `ccl` backend of xpu.dist and its tests need it.
#
# It comes from Intel's own PyPI wheels, fetched with pip (no other client, nothing at run time):
#   oneccl-cpu        lib/libccl.so.1 (copied as lib/libccl.so.1, lib/libccl.so links to it)
#   oneccl-cpu-devel  include/ (only the headers: its 250 MB of static libraries are not kept)
# Both pinned to 2021.16.2, with their SHA-256: the newest release whose libccl.so.1 needs only
# libc and libstdc++. From 2021.17 on the CPU wheels' libccl.so.1 needs a libccl.so.2 that no
# wheel ships, and their dependency `libfabric` is not on PyPI.
#
# Run time: oneCCL dlopens libfabric (Debian's libfabric1, which setup.sh installs; xpu.dist
# points oneCCL at its soname, see src/distributed/ccl_env.ts). Intel MPI (impi-rt, a dependency the
# wheels declare) is not needed for the OFI transport xpu.dist uses, so --no-deps.
#
# Idempotent: a complete install of the pinned version is kept. Exit status 0 on success, 1 on
# failure; setup.sh turns a failure into a warning (the mpi backend and everything else work without).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=lib/pip_wheels.sh
source scripts/lib/pip_wheels.sh
VERSION=2021.16.2
TARGET=.cache/oneccl
REQUIREMENTS="oneccl-cpu==$VERSION --hash=sha256:2badb37759341ea2152156958c162b0f1ce9c42f54702d36835e7655b4fb88ee
oneccl-cpu-devel==$VERSION --hash=sha256:a0c6ea0a7059470609ee5d5fd29cc75c7c5f6022cb8a8a99b773460a9f4390f0"

if [ "$(cat "$TARGET/VERSION" 2>/dev/null)" = "$VERSION" ] && [ -f "$TARGET/include/oneapi/ccl.hpp" ] && [ -f "$TARGET/lib/libccl.so.1" ]; then
  echo "oneCCL $VERSION present: $TARGET"
  exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xpu-oneccl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pip_download_wheels fetch-oneccl "oneccl-cpu and oneccl-cpu-devel $VERSION (PyPI wheels, ~60 MB)" "$REQUIREMENTS" "$tmp" || exit 1

# A wheel is a zip (python3's zipfile is there whenever pip is). Build the tree beside the target
# and rename it into place, so an interrupted run never leaves half an install that the build
# would take for a whole one.
rm -rf "$TARGET.part"
python3 - "$tmp/wheels" "$TARGET.part" "$VERSION" <<'PY'
import glob, os, shutil, sys, zipfile
wheels, out, version = sys.argv[1:4]

def extract(z, member, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with z.open(member) as f, open(dst, 'wb') as g:
        shutil.copyfileobj(f, g)

def data_path(name):
    """The path under the wheel's .data/data/ (where its lib/ and include/ are), or None."""
    parts = name.split('.data/data/', 1)
    return parts[1] if len(parts) == 2 else None

runtime = zipfile.ZipFile(glob.glob(os.path.join(wheels, f'oneccl_cpu-{version}-*.whl'))[0])
devel = zipfile.ZipFile(glob.glob(os.path.join(wheels, f'oneccl_cpu_devel-{version}-*.whl'))[0])
headers = 0
for m in devel.infolist():
    p = data_path(m.filename)
    if p and p.startswith('include/') and not m.is_dir():
        extract(devel, m, os.path.join(out, p))
        headers += 1
libs = [m for m in runtime.infolist() if data_path(m.filename) == 'lib/libccl.so.1.0']
if not headers or len(libs) != 1:
    sys.exit('fetch-oneccl: the wheels do not have the expected layout (include/, lib/libccl.so.1.0)')
# The wheel holds libccl.so, .so.1 and .so.1.0 as three copies (zip has no links): one is kept,
# named by its soname, and the name the linker looks for points to it.
extract(runtime, libs[0], os.path.join(out, 'lib', 'libccl.so.1'))
os.symlink('libccl.so.1', os.path.join(out, 'lib', 'libccl.so'))
for m in runtime.infolist():
    p = data_path(m.filename)
    if p and p.startswith('share/doc/ccl/licensing/'):
        extract(runtime, m, os.path.join(out, p))
with open(os.path.join(out, 'VERSION'), 'w') as f:
    f.write(version + '\n')
PY
rm -rf "$TARGET"
mv "$TARGET.part" "$TARGET"
echo "oneCCL $VERSION installed: $TARGET (include/, lib/libccl.so.1)"
