#!/usr/bin/env python3
"""numpy's side of bench/tools/cpu_gemm_ab.ts: `reps` np.matmul calls on rotating inputs, each timed
with perf_counter (wall) and process_time (CPU time of every thread of this process).

  python3 cpu_gemm_ab.py M N K TRANS_B REPS SETS  ->  JSON [[wall_ms, cpu_ms], ...]
"""
import json
import sys
import time

import numpy as np

m, n, k, trans, reps, nsets = (int(v) for v in sys.argv[1:7])
rng = np.random.default_rng(1)
sets = [(rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((n, k) if trans else (k, n), dtype=np.float32)) for _ in range(nsets)]
out = []
for r in range(reps + 1):  # the first call is a warm-up
    a, b = sets[r % nsets]
    w0, c0 = time.perf_counter(), time.process_time()
    np.matmul(a, b.T if trans else b)
    w1, c1 = time.perf_counter(), time.process_time()
    if r:
        out.append([(w1 - w0) * 1e3, (c1 - c0) * 1e3])
print(json.dumps(out))
