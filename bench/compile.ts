/**
 * Compile suite (issue 20): xpu.compile against eager on the same inputs, timed round-robin as
 * variants of one case so their ratio holds on a busy machine.
 *   - chain10: a 10-op elementwise chain (x, y -> one output) on 1M float32 elements. Eager runs
 *     10 kernels and writes 9 intermediates (left to the garbage collector; `eager (scoped)` frees
 *     them in xpu.scope); compiled runs one fused kernel.
 *     Its ops all have native cpu kernels (eager runs each natively), so the cpu ratio is fusion's.
 *   - replay100: 100 dependent small ops ([256] elements, x * 0.999 + 1 alternating), called
 *     REPLAY_CALLS times per run with one wait at the end: the per-op cost of a call (JS and
 *     recording, with the device working behind). `compiled` fuses the chain into one kernel, so
 *     its time per captured op is the replay's fixed cost / 100; `compiled (no fusion)` replays the
 *     100 primitives as captured (what a chain that cannot fuse costs per op), with prepared xpu
 *     launches (src/compile/prepared_launch.ts), and `(no fusion, unprepared)` without them.
 *
 *   npm run bench -- compile [--quick] [--device xpu|cpu|all]
 */
import * as xpu from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { preparedLaunches } from '../src/compile/prepared_launch.js';
import { compare, failedCheck, type Check } from './lib/check.js';
import type { RepeatOptions } from './lib/timing.js';
import type { BenchCase, DeviceName, Suite, SuiteContext, SuitePlan, Variant, Workload } from './suite.js';

const M = 2 ** 20;
const CHAIN_N = M;
const CHAIN_OPS = 10;
/**
 * Chain calls per timed run (one wait at the end), as the gemm suite times several GEMMs per run
 * (its cpu runs do ~10-20 ms of work, bench/gemm/workloads.ts): 8 calls are ~12-15 ms of the
 * fused variant's work, so a run measures back-to-back calls rather than the first call's start
 * after the runner's garbage collection and settle pause.
 */
const CHAIN_CALLS = 8;
const SMALL_N = 256;
const SMALL_OPS = 100;
const REPLAY_CALLS = 40;
const CHECK_N = 4096;
const BOUND = 1e-5;

/** Which implementation the next run() calls: set by the case's variants. */
let mode: 'eager' | 'scoped' | 'compiled' | 'unfused' | 'unprepared' = 'eager';
const variants: Variant[] = [
  { name: 'eager', apply: () => ((mode = 'eager'), () => undefined) },
  { name: 'compiled', apply: () => ((mode = 'compiled'), () => undefined) },
];

export const suite: Suite = {
  name: 'compile',
  description: 'xpu.compile against eager: a 10-op elementwise chain on 1M elements, and the per-op cost of replaying 100 small ops',
  plan,
};

