/**
 * One rank of the collectives benchmark (started by bench/collectives.ts through mpirun, or `xpu run` for oneCCL). For
 * every collective, device, size and placement: one checked call on known data (#wrong counts
 * the elements that differ), then warm-up and timed iterations, each after a barrier. Per
 * iteration the slowest rank's time is kept (an all-reduce of max), as the C++ baseline does.
 * Rank 0 prints one `ROW {json}` line per case.
 *
 * usage: node dist/bench/collectives/rank.js '<RankPlan json>'
 */
import * as xpu from '../../src/index.js';
import { fromHost } from '../../src/ops/creation.js';
import { countFor, type Coll, type RankPlan, type Row } from './plan.js';
// The runtime opens nothing at import: open the GPU before the first xpu tensor.
await xpu.ready();

const d = xpu.dist;
type Tensor = xpu.Tensor;

/** The value rank r holds at element i (small integers: every sum is exact in float32). */
const value = (r: number, i: number) => (r + 1) * ((i % 7) + 1);

function filled(count: number, r: number, offset: number, device: 'cpu' | 'xpu'): Tensor {
  const host = new Float32Array(count);
  for (let i = 0; i < count; i++) host[i] = value(r, offset + i);
  return fromHost(host, [count], 'float32', device, 'bench');
}

interface Case {
  run(): Promise<Tensor>;
  /** Elements of the result that differ from what this rank must hold. */
  wrong(out: Tensor): Promise<number>;
  /** The tensor run() returns is new (out of place) and is disposed after each iteration. */
  fresh: boolean;
  dispose(): void;
}

function makeCase(coll: Coll, count: number, inPlace: boolean, device: 'cpu' | 'xpu', rank: number, n: number): Case {
  const sumRanks = (n * (n + 1)) / 2;
  const chunk = count / n;
  const check = (expect: (i: number) => number) => async (out: Tensor) => {
    const got = await out.data();
    let bad = 0;
    for (let i = 0; i < got.length; i++) if (got[i] !== expect(i)) bad++;
    return bad;
  };
  switch (coll) {
    case 'allReduce': {
      const t = filled(count, rank, 0, device);
      return {
        run: () => d.allReduce(t, { op: 'sum', inPlace }),
        wrong: check((i) => sumRanks * ((i % 7) + 1)),
        fresh: !inPlace,
        dispose: () => t.dispose(),
      };
    }
    case 'broadcast': {
      const t = filled(count, rank, 0, device);
      return {
        run: () => d.broadcast(t, { src: 0, inPlace }),
        wrong: check((i) => value(0, i)),
        fresh: !inPlace,
        dispose: () => t.dispose(),
      };
    }
    case 'allGather': {
      const t = filled(chunk, rank, 0, device);
      const output = inPlace ? xpu.zeros([count], { device }) : undefined;
      return {
        run: () => d.allGather(t, { output }),
        wrong: check((i) => value(Math.floor(i / chunk), i % chunk)),
        fresh: !inPlace,
        dispose: () => (t.dispose(), output?.dispose()),
      };
    }
    case 'reduceScatter': {
      const t = filled(count, rank, 0, device);
      const output = inPlace ? xpu.zeros([chunk], { device }) : undefined;
      return {
        run: () => d.reduceScatter(t, { op: 'sum', output }),
        wrong: check((i) => sumRanks * (((rank * chunk + i) % 7) + 1)),
        fresh: !inPlace,
        dispose: () => (t.dispose(), output?.dispose()),
      };
    }
    case 'allToAll': {
      const t = filled(count, rank, 0, device);
      const output = inPlace ? xpu.zeros([count], { device }) : undefined;
      return {
        run: () => d.allToAll(t, { output }),
        wrong: check((i) => value(Math.floor(i / chunk), rank * chunk + (i % chunk))),
        fresh: !inPlace,
        dispose: () => (t.dispose(), output?.dispose()),
      };
    }
  }
}

/** Element-wise max (or sum) of a float vector across ranks, read on every rank. */
async function across(values: number[], op: 'max' | 'sum'): Promise<number[]> {
  const t = xpu.tensor(Float32Array.from(values), { device: 'cpu' });
  await d.allReduce(t, { op });
  return Array.from(await t.data());
}

async function measure(coll: Coll, device: 'cpu' | 'xpu', bytes: number, warmup: number, iters: number, inPlace: boolean): Promise<Row> {
  const rank = d.getRank();
  const n = d.getWorldSize();
  const count = countFor(coll, bytes, n);
  const c = makeCase(coll, count, inPlace, device, rank, n);
  const first = await c.run();
  const wrong = await c.wrong(first);
  if (c.fresh) first.dispose();
  const times: number[] = [];
  let stage = 0;
  let engine = 0;
  for (let k = 0; k < warmup + iters; k++) {
    await d.barrier();
    const t0 = performance.now();
    const out = await c.run();
    if (device === 'xpu') await xpu.accelerator.synchronize(); // the upload of the result is part of the cost
    const t1 = performance.now();
    if (c.fresh) out.dispose();
    if (k < warmup) continue;
    times.push((t1 - t0) * 1e3);
    const tm = d.lastTiming()!;
    stage += (tm.stageInMs + tm.stageOutMs) * 1e3;
    engine += tm.engineMs * 1e3;
  }
  c.dispose();
  const slowest = await across(times, 'max');
  const [stageMax, engineMax] = await across([stage / iters, engine / iters], 'max');
  const [wrongAll] = await across([wrong], 'sum');
  return {
    impl: 'xpu.dist',
    coll,
    device,
    inPlace,
    bytes: count * 4,
    count,
    times_us: slowest,
    engine_us: engineMax,
    ...(device === 'xpu' ? { stage_us: stageMax } : {}),
    wrong: wrongAll,
  };
}

/** The largest tensor the xpu adapter holds (a GPU buffer limit; lavapipe's is 128 MiB). */
function xpuMaxBytes(): number {
  const l = xpu.accelerator.getDeviceInfo().limits;
  return Math.min(l.maxBufferSize ?? Infinity, l.maxStorageBufferBindingSize ?? Infinity);
}

const plan = JSON.parse(process.argv[2] ?? '{}') as RankPlan;
// The engine the launcher chose (XPU_DIST_BACKEND: mpi, or ccl for bench collectives --backend ccl).
await d.initProcessGroup({ timeoutMs: 600_000 });
for (const device of plan.devices) {
  for (const coll of device === 'xpu' ? (['allReduce'] as Coll[]) : plan.colls) {
    for (const s of plan.sizes) {
      if (device === 'xpu' && s.bytes > xpuMaxBytes()) {
        if (d.getRank() === 0)
          console.log(`collectives: xpu ${coll} at ${s.bytes} B skipped: above the adapter's ${xpuMaxBytes()}-byte buffer limit`);
        continue;
      }
      for (const inPlace of [false, true]) {
        const row = await measure(coll, device, s.bytes, s.warmup, s.iters, inPlace);
        if (d.getRank() === 0) console.log(`ROW ${JSON.stringify(row)}`);
      }
    }
  }
}
await d.destroyProcessGroup();
