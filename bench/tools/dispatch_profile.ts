/**
 * Where the time of a small eager xpu op goes (issue 15: <= 15 us per 256-element op). Runs
 * chains of `x = x.add(c)` ([256] float32) and attributes each op's host time to the layers it
 * passes through, by wrapping the backend's methods on this one instance with a clock:
 *
 *   ops        argument checks, dtype promotion, shapes and strides, the Tensor (src/ops, src/tensor)
 *   map        the map launcher's own work: dim merging, the pipeline key, the uniform block
 *   alloc      the caching allocator and the queue's ownership record
 *   pipeline   the pipeline look-up by short key (pipelines.ts)
 *   bindgroup  device.createBindGroup (Dawn)
 *   dispatch   the rest of CommandQueue.dispatch: launch checks, the uniform arena, recording
 *   release    the dispose of the previous link (allocator free)
 *   flush      submits (every XPU_BATCH dispatches) and the final read-back, per op
 *
 * Every wrapper costs two clock reads; `overhead` is measured (an empty wrapped call) and taken
 * off each layer. Speed evidence only, never a test; the clock is injectable for that reason.
 *
 *   node dist/bench/tools/dispatch_profile.js [--ops 1000] [--rounds 5] [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as xpu from '../../src/index.js';
import { xpuEntries } from '../../src/device/registry.js';

export type Clock = () => number;

const LAYERS = ['ops', 'map', 'alloc', 'pipeline', 'bindgroup', 'dispatch', 'release', 'flush'] as const;
type Layer = (typeof LAYERS)[number];

interface Profile {
  usPerOp: number;
  layers: Record<Layer, number>;
}

/** Wraps obj[name] so that its time, less the time of wrapped calls inside it, adds to acc[layer]. */
function wrap(
  obj: Record<string, unknown>,
  name: string,
  layer: Layer,
  acc: Record<Layer, number>,
  stack: number[],
  clock: Clock,
): () => void {
  const orig = obj[name] as (...a: unknown[]) => unknown;
  obj[name] = function (this: unknown, ...args: unknown[]) {
    const t0 = clock();
    stack.push(0);
    try {
      return orig.apply(this, args);
    } finally {
      const inner = stack.pop() as number;
      const dt = clock() - t0;
      acc[layer] += dt - inner;
      if (stack.length) stack[stack.length - 1] += dt;
    }
  };
  return () => {
    obj[name] = orig;
  };
}

export async function profileChain(ops: number, clock: Clock = performance.now.bind(performance)): Promise<Profile> {
  const backend = xpuEntries()[0].backend as unknown as Record<string, unknown> & {
    pipelines: Record<string, unknown>;
    queue: Record<string, unknown>;
    allocator: Record<string, unknown>;
    device: Record<string, unknown>;
  };
  const acc = Object.fromEntries(LAYERS.map((l) => [l, 0])) as Record<Layer, number>;
  const stack: number[] = [];
  const undo = [
    wrap(backend, 'map', 'map', acc, stack, clock),
    wrap(backend, 'alloc', 'alloc', acc, stack, clock),
    wrap(backend.pipelines, 'program', 'pipeline', acc, stack, clock),
    wrap(backend.device, 'createBindGroup', 'bindgroup', acc, stack, clock),
    wrap(backend.queue, 'dispatch', 'dispatch', acc, stack, clock),
    wrap(backend.queue, 'flush', 'flush', acc, stack, clock),
    wrap(backend.allocator, 'free', 'release', acc, stack, clock),
  ];
  const c = xpu.ones([256], { device: 'xpu' });
  let x = xpu.randn([256], { device: 'xpu' });
  await x.data();
  const start = x;
  try {
    const t0 = clock();
    for (let i = 0; i < ops; i++) {
      const s0 = clock();
      stack.push(0);
      const y = x.add(c);
      const inner = stack.pop() as number;
      acc.ops += clock() - s0 - inner;
      if (x !== start) x.dispose();
      x = y;
    }
    await x.data();
    const total = clock() - t0;
    return {
      usPerOp: (total * 1000) / ops,
      layers: Object.fromEntries(LAYERS.map((l) => [l, (acc[l] * 1000) / ops])) as Record<Layer, number>,
    };
  } finally {
    for (const u of undo) u();
    x.dispose();
    start.dispose();
    c.dispose();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (k: string, d: string) => {
    const i = args.indexOf(k);
    return i >= 0 ? args[i + 1] : d;
  };
  const ops = Number(opt('--ops', '1000'));
  const rounds = Number(opt('--rounds', '5'));
  await xpu.ready();
  const queue = (xpuEntries()[0].backend as unknown as { queue: { bindGroups: { enabled: boolean } } }).queue;
  const result: Record<string, unknown> = {};
  const os = await import('node:os');
  result.what = `x = x.add(c), [256] float32 on xpu, ${ops} ops then one read-back; ${rounds} rounds per setting, alternating; load ${os.loadavg()[0].toFixed(1)} at the start`;
  const settings = { cached: true, uncached: false };
  const runs: Record<string, { plain: number[]; profiles: Profile[] }> = {
    cached: { plain: [], profiles: [] },
    uncached: { plain: [], profiles: [] },
  };
  await profileChain(ops); // warm-up: pipelines compiled, allocator primed
  for (let r = 0; r < rounds; r++) {
    for (const [name, on] of Object.entries(settings)) {
      queue.bindGroups.enabled = on;
      await oneRound(ops, runs[name].plain, runs[name].profiles);
    }
  }
  queue.bindGroups.enabled = true;
  // The fastest round is the best estimate of the intrinsic cost on a loaded machine (load only
  // ever adds time); the median is reported beside it.
  const min = (v: number[]) => Math.min(...v);
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  for (const [name, { plain, profiles }] of Object.entries(runs)) {
    result[name] = {
      usPerOpPlainMin: min(plain),
      usPerOpPlainMedian: med(plain),
      usPerOpProfiledMin: min(profiles.map((p) => p.usPerOp)),
      layersUsPerOpMin: Object.fromEntries(LAYERS.map((l) => [l, min(profiles.map((p) => p.layers[l]))])),
      layersUsPerOpMedian: Object.fromEntries(LAYERS.map((l) => [l, med(profiles.map((p) => p.layers[l]))])),
    };
  }
  result.loadAtEnd = os.loadavg()[0];
  console.log(JSON.stringify(result, null, 2));
  const out = opt('--json', '');
  if (out) writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
}

async function oneRound(ops: number, plain: number[], profiles: Profile[]): Promise<void> {
  {
    const c = xpu.ones([256], { device: 'xpu' });
    let x = xpu.randn([256], { device: 'xpu' });
    await x.data();
    const t0 = performance.now();
    for (let i = 0; i < ops; i++) {
      const y = x.add(c);
      x.dispose();
      x = y;
    }
    await x.data();
    plain.push(((performance.now() - t0) * 1000) / ops);
    x.dispose();
    c.dispose();
    profiles.push(await profileChain(ops));
  }
}

if (process.argv[1]?.endsWith('dispatch_profile.js')) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
