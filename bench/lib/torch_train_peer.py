#!/usr/bin/env python3
"""The torch peer of the training benchmark (bench/train.ts starts it through bench/lib/torch_peer.ts).

One request per line on stdin, one JSON reply per line on stdout:
  {"op": "info"}                              -> torch version, threads, the CPU capability it uses
  {"op": "setup", "id", "model", "dims", "seed", "lr"}
                                              -> builds the model ("mlp" or "block") with the
                                                 deterministic parameters and batch that
                                                 bench/train.ts builds too (det() below)
  {"op": "run", "id", "units": u}             -> u training steps (zero_grad, forward, loss,
                                                 backward, AdamW step), timed here with
                                                 perf_counter; replies {"ms": total, "loss": last}
  {"op": "reference", "model", "dims", "seed", "dtype"?}
                                              -> the first step's loss and, per parameter, the
                                                 gradient's norm and its dot product with a fixed
                                                 probe, computed in float64 (the oracle bench/train.ts
                                                 checks every row's first step against) or, with
                                                 "dtype": "float32", as torch's timed rows compute
  {"op": "free", "id"}                        -> drops the workload

The models are written the way a torch 1.13 user writes them (nn.Linear, nn.LayerNorm, GELU, a
causal attention from matmul + masked softmax: torch 1.13 has no scaled_dot_product_attention).
"""
import math
import os
import time

import numpy as np

from peer_loop import serve  # beside this file: python puts the script's folder on sys.path
import torch
import torch.nn.functional as F

torch.set_grad_enabled(True)
# torch picks one thread per physical core (1 on this 2-vCPU VM); the runtime it is compared with
# uses every core it is given, so the peer gets the same count (the parent may set it).
torch.set_num_threads(int(os.environ.get("XPU_BENCH_TORCH_THREADS", os.cpu_count() or 1)))


def det(n, seed, scale=1.0):
    """The deterministic values both sides build: sin((i + 1) * 12.9898 + seed * 78.233) * scale,
    computed in float64 (JavaScript's Math.sin and numpy's agree to an ulp there), then rounded to
    float32."""
    i = np.arange(1, n + 1, dtype=np.float64)
    return (np.sin(i * 12.9898 + seed * 78.233) * scale).astype(np.float32)


def param_specs(model, d):
    """(name, shape, kind) in the order bench/train.ts uses; kind picks the initial scale."""
    if model == "mlp":
        D, H = d["d"], d["hidden"]
        return [("fc1.weight", (H, D), "w"), ("fc1.bias", (H,), "b"), ("fc2.weight", (D, H), "w"), ("fc2.bias", (D,), "b")]
    D = d["d"]
    return [
        ("ln1.weight", (D,), "g"), ("ln1.bias", (D,), "b"),
        ("qkv.weight", (3 * D, D), "w"), ("qkv.bias", (3 * D,), "b"),
        ("proj.weight", (D, D), "w"), ("proj.bias", (D,), "b"),
        ("ln2.weight", (D,), "g"), ("ln2.bias", (D,), "b"),
        ("fc1.weight", (4 * D, D), "w"), ("fc1.bias", (4 * D,), "b"),
        ("fc2.weight", (D, 4 * D), "w"), ("fc2.bias", (D,), "b"),
    ]


def make_params(model, d, seed, dtype):
    params = {}
    for k, (name, shape, kind) in enumerate(param_specs(model, d)):
        n = int(np.prod(shape))
        if kind == "w":
            v = det(n, seed + k, 1.0 / math.sqrt(shape[1]))
        elif kind == "g":
            v = 1.0 + det(n, seed + k, 0.1)
        else:
            v = det(n, seed + k, 0.02)
        params[name] = torch.tensor(v.reshape(shape), dtype=dtype, requires_grad=True)
    return params


def batch_shape(model, d):
    return (d["batch"], d["d"]) if model == "mlp" else (d["batch"], d["seq"], d["d"])


def make_batch(model, d, seed, dtype):
    shape = batch_shape(model, d)
    n = int(np.prod(shape))
    x = torch.tensor(det(n, seed + 100).reshape(shape), dtype=dtype)
    t = torch.tensor(det(n, seed + 200).reshape(shape), dtype=dtype)
    return x, t


def forward(model, d, p, x):
    if model == "mlp":
        return F.linear(F.gelu(F.linear(x, p["fc1.weight"], p["fc1.bias"])), p["fc2.weight"], p["fc2.bias"])
    B, T, D = x.shape
    nh = d["heads"]
    hd = D // nh
    h = F.layer_norm(x, (D,), p["ln1.weight"], p["ln1.bias"], 1e-5)
    q, k, v = F.linear(h, p["qkv.weight"], p["qkv.bias"]).split(D, dim=-1)
    q, k, v = (z.view(B, T, nh, hd).transpose(1, 2) for z in (q, k, v))
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
    causal = torch.ones(T, T, dtype=torch.bool).triu(1)
    a = scores.masked_fill(causal, float("-inf")).softmax(-1) @ v
    x = x + F.linear(a.transpose(1, 2).reshape(B, T, D), p["proj.weight"], p["proj.bias"])
    h2 = F.layer_norm(x, (D,), p["ln2.weight"], p["ln2.bias"], 1e-5)
    return x + F.linear(F.gelu(F.linear(h2, p["fc1.weight"], p["fc1.bias"])), p["fc2.weight"], p["fc2.bias"])


state = {}


def handle(req):
    op = req["op"]
    if op == "info":
        return {"torch": torch.__version__, "threads": torch.get_num_threads(), "capability": torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else None}
    if op == "setup":
        model, d = req["model"], req["dims"]
        p = make_params(model, d, req["seed"], torch.float32)
        x, t = make_batch(model, d, req["seed"], torch.float32)
        opt = torch.optim.AdamW(list(p.values()), lr=req.get("lr", 1e-3))
        state[req["id"]] = {"model": model, "dims": d, "p": p, "x": x, "t": t, "opt": opt}
        return {"ok": True}
    if op == "run":
        st = state[req["id"]]
        total = 0.0
        loss = None
        for _ in range(req["units"]):
            t0 = time.perf_counter()
            st["opt"].zero_grad(set_to_none=True)
            loss = F.mse_loss(forward(st["model"], st["dims"], st["p"], st["x"]), st["t"])
            loss.backward()
            st["opt"].step()
            total += time.perf_counter() - t0
        return {"ms": total * 1e3, "loss": float(loss)}
    if op == "reference":
        model, d = req["model"], req["dims"]
        dtype = torch.float32 if req.get("dtype") == "float32" else torch.float64
        p = make_params(model, d, req["seed"], dtype)
        x, t = make_batch(model, d, req["seed"], dtype)
        loss = F.mse_loss(forward(model, d, p, x), t)
        loss.backward()
        grads = []
        for k, (name, shape, _) in enumerate(param_specs(model, d)):
            g = p[name].grad.reshape(-1)
            g = g.double()  # the summaries in float64 whatever the step's dtype
            probe = torch.tensor(det(g.numel(), 999 + k), dtype=torch.float64)
            grads.append({"name": name, "norm": float(g.norm()), "probe": float(g @ probe)})
        return {"loss": float(loss), "grads": grads}
    if op == "free":
        state.pop(req["id"], None)
        return {"ok": True}
    raise ValueError(f"unknown op {op}")


serve(handle)
