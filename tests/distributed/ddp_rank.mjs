// One rank of tests/ddp.test.ts: data-parallel training must equal training on one process.
//
// Every rank knows the whole batch (generated from the seed) and trains a tiny MLP two ways:
//   - data parallel: rank r takes rows [r*B, (r+1)*B), its gradients averaged by DDP's reducer;
//   - alone: all N*B rows, no collective at all (the reference, computed on this rank).
// After k SGD steps both must hold the same parameters (float32 tolerance). Parameters start
// different on every rank, so the data-parallel run also checks the broadcast from rank 0
// (the reference starts from rank 0's values, which every rank can generate).
//
// Modes:
//   manual    gradients computed by hand (matmul etc.) and handed to the reducer in an order that
//             differs per rank (buckets must still be issued in the same order everywhere), plus the
//             unused-parameter rules; runs before autograd exists.
//   autograd  xpu.dist.DistributedDataParallel over an nn module, loss.backward() and xpu.optim.SGD.
//
// usage (under `xpu run`): node ddp_rank.mjs <devices: cpu[,xpu]> <seed> [manual,autograd]
import * as xpu from '../../dist/src/index.js';
import { assignBuckets } from '../../dist/src/distributed/ddp_buckets.js';
import { Reducer } from '../../dist/src/distributed/reducer.js';

await xpu.ready();
const d = xpu.dist;
const devices = (process.argv[2] ?? 'cpu').split(',');
const seed = Number(process.argv[3] ?? 1);
const modes = (process.argv[4] ?? 'manual,autograd').split(',');
const world = await d.initProcessGroup({ timeoutMs: 120_000 });
const rank = d.getRank();
const n = d.getWorldSize();

let checks = 0;
const failures = [];
const fail = (msg) => failures.length < 20 && failures.push(`rank ${rank}: ${msg}`);

