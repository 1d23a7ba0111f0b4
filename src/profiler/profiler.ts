import type { AttentionSpec } from '../ops/attention/spec.js';
import type { OptimStepSpec } from '../backends/optim_spec.js';
import type { DecodeAttentionSpec } from '../backends/decode_attention_spec.js';
import type { Backend, MapSpec, MatmulSpec, QuantMatmulSpec, ReduceSpec, RowsSpec, Storage } from '../backends/backend.js';
import type { WebGPUBackend } from '../backends/webgpu/backend.js';
import { cpuDevice, xpuEntries } from '../device/registry.js';
import { XpuValueError } from '../errors.js';
import { GpuTimer } from './gpu_timer.js';
import { Profile, type KernelEvent } from './report.js';

/**
 * The profiler records every kernel launch on every device: name, parameters, shapes, CPU-side
 * enqueue time, bytes allocated for the output, and GPU time from timestamp queries where the
 * adapter has them. While it is off, nothing is wrapped: the overhead is zero.
 */
type Primitive = 'map' | 'reduce' | 'rows' | 'matmul' | 'qmatmul' | 'attention' | 'attentionBackward' | 'decodeAttention' | 'optimStep';
const PRIMITIVES: Primitive[] = [
  'map',
  'reduce',
  'rows',
  'matmul',
  'qmatmul',
  'attention',
  'attentionBackward',
  'decodeAttention',
  'optimStep',
];

interface Session {
  events: KernelEvent[];
  wallStart: number;
  restore: (() => void)[];
  timers: GpuTimer[];
}

let session: Session | null = null;

function describe(kind: Primitive, spec: unknown): { name: string; params: string; shapes: string } {
  switch (kind) {
    case 'map': {
      const s = spec as MapSpec;
      return {
        name: s.kernel.name,
        params: `${s.inputs.map((x) => x.dtype).join(',')}->${s.outDtype}`,
        shapes: `[${s.outShape.join(', ')}]`,
      };
    }
    case 'reduce': {
      const s = spec as ReduceSpec;
      return { name: s.op, params: `${s.input.dtype} acc=${s.accKind}`, shapes: `[${s.shape.join(', ')}] kept=${s.keptRank}` };
    }
    case 'rows': {
      const s = spec as RowsSpec;
      return { name: s.op, params: s.input.dtype, shapes: `[${s.shape.join(', ')}] row=${s.rowRank}` };
    }
    case 'matmul': {
      const s = spec as MatmulSpec;
      return { name: 'matmul', params: `${s.a.dtype}x${s.b.dtype}`, shapes: `[${s.batchShape.join(', ')}] ${s.m}x${s.k}x${s.n}` };
    }
    case 'attention':
    case 'attentionBackward': {
      const s = spec as AttentionSpec;
      const masking = s.scoreMod || s.maskMod ? 'flex' : s.causal ? 'causal' : s.mask ? `${s.mask.kind} mask` : 'dense';
      return { name: kind, params: `${s.q.dtype} ${masking}`, shapes: `B=${s.batch} H=${s.heads}/${s.kvHeads} L=${s.l} S=${s.s} E=${s.e}` };
    }
    case 'decodeAttention': {
      // Rotary, the KV-cache write and attention of one decode step (decode_attention_spec.ts).
      const s = spec as DecodeAttentionSpec;
      return {
        name: 'attention_decode',
        params: `${s.q.dtype} rotary+cache`,
        shapes: `B=${s.batch} H=${s.heads}/${s.kvHeads} S=${s.start + 1} E=${s.headDim}`,
      };
    }
    case 'optimStep': {
      const s = spec as OptimStepSpec;
      return { name: `optim.${s.rule}`, params: `${s.segments.length} params`, shapes: `[${s.total}]` };
    }
    case 'qmatmul': {
      const s = spec as QuantMatmulSpec;
      return {
        name: 'qmatmul',
        params: `${s.a.dtype}x${s.w.format}${s.w.format === 'int4' ? ` g${s.w.groupSize}` : ''}`,
        shapes: `${s.m}x${s.w.k}x${s.w.n}`,
      };
    }
  }
}

