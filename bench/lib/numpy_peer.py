#!/usr/bin/env python3
"""The numpy peer of the GEMM benchmark (bench/lib/numpy_peer.ts starts it).

One request per line on stdin, one JSON reply per line on stdout:
  {"op": "info"}                                   -> numpy version, BLAS config, thread env
  {"op": "setup", "id", "m", "n", "k", "trans_b", "dtype", "sets"}
                                                   -> allocates `sets` input pairs (random normal)
  {"op": "run", "id", "units": u}                        -> u matmuls, each timed here with
                                                      perf_counter; replies {"ms": total}
  {"op": "check", "id", "rows": r}                       -> relative error of the first r rows of
                                                      np.matmul against a float64 reference
  {"op": "free", "id"}                             -> drops that workload's inputs
  {"op": "ew_setup", "id", "name", "n", "row", "dtype", "sets"}
                                                   -> an elementwise case (bench/elementwise):
                                                      add, exp, sum (over rows), sumAll, softmax,
                                                      layerNorm, clone; `run` and `check` as above
                                                      (check: relative error of the first 4 rows or
                                                      4096 elements against float64)

numpy times itself, so the child's pipe adds nothing to the figure. The parent removes
OPENBLAS_CORETYPE (and friends) from this process's environment: numpy's OpenBLAS must pick its
kernels for this CPU, not the AVX2 ones a box-wide default forces.
"""
import os
import sys
import time

import numpy as np

from peer_loop import serve  # beside this file: python puts the script's folder on sys.path


def blas_info():
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info = {"name": blas.get("name"), "version": blas.get("version"), "config": blas.get("openblas configuration")}
    except Exception as e:  # older numpy: no mode="dicts"
        info = {"name": None, "error": str(e)}
    info.update(openblas_runtime())
    return info


def openblas_runtime():
    """The kernels OpenBLAS chose at run time (its core name) and its threads, read from the
    loaded library itself: the build config above names the build target, not what runs."""
    import ctypes

    try:
        paths = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.lower() and l.split()[-1].startswith("/")})
    except OSError:
        return {}
    for path in paths:
        lib = ctypes.CDLL(path)
        for prefix, suffix in (("scipy_openblas_", "64_"), ("openblas_", ""), ("scipy_openblas_", "")):
            try:
                core = getattr(lib, f"{prefix}get_corename{suffix}")
                cfg = getattr(lib, f"{prefix}get_config{suffix}")
                nth = getattr(lib, f"{prefix}get_num_threads{suffix}")
            except AttributeError:
                continue
            core.restype = cfg.restype = ctypes.c_char_p
            return {"library": path, "corename": core().decode(), "runtimeConfig": cfg().decode(), "threads": nth()}
    return {"library": paths[0] if paths else None}


state = {}


def softmax(x):
    # scipy.special.softmax's formulation: what a numpy user writes.
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def layer_norm(x, w, b, eps=1e-5):
    mean = np.mean(x, axis=-1, keepdims=True)
    var = np.var(x, axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


# name -> (inputs as shapes given n and row, the op). The ops are numpy's own calls, one per case.
EW = {
    "add": (lambda n, r: [(n,), (n,)], lambda a, b: np.add(a, b)),
    "exp": (lambda n, r: [(n,)], lambda a: np.exp(a)),
    "sum": (lambda n, r: [(n // r, r)], lambda a: np.sum(a, axis=-1)),
    "sumAll": (lambda n, r: [(n,)], lambda a: np.sum(a)),
    "softmax": (lambda n, r: [(n // r, r)], softmax),
    "layerNorm": (lambda n, r: [(n // r, r), (r,), (r,)], layer_norm),
    "clone": (lambda n, r: [(n,)], lambda a: a.copy()),
}


def ew_check(st):
    name, row = st["name"], st["row"]
    xs = st["sets"][0]
    got = np.asarray(EW[name][1](*xs))
    ref = np.asarray(EW[name][1](*[x.astype(np.float64) for x in xs]))
    if name == "sumAll":
        got, ref = got.reshape(1), ref.reshape(1)
    elif name == "sum":
        got, ref = got[:4], ref[:4]
    else:
        got, ref = got.reshape(-1)[: 4 * row], ref.reshape(-1)[: 4 * row]
    den = float(np.linalg.norm(ref))
    return {"relErr": float(np.linalg.norm(got.astype(np.float64) - ref)) / max(den, 1e-300), "elements": int(ref.size)}


def handle(req):
    op = req["op"]
    if op == "info":
        return {
            "numpy": np.__version__,
            "numpyPath": os.path.dirname(np.__file__),
            "python": sys.version.split()[0],
            "executable": sys.executable,
            "blas": blas_info(),
            "env": {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_", "GOTO"))},
        }
    if op == "setup":
        m, n, k = req["m"], req["n"], req["k"]
        dt = np.float16 if req.get("dtype") == "float16" else np.float32
        rng = np.random.default_rng(1234)
        sets = []
        for _ in range(req.get("sets", 2)):
            a = rng.standard_normal((m, k), dtype=np.float32).astype(dt)
            b = rng.standard_normal((n, k) if req.get("trans_b") else (k, n), dtype=np.float32).astype(dt)
            # A Linear weight stored [n, k] is used transposed: a view, as torch's x @ w.T.
            sets.append((a, b.T if req.get("trans_b") else b))
        state[req["id"]] = {"sets": sets, "next": 0}
        return {"ok": True}
    if op == "ew_setup":
        dt = np.float16 if req.get("dtype") == "float16" else np.float32
        rng = np.random.default_rng(1234)
        shapes, fn = EW[req["name"]]
        sets = [[rng.standard_normal(s, dtype=np.float32).astype(dt) for s in shapes(req["n"], req["row"])] for _ in range(req.get("sets", 2))]
        state[req["id"]] = {"sets": sets, "next": 0, "fn": fn, "name": req["name"], "row": req["row"]}
        return {"ok": True}
    if op == "run" and "fn" in state[req["id"]]:
        st = state[req["id"]]
        sets, fn = st["sets"], st["fn"]
        total = 0.0
        for _ in range(req["units"]):
            xs = sets[st["next"] % len(sets)]
            st["next"] += 1
            t0 = time.perf_counter()
            fn(*xs)
            total += time.perf_counter() - t0
        return {"ms": total * 1e3}
    if op == "check" and "fn" in state[req["id"]]:
        return ew_check(state[req["id"]])
    if op == "run":
        st = state[req["id"]]
        sets = st["sets"]
        total = 0.0
        for _ in range(req["units"]):
            a, b = sets[st["next"] % len(sets)]
            st["next"] += 1
            t0 = time.perf_counter()
            np.matmul(a, b)
            total += time.perf_counter() - t0
        return {"ms": total * 1e3}
    if op == "check":
        a, b = state[req["id"]]["sets"][0]
        r = min(req.get("rows", 2), a.shape[0])
        got = np.matmul(a, b)[:r].astype(np.float64)
        ref = a[:r].astype(np.float64) @ b.astype(np.float64)
        den = float(np.linalg.norm(ref))
        return {"relErr": float(np.linalg.norm(got - ref)) / max(den, 1e-300), "elements": int(ref.size)}
    if op == "free":
        state.pop(req["id"], None)
        return {"ok": True}
    raise ValueError(f"unknown op {op}")


serve(handle)