function mulberry32(s) {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rngFor = (...k) => mulberry32(k.reduce((h, x) => Math.imul(h ^ (x + 0x9e3779b9), 0x85ebca6b) >>> 0, seed * 2654435761));
const randoms = (r, count, scale = 1) => Array.from({ length: count }, () => (r() * 2 - 1) * scale);

const IN = 6;
const HIDDEN = 5;
const OUT = 3;
const B = 4; // rows per rank
const STEPS = 3;
const LR = 0.1;
const SHAPES = { w1: [HIDDEN, IN], b1: [HIDDEN], w2: [OUT, HIDDEN], b2: [OUT] };
const NAMES = Object.keys(SHAPES);

/** Initial parameters as rank `r` would make them (they differ per rank; rank 0's win). */
function initValues(r) {
  const g = rngFor(r, 1);
  return Object.fromEntries(
    NAMES.map((k) => [
      k,
      randoms(
        g,
        SHAPES[k].reduce((a, b) => a * b, 1),
        0.5,
      ),
    ]),
  );
}

/** The whole batch: N*B rows of inputs and targets, the same on every rank. */
function batch(step) {
  const g = rngFor(1000 + step, 2);
  return { x: randoms(g, n * B * IN), t: randoms(g, n * B * OUT) };
}

function rowsOf(values, width, start, count) {
  return values.slice(start * width, (start + count) * width);
}

/** Parameters as tensors on `device`. */
function makeParams(values, device) {
  return Object.fromEntries(NAMES.map((k) => [k, xpu.tensor(values[k], { device, shape: SHAPES[k] })]));
}

/** Gradients of mean((mlp(x) - t)^2) by hand: the same function for the reference and the ranks. */
function manualGrads(p, x, t) {
  const rows = x.shape[0];
  const hPre = xpu.add(xpu.matmul(x, xpu.transpose(p.w1, 0, 1)), p.b1);
  const h = xpu.relu(hPre);
  const y = xpu.add(xpu.matmul(h, xpu.transpose(p.w2, 0, 1)), p.b2);
  const dy = xpu.mul(xpu.sub(y, t), 2 / (rows * OUT));
  const dh = xpu.where(xpu.gt(hPre, 0), xpu.matmul(dy, p.w2), 0);
  return {
    w2: xpu.matmul(xpu.transpose(dy, 0, 1), h),
    b2: xpu.sum(dy, 0),
    w1: xpu.matmul(xpu.transpose(dh, 0, 1), x),
    b1: xpu.sum(dh, 0),
  };
}

/** p <- p - lr * grad, in place (the parameter tensor keeps its identity, as an optimizer must). */
function sgdStep(params, grads) {
  for (const k of NAMES) xpu.copyInto(params[k], xpu.sub(params[k], xpu.mul(grads[k], LR)));
}

async function values(t) {
  return Array.from(await t.data());
}

async function expectClose(got, want, what) {
  checks++;
  const a = await values(got);
  const b = Array.isArray(want) ? want : await values(want);
  if (a.length !== b.length) return fail(`${what}: ${a.length} elements, expected ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= 2e-6 + 2e-5 * Math.abs(b[i])))
      return fail(`${what}: element ${i} is ${a[i]}, expected ${b[i]} (diff ${a[i] - b[i]})`);
  }
}

/** The single-process run on all N*B rows, from rank 0's initial values. */
async function reference(device) {
  const p = makeParams(initValues(0), device);
  for (let s = 0; s < STEPS; s++) {
    const { x, t } = batch(s);
    const g = manualGrads(p, xpu.tensor(x, { device, shape: [n * B, IN] }), xpu.tensor(t, { device, shape: [n * B, OUT] }));
    sgdStep(p, g);
  }
  return p;
}

/** A permutation of 0..count-1 that differs per rank and step. */
function shuffled(count, step) {
  const g = rngFor(rank, step, 3);
  const a = [...Array(count).keys()];
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(g() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Manual mode: broadcast, then the reducer driven by hand, over `capBytes` buckets. */
async function manualRun(device, capBytes) {
  const p = makeParams(initValues(rank), device);
  for (const k of NAMES) await d.broadcast(p[k], { src: 0 });
  const list = NAMES.map((k) => p[k]);
  const plans = assignBuckets(list, capBytes, capBytes);
  const reducer = new Reducer(list, NAMES, plans, world, { findUnusedParameters: false });
  for (let s = 0; s < STEPS; s++) {
    const { x, t } = batch(s);
    const grads = manualGrads(
      p,
      xpu.tensor(rowsOf(x, IN, rank * B, B), { device, shape: [B, IN] }),
      xpu.tensor(rowsOf(t, OUT, rank * B, B), { device, shape: [B, OUT] }),
    );
    // Gradients arrive in a different order on every rank: the reducer must still issue the buckets in one order.
    for (const i of shuffled(NAMES.length, s)) {
      list[i].grad = grads[NAMES[i]];
      reducer.markReady(list[i]);
    }
    await reducer.finish();
    sgdStep(p, Object.fromEntries(NAMES.map((k) => [k, p[k].grad])));
    for (const k of NAMES) p[k].grad = null;
  }
  return { p, buckets: plans.length };
}

/** The unused-parameter rules with known gradients: rank r's gradient of every parameter is r + 1. */
async function unusedRules(device) {
  const mk = (shape) => xpu.zeros(shape, { device });
  const list = [mk([2]), mk([3]), mk([2, 2])];
  const names = ['a', 'b', 'c'];
  const plans = assignBuckets(list, 8, 8); // several buckets
  const ones = (t) => xpu.full([...t.shape], rank + 1, { device });
  const sumUsed = (ranks) => ranks.reduce((s, r) => s + r + 1, 0) / n;
  // findUnusedParameters: 'b' unused on rank 1 only, 'c' unused everywhere.
  const r1 = new Reducer(list, names, plans, world, { findUnusedParameters: true });
  r1.prepare();
  for (const i of [0, 1]) {
    if (i === 1 && rank === 1) continue;
    list[i].grad = ones(list[i]);
    r1.markReady(list[i]);
  }
  await r1.finish();
  const all = [...Array(n).keys()];
  await expectClose(list[0].grad, Array(2).fill(sumUsed(all)), `${device} findUnused: used everywhere`);
  await expectClose(
    list[1].grad,
    Array(3).fill(sumUsed(all.filter((r) => r !== 1))),
    `${device} findUnused: unused on rank 1 counts zero there`,
  );
  checks++;
  if (list[2].grad !== null) fail(`${device} findUnused: a parameter no rank used must keep grad null`);
  // Without findUnusedParameters: the reduction completes on every rank, then the rank that saw an
  // unused parameter throws naming it.
  for (const t of list) t.grad = null;
  const r2 = new Reducer(list, names, plans, world, { findUnusedParameters: false });
  for (const i of [0, 1, 2]) {
    if (i === 2 && rank === 0) continue;
    list[i].grad = ones(list[i]);
    r2.markReady(list[i]);
  }
  checks++;
  try {
    await r2.finish();
    if (rank === 0) fail(`${device} unused without findUnused: no error on rank 0`);
  } catch (e) {
    if (rank !== 0) fail(`${device} unused without findUnused: rank ${rank} threw ${e?.message}`);
    else if (!(e instanceof xpu.XpuDistError) || e.kind !== 'state' || !/'c'/.test(e.message))
      fail(`${device}: wrong error ${e?.name} ${e?.message}`);
  }
  // A second gradient for the same parameter in one pass is an error.
  const r3 = new Reducer(list, names, plans, world, { findUnusedParameters: true });
  list[0].grad = ones(list[0]);
  r3.markReady(list[0]);
  checks++;
  try {
    r3.markReady(list[0]);
    fail(`${device}: a second markReady of one parameter did not throw`);
  } catch (e) {
    if (!(e instanceof xpu.XpuDistError) || !/twice/.test(e.message)) fail(`${device}: wrong error for a second gradient: ${e?.message}`);
  }
  await r3.finish();
}

/** The MLP as an nn module (fc1 -> relu -> fc2), holding rank `r`'s initial values. */
function makeModule(device, r) {
  class Mlp extends xpu.nn.Module {
    constructor() {
      super();
      this.registerModule('fc1', new xpu.nn.Linear(IN, HIDDEN, { device }));
      this.registerModule('fc2', new xpu.nn.Linear(HIDDEN, OUT, { device }));
    }

    forward(x) {
      return this.fc2.forward(this.fc1.forward(x, { activation: 'relu' }));
    }
  }
  const m = new Mlp();
  const v = initValues(r);
  const slots = { w1: m.fc1.weight, b1: m.fc1.bias, w2: m.fc2.weight, b2: m.fc2.bias };
  for (const k of NAMES) {
    xpu.noGrad(() => xpu.copyInto(slots[k], xpu.tensor(v[k], { device, shape: SHAPES[k] })));
    slots[k].requiresGrad = true;
  }
  return { m, slots };
}

function mse(y, t) {
  const diff = xpu.sub(y, t);
  return xpu.mean(xpu.mul(diff, diff));
}

/**
 * Autograd mode: DistributedDataParallel + loss.backward() + xpu.optim.SGD, from each rank's own
 * initial values (the broadcast makes them rank 0's). With `accumulate`, each step is two
 * micro-batches of B/2 rows, the first under noSync (one all-reduce per step), each loss halved.
 */
async function autogradRun(device, capMb, accumulate) {
  const { m, slots } = makeModule(device, rank);
  const ddp = await d.DistributedDataParallel(m, { bucketCapMb: capMb });
  const opt = new xpu.optim.SGD(
    NAMES.map((k) => slots[k]),
    { lr: LR },
  );
  let guardChecked = false;
  for (let s = 0; s < STEPS; s++) {
    const { x, t } = batch(s);
    const part = (start, count) => [
      xpu.tensor(rowsOf(x, IN, start, count), { device, shape: [count, IN] }),
      xpu.tensor(rowsOf(t, OUT, start, count), { device, shape: [count, OUT] }),
    ];
    if (accumulate) {
      const [x0, t0] = part(rank * B, B / 2);
      ddp.noSync(() => xpu.mul(mse(ddp.forward(x0), t0), 0.5).backward());
      const [x1, t1] = part(rank * B + B / 2, B / 2);
      xpu.mul(mse(ddp.forward(x1), t1), 0.5).backward();
    } else {
      const [xs, ts] = part(rank * B, B);
      const y = ddp.forward(xs);
      // Another graph's backward in the middle of the pass (none of the module's parameters in it)
      // must neither end the pass nor throw.
      checks++;
      try {
        const other = xpu.ones([3], { device, requiresGrad: true });
        xpu.sum(xpu.mul(other, other)).backward();
        ddp.forward(part(0, 1)[0]); // refused if that backward had ended the pass (its all-reduces in flight)
      } catch (e) {
        fail(`${device}: an unrelated backward during a DDP pass threw ${e?.message}`);
      }
      mse(y, ts).backward();
    }
    if (!guardChecked) {
      // A forward before the averages arrived is refused (the step would have used local gradients).
      guardChecked = true;
      checks++;
      try {
        ddp.forward(part(0, 1)[0]);
        fail(`${device}: forward while the all-reduces were in flight did not throw`);
      } catch (e) {
        if (!(e instanceof xpu.XpuDistError) || !/gradientsReady/.test(e.message))
          fail(`${device}: wrong error for an early forward: ${e?.message}`);
      }
    }
    await ddp.gradientsReady();
    opt.step();
    opt.zeroGrad();
  }
  ddp.detachHooks();
  return { p: slots, buckets: ddp.buckets.length };
}

/** float16 and float32 parameters (separate buckets): rank r's gradients are r + 1.5, the mean is exact in float16. */
async function mixedDtypes(device) {
  const list = [xpu.zeros([3], { device, dtype: 'float16' }), xpu.zeros([5], { device }), xpu.zeros([2], { device, dtype: 'float16' })];
  const reducer = new Reducer(list, ['h0', 'f', 'h1'], assignBuckets(list, 4, 4), world, { findUnusedParameters: false });
  for (const p of list) {
    p.grad = xpu.full([...p.shape], rank + 1.5, { device, dtype: p.dtype });
    reducer.markReady(p);
  }
  await reducer.finish();
  const mean = (n * (n + 1)) / 2 / n + 0.5;
  for (const p of list) {
    checks++;
    if (p.grad.dtype !== p.dtype) fail(`${device}: ${p.dtype} parameter got a ${p.grad.dtype} gradient`);
    await expectClose(p.grad, Array(p.numel).fill(mean), `${device} ${p.dtype} bucket`);
  }
}

const buckets = [];
for (const device of devices) {
  const want = await reference(device);
  for (const m of modes) if (m !== 'manual' && m !== 'autograd') throw new Error(`unknown mode ${m}`);
  if (modes.includes('manual')) {
    // One parameter per bucket (the order test), and the default cap (all in one bucket).
    for (const cap of [1, 25 << 20]) {
      const { p, buckets: count } = await manualRun(device, cap);
      buckets.push(count);
      for (const k of NAMES) await expectClose(p[k], want[k], `${device} cap ${cap}: ${k} after ${STEPS} steps on ${n} ranks`);
    }
    await unusedRules(device);
    await mixedDtypes(device);
  }
  if (modes.includes('autograd')) {
    // One bucket per parameter (a 10-byte cap), and the default; then gradient accumulation.
    for (const [capMb, accumulate] of [
      [1e-5, false],
      [25, false],
      [25, true],
    ]) {
      const { p, buckets: count } = await autogradRun(device, capMb, accumulate);
      buckets.push(count);
      for (const k of NAMES)
        await expectClose(
          p[k],
          want[k],
          `${device} DDP cap ${capMb} MiB${accumulate ? ' noSync accumulation' : ''}: ${k} after ${STEPS} steps on ${n} ranks`,
        );
    }
  }
}

console.log(`RESULT ${JSON.stringify({ rank, n, modes, devices, checks, buckets, failures })}`);
await d.destroyProcessGroup();
process.exit(failures.length ? 1 : 0);