function wrapBackend(backend: Backend, device: string, timer: GpuTimer | null, events: KernelEvent[]): () => void {
  // optimStep updates in place (no output storage; 0 bytes allocated) and is optional;
  // attentionBackward returns three storages (dq, dk, dv), counted as 0 bytes here.
  const target = backend as unknown as Record<Primitive, ((spec: unknown) => Storage | undefined) | undefined>;
  const originals = PRIMITIVES.map((p) => target[p]);
  PRIMITIVES.forEach((p, j) => {
    const original = originals[j];
    if (!original) return;
    target[p] = function (this: Backend, spec: unknown): Storage | undefined {
      const ev: KernelEvent = { ...describe(p, spec), device, cpuStartMs: performance.now(), cpuDurMs: 0, bytes: 0 };
      // A primitive may launch several dispatches (the texture GEMM packs A and B first; split-K
      // sums its partials; attention decoding reduces its splits): its GPU time is their sum.
      timer?.expect((s, e) => {
        ev.gpuStartNs = ev.gpuStartNs === undefined ? s : Math.min(ev.gpuStartNs, s);
        ev.gpuDurNs = (ev.gpuDurNs ?? 0) + Math.max(0, e - s);
      });
      let out: Storage | undefined;
      try {
        out = original.call(this, spec);
      } finally {
        timer?.expect(null);
      }
      ev.cpuDurMs = performance.now() - ev.cpuStartMs;
      ev.bytes = out?.byteLength ?? 0;
      events.push(ev);
      return out;
    };
  });
  return () =>
    PRIMITIVES.forEach((p, j) => {
      if (originals[j]) target[p] = originals[j];
    });
}

export function isProfiling(): boolean {
  return session !== null;
}

/** Starts recording kernel launches on every device. */
export function start(): void {
  if (session)
    throw new XpuValueError('the profiler is already running', {
      op: 'profiler.start',
      expected: 'profiler.stop() first',
      got: 'a second start()',
    });
  const events: KernelEvent[] = [];
  const s: Session = { events, wallStart: performance.now(), restore: [], timers: [] };
  s.restore.push(wrapBackend(cpuDevice.backend, 'cpu', null, events));
  for (const e of xpuEntries()) {
    const backend = e.backend as WebGPUBackend;
    backend.queue.flush(); // earlier work is not ours to time
    const timer =
      e.info.features.includes('timestamp-query') && backend.device.features.has('timestamp-query') ? new GpuTimer(backend.device) : null;
    if (timer) {
      backend.queue.hook = timer;
      s.timers.push(timer);
      s.restore.push(() => {
        backend.queue.hook = null;
        timer.destroy();
      });
    }
    s.restore.push(wrapBackend(backend, String(e.device), timer, events));
  }
  session = s;
}

/** Stops recording, waits for the GPU to finish the recorded work, and returns the profile. */
export async function stop(): Promise<Profile> {
  const s = session;
  if (!s)
    throw new XpuValueError('the profiler is not running', {
      op: 'profiler.stop',
      expected: 'profiler.start() first',
      got: 'stop() without start()',
    });
  try {
    for (const e of xpuEntries()) await e.backend.synchronize();
    for (const t of s.timers) await t.drain();
  } finally {
    for (const r of s.restore.reverse()) r();
    session = null;
  }
  return new Profile(s.events, performance.now() - s.wallStart);
}

/** Runs fn under the profiler and returns its result with the profile. */
export async function profile<R>(fn: () => R | Promise<R>): Promise<{ result: R; profile: Profile }> {
  start();
  let result: R;
  try {
    result = await fn();
  } catch (e) {
    await stop();
    throw e;
  }
  return { result, profile: await stop() };
}
