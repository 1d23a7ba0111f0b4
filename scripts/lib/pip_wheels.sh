# Sourced by scripts/fetch-*.sh: downloads hash-pinned PyPI wheels with whichever pip is here.
#   pip_download_wheels NAME WHAT REQUIREMENTS DIR
# NAME prefixes the error lines (fetch-mkl), WHAT says what comes and how big, REQUIREMENTS is a
# requirements.txt body with --hash pins, DIR receives the wheels. Returns 1 (with one line on
# stderr) when there is no pip or the download fails; the caller decides whether that is fatal.
pip_download_wheels() {
  local name=$1 what=$2 requirements=$3 dir=$4
  local pip_cmd=()
  if command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; then pip_cmd=(python3 -m pip)
  elif command -v pip3 >/dev/null; then pip_cmd=(pip3)
  else
    echo "$name: no pip found (python3 -m pip); cannot fetch $what" >&2
    return 1
  fi
  mkdir -p "$dir"
  printf '%s\n' "$requirements" > "$dir/requirements.txt"
  echo "downloading $what with ${pip_cmd[*]}"
  # --require-hashes: the bytes are the ones the calling script was written against.
  if ! "${pip_cmd[@]}" download --no-deps --require-hashes --disable-pip-version-check --quiet -r "$dir/requirements.txt" -d "$dir/wheels"; then
    echo "$name: pip download failed" >&2
    return 1
  fi
}
