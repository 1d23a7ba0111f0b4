/** Throughput rows: one op at one size on one implementation, as GB/s and a fraction of copy. */
import * as xpu from '../../src/index.js';
import { compare, failedCheck } from '../lib/check.js';
import type { ThroughputRow } from '../lib/records.js';
import { opsPerRun, rotationSets } from '../lib/rotation.js';
import { gbPerSecond, type RepeatOptions } from '../lib/timing.js';
import type { TfjsPeer } from '../lib/tfjs_peer.js';
import { timeWorkload, type Workload } from '../lib/workload.js';
import { add, CHECK_ELEMENTS, readPrefix, type OpCase } from './ops.js';

type Tensor = xpu.Tensor;
type TfTensor = ReturnType<TfjsPeer['tf']['add']>;

export interface MeasureContext {
  opts: RepeatOptions;
  /** Bytes one timed GPU run should move (several ops are recorded per run to reach it). */
  targetBytes: number;
  /** The device's copy bandwidth, GB/s, for fractionOfCopy. */
  copyGbps?: number;
  poll: string;
}

/**
 * One of the runtime's ops at size n. A GPU run records several ops (inputs rotating among sets)
 * and then waits once with accelerator.synchronize(); the cpu kernels run synchronously, one op
 * per run. Throws XpuOutOfMemoryError when the inputs do not fit the adapter.
 */
export function opWorkload(c: OpCase, device: 'xpu' | 'cpu', n: number, targetBytes: number): Workload {
  const bytes = c.bytes(n);
  const sets: Tensor[][] = [];
  const dispose = async () => {
    for (const s of sets) for (const t of s) t.dispose();
    if (device === 'xpu') {
      await xpu.accelerator.synchronize().catch(() => {});
      xpu.accelerator.emptyCache(); // the next size must not find this one's blocks still reserved
    }
  };
  try {
    for (let k = 0; k < rotationSets(bytes); k++) sets.push(c.makeInputs(device, n));
  } catch (e) {
    void dispose();
    throw e;
  }
  const units = device === 'xpu' ? opsPerRun(bytes, targetBytes) : 1;
  let next = 0;
  return {
    units,
    runOnce: async () => {
      for (let k = 0; k < units; k++) c.run(sets[next++ % sets.length]).dispose();
      if (device === 'xpu') await xpu.accelerator.synchronize();
    },
    check: async () => {
      const out = c.run(sets[0]);
      try {
        const host = await Promise.all(sets[0].map((t) => readPrefix(t)));
        return compare(await readPrefix(out), c.reference(host), c.bound);
      } catch (e) {
        return failedCheck(e, c.bound);
      } finally {
        out.dispose();
      }
    },
    dispose,
  };
}

/** tfjs-backend-webgpu's add on the same adapter, timed the same way (submit, then wait once). */
export function tfjsAddWorkload(peer: TfjsPeer, n: number, targetBytes: number): Workload {
  const { tf } = peer;
  const bytes = add.bytes(n);
  const sets: TfTensor[][] = [];
  for (let k = 0; k < rotationSets(bytes); k++) sets.push([tf.randomUniform([n], -1, 1), tf.randomUniform([n], -1, 1)]);
  const units = opsPerRun(bytes, targetBytes);
  let next = 0;
  return {
    units,
    runOnce: async () => {
      for (let k = 0; k < units; k++) {
        const [a, b] = sets[next++ % sets.length];
        tf.add(a, b).dispose();
      }
      await peer.sync();
    },
    check: async () => {
      const out = tf.add(sets[0][0], sets[0][1]);
      try {
        const [a, b, got] = await Promise.all([tfHead(peer, sets[0][0]), tfHead(peer, sets[0][1]), tfHead(peer, out)]);
        return compare(got, add.reference([a, b]), add.bound);
      } catch (e) {
        return failedCheck(e, add.bound);
      } finally {
        out.dispose();
      }
    },
    dispose: async () => {
      for (const s of sets) for (const t of s) t.dispose();
    },
  };
}

function limitNote(e: unknown, limit: number | undefined): string {
  return `above the adapter's maxStorageBufferBindingSize (${limit} bytes per tensor): ${(e as Error).message}`;
}

const xpuBindingLimit = (): number | undefined =>
  xpu.accelerator.isAvailable() ? xpu.accelerator.getDeviceInfo().limits.maxStorageBufferBindingSize : undefined;

/** Prepares, checks, times and disposes a workload; failures and limits become the row's note. */
async function measureRow(row: ThroughputRow, make: () => Workload, ctx: MeasureContext, limit: number | undefined): Promise<ThroughputRow> {
  let w: Workload | undefined;
  try {
    w = make();
    row.check = await w.check();
    row.stats = await timeWorkload(w, ctx.opts);
    row.gbps = gbPerSecond(row.bytes, row.stats.medianMs);
    if (ctx.copyGbps) row.fractionOfCopy = row.gbps / ctx.copyGbps;
  } catch (e) {
    row.note = e instanceof xpu.XpuOutOfMemoryError ? limitNote(e, limit) : `failed: ${(e as Error).message}`;
  } finally {
    await w?.dispose();
  }
  return row;
}

export function measureOp(c: OpCase, device: 'xpu' | 'cpu', n: number, ctx: MeasureContext): Promise<ThroughputRow> {
  const row: ThroughputRow = { impl: device, op: c.name, elements: n, shape: c.shape(n), bytes: c.bytes(n), poll: device === 'xpu' ? ctx.poll : 'n/a' };
  return measureRow(row, () => opWorkload(c, device, n, ctx.targetBytes), ctx, xpuBindingLimit());
}

export async function measureTfjsAdd(peer: TfjsPeer, n: number, ctx: MeasureContext): Promise<ThroughputRow> {
  const row: ThroughputRow = { impl: 'tfjs-webgpu', op: 'add', elements: n, shape: [n], bytes: add.bytes(n), poll: ctx.poll };
  // tfjs would hit a validation error, not a typed one, above its binding limit: do not try.
  if (4 * n > peer.maxBindingBytes) return { ...row, note: `above the adapter's maxStorageBufferBindingSize (${peer.maxBindingBytes} bytes per tensor): not attempted` };
  return measureRow(row, () => tfjsAddWorkload(peer, n, ctx.targetBytes), ctx, peer.maxBindingBytes);
}

/** The first `count` elements of a tfjs tensor, read to the host. */
export async function tfHead(peer: TfjsPeer, t: TfTensor, count = CHECK_ELEMENTS): Promise<Float32Array> {
  const head = peer.tf.slice(t, 0, Math.min(count, t.size));
  try {
    return (await head.data()) as Float32Array;
  } finally {
    head.dispose();
  }
}