/** The chain: 10 elementwise ops (scalars and tensors, two with exp). */
function chain(x: Tensor, y: Tensor): Tensor {
  return x.mul(1.5).add(y).sub(0.25).mul(y).silu().add(1).mul(0.5).sigmoid().add(x).mul(0.75);
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

function chainRef(x: number, y: number): number {
  const t = (x * 1.5 + y - 0.25) * y;
  return (sigmoid((t * sigmoid(t) + 1) * 0.5) + x) * 0.75;
}

function small(x: Tensor): Tensor {
  let v = x;
  for (let i = 0; i < SMALL_OPS; i++) {
    const next = i % 2 ? v.add(1) : v.mul(0.999);
    if (v !== x) v.dispose();
    v = next;
  }
  return v;
}

function smallRef(x: number): number {
  let v = x;
  for (let i = 0; i < SMALL_OPS; i++) v = i % 2 ? v + 1 : v * 0.999;
  return v;
}

async function plan(ctx: SuiteContext): Promise<SuitePlan> {
  const repeat: RepeatOptions = ctx.quick ? { warmup: 2, reps: 7 } : { warmup: 3, reps: 21 };
  const cases: BenchCase[] = [];
  for (const device of ctx.devices) cases.push(chainCase(device, repeat), replayCase(device, repeat));
  return {
    cases,
    notes: [
      "chain10 bytes are what the fused kernel must move (x and y read, the output written); eager moves 10 kernels' worth",
      `replay100: time per captured op over ${REPLAY_CALLS} calls and one wait (no read-back); compiled fuses the 100 ops into one kernel`,
    ],
    settings: { chainElements: CHAIN_N, chainOps: CHAIN_OPS, chainCalls: CHAIN_CALLS, smallElements: SMALL_N, smallOps: SMALL_OPS, repeat },
  };
}

function chainCase(device: DeviceName, repeat: RepeatOptions): BenchCase {
  return {
    kernel: 'chain10',
    device,
    dtype: 'float32',
    size: CHAIN_N,
    shape: `x, y [${CHAIN_N}]: ${CHAIN_OPS} elementwise ops, ${CHAIN_CALLS} calls per run`,
    flops: CHAIN_OPS * CHAIN_N,
    bytes: 3 * 4 * CHAIN_N,
    writeBytes: 4 * CHAIN_N,
    repeat,
    // eager as written leaves its 9 intermediates to the garbage collector (as an eager user who
    // never disposes does); eager (scoped) frees them at once (xpu.scope, tfjs's tidy), so no
    // collection lands in any variant's timing.
    variants: [...variants, { name: 'eager (scoped)', apply: () => ((mode = 'scoped'), () => undefined) }],
    setup: () => chainWorkload(device),
  };
}

function replayCase(device: DeviceName, repeat: RepeatOptions): BenchCase {
  return {
    kernel: 'replay100',
    device,
    dtype: 'float32',
    size: SMALL_N,
    shape: `x [${SMALL_N}]: ${SMALL_OPS} dependent ops, ${REPLAY_CALLS} calls, one wait`,
    metric: 'latency',
    flops: SMALL_N,
    bytes: 2 * 4 * SMALL_N,
    repeat,
    gpuTime: false,
    variants: [
      ...variants,
      { name: 'compiled (no fusion)', apply: () => ((mode = 'unfused'), () => undefined) },
      { name: 'compiled (no fusion, unprepared)', apply: () => ((mode = 'unprepared'), () => undefined) },
    ],
    setup: () => replayWorkload(device),
  };
}

function chainWorkload(device: DeviceName): Workload {
  const x = xpu.randn([CHAIN_N], { device });
  const y = xpu.randn([CHAIN_N], { device });
  const compiled = xpu.compile(chain);
  let last: Tensor | null = null;
  const once = () => {
    const out = mode === 'eager' ? chain(x, y) : mode === 'scoped' ? xpu.scope(() => chain(x, y)) : compiled(x, y);
    last?.dispose();
    last = out;
  };
  const run = () => {
    for (let j = 0; j < CHAIN_CALLS; j++) once();
  };
  return {
    units: CHAIN_CALLS,
    run,
    check: async (): Promise<Check> => {
      try {
        const saved = mode;
        mode = 'compiled';
        once();
        once(); // the first call captures (eager), the second replays
        mode = saved;
        const got = ((await last!.data()) as Float32Array).subarray(0, CHECK_N);
        const xs = (await x.data()) as Float32Array;
        const ys = (await y.data()) as Float32Array;
        return compare(
          got,
          Float64Array.from({ length: CHECK_N }, (_, i) => chainRef(xs[i], ys[i])),
          BOUND,
        );
      } catch (e) {
        return failedCheck(e, BOUND);
      }
    },
    dispose: () => {
      last?.dispose();
      x.dispose();
      y.dispose();
    },
  };
}

function replayWorkload(device: DeviceName): Workload {
  const x = xpu.randn([SMALL_N], { device });
  const compiled = xpu.compile(small);
  const unfused = xpu.compile(small, { fuse: false });
  const unprepared = xpu.compile(small, { fuse: false });
  // Its recording is made with prepared launches off (prepared_launch.ts): every step through its launcher.
  const launcherOnly = (t: Tensor): Tensor => {
    preparedLaunches.enabled = false;
    try {
      return unprepared(t);
    } finally {
      preparedLaunches.enabled = true;
    }
  };
  let last: Tensor | null = null;
  const run = () => {
    for (let j = 0; j < REPLAY_CALLS; j++) {
      const out = mode === 'eager' ? small(x) : mode === 'compiled' ? compiled(x) : mode === 'unfused' ? unfused(x) : launcherOnly(x);
      last?.dispose();
      last = out;
    }
  };
  return {
    units: SMALL_OPS * REPLAY_CALLS,
    run,
    check: async (): Promise<Check> => {
      try {
        const xs = (await x.data()) as Float32Array;
        const ref = Float64Array.from(xs, smallRef);
        for (const m of ['compiled', 'unfused', 'unprepared', 'eager'] as const) {
          mode = m;
          run(); // the first call of each captures, the rest replay
          const c = compare((await last!.data()) as Float32Array, ref, BOUND);
          if (!c.ok) return c;
        }
        return compare((await last!.data()) as Float32Array, ref, BOUND);
      } catch (e) {
        return failedCheck(e, BOUND);
      }
    },
    dispose: () => {
      last?.dispose();
      x.dispose();
    },
  };
}
