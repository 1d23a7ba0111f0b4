import { onBackwardEnd } from '../autograd/engine.js';
import type { Storage } from '../backends/backend.js';
import { CpuStorage } from '../backends/cpu/storage.js';
import type { Device } from '../device/device.js';
import { cpuDevice, xpuEntries } from '../device/registry.js';
import { getRngState } from '../ops/random.js';
import type { HostArray } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { SPEC_PRIMITIVES, type Graph, type OutputTemplate, type OutputTensor, type Patch, type Step } from './graph.js';

/**
 * Capture: one eager run of the function with every device's backend methods wrapped (as the
 * profiler wraps them, src/profiler/profiler.ts), so each primitive call an op makes is recorded
 * with its spec and the storages it reads and returns. The run is a real one: its results are the
 * first call's results. Anything a replay could not reproduce marks the capture as failed, with
 * the reason, and the function runs eagerly from then on:
 * - a host read of a value computed inside (data(), item(), a cpu op that checks indices or
 *   divisors on the host): what comes after may depend on the data;
 * - random numbers: the generator advances per call, a replay would repeat them;
 * - a returned tensor whose storage the function did not compute and was not given;
 * - a returned tensor that requires grad (autograd's graph is built by running ops);
 * - an async function;
 * - backward(): it sets the leaves' .grad, JS fields a replay would leave as the capture set them
 *   (autograd.grad() returns the gradients instead, and those are recorded like any result);
 * - a backend method other than the recorded primitives (an optimizer's in-place step...).
 * Calls a backend makes to itself (a reduction that casts with a map) run at depth > 0 and are
 * part of the outer call's replay, so they are not recorded.
 */

export interface CaptureResult {
  result: unknown;
  graph: Graph | null;
  /** Why the function cannot be replayed, when it cannot. */
  reason: string | null;
  /** The reason holds for this signature only (its result requires grad), not for every call. */
  perSignature?: boolean;
}

interface Recorder {
  tracked: Map<Storage, number>;
  numInputs: number;
  /** Set when the only reason is a result that requires grad. */
  gradOnly?: boolean;
  steps: Step[];
  nextValue: number;
  depth: number;
  reason: string | null;
}

type AnyFn = (...a: unknown[]) => unknown;

const isPlain = (x: unknown): x is Record<string, unknown> => {
  if (typeof x !== 'object' || x === null) return false;
  const p = Object.getPrototypeOf(x);
  return p === Object.prototype || p === null;
};

/**
 * A copy of a spec: plain objects and arrays copied, storages the capture tracks replaced by a
 * patch (where a replay puts that value's storage), everything else (kernels, functions, typed
 * arrays, storages from outside) kept as it is.
 */
function cloneSpec(
  x: unknown,
  rec: Recorder,
  patches: Patch[],
  reads: number[],
  parent: Record<string | number, unknown> | null,
  key: string | number,
): unknown {
  if (typeof x !== 'object' || x === null) return x;
  const id = rec.tracked.get(x as Storage);
  if (id !== undefined) {
    if (parent) patches.push({ parent, key, value: id });
    if (!reads.includes(id)) reads.push(id);
    return x;
  }
  if (Array.isArray(x)) {
    const out: unknown[] = [];
    for (let j = 0; j < x.length; j++) out.push(cloneSpec(x[j], rec, patches, reads, out as unknown as Record<number, unknown>, j));
    return out;
  }
  if (!isPlain(x)) return x;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(x)) out[k] = cloneSpec(x[k], rec, patches, reads, out, k);
  return out;
}

function fail(rec: Recorder, why: string): void {
  rec.reason ??= why;
}

/** Wraps one backend's methods; returns what undoes it. */
function wrapBackend(device: Device, rec: Recorder): () => void {
  const backend = device.backend;
  const target = backend as unknown as Record<string, AnyFn | undefined>;
  const undo: (() => void)[] = [];
  const wrap = (name: string, make: (orig: AnyFn) => AnyFn): void => {
    const had = Object.prototype.hasOwnProperty.call(target, name);
    const orig = target[name];
    if (typeof orig !== 'function') return;
    target[name] = make(orig);
    undo.push(() => {
      if (had) target[name] = orig;
      else delete target[name];
    });
  };
  const inner = (orig: AnyFn, args: unknown[]): unknown => {
    rec.depth++;
    try {
      return orig.apply(backend, args);
    } finally {
      rec.depth--;
    }
  };
  const produce = (out: Storage): number => {
    if (rec.tracked.has(out)) fail(rec, 'a backend primitive returned a storage it was given');
    const id = rec.nextValue++;
    rec.tracked.set(out, id);
    return id;
  };
  for (const kind of SPEC_PRIMITIVES) {
    wrap(kind, (orig) => (spec: unknown) => {
      if (rec.depth > 0) return inner(orig, [spec]);
      const patches: Patch[] = [];
      const reads: number[] = [];
      const copy = cloneSpec(spec, rec, patches, reads, null, '') as Record<string, unknown>;
      const out = inner(orig, [spec]) as Storage;
      rec.steps.push({ kind, device, backend, spec: copy, patches, reads, out: produce(out) });
      return out;
    });
  }
  wrap('upload', (orig) => (dtype: unknown, data: unknown, op: unknown) => {
    if (rec.depth > 0) return inner(orig, [dtype, data, op]);
    const out = inner(orig, [dtype, data, op]) as Storage;
    rec.steps.push({
      kind: 'upload',
      device,
      backend,
      reads: [],
      dtype: dtype as never,
      data: (data as HostArray).slice(),
      op: op as string,
      out: produce(out),
    });
    return out;
  });
  wrap('alloc', (orig) => (dtype: unknown, numel: unknown, op: unknown) => {
    if (rec.depth > 0) return inner(orig, [dtype, numel, op]);
    const out = inner(orig, [dtype, numel, op]) as Storage;
    rec.steps.push({
      kind: 'alloc',
      device,
      backend,
      reads: [],
      dtype: dtype as never,
      numel: numel as number,
      op: op as string,
      out: produce(out),
    });
    return out;
  });
  wrap('copyBytes', (orig) => (src: unknown, srcByte: unknown, dst: unknown, dstByte: unknown, bytes: unknown) => {
    if (rec.depth === 0) {
      const s = rec.tracked.get(src as Storage);
      const d = rec.tracked.get(dst as Storage);
      const reads = [s, d].filter((v): v is number => v !== undefined);
      rec.steps.push({
        kind: 'copyBytes',
        device,
        backend,
        reads,
        src: s ?? (src as Storage),
        srcByte: srcByte as number,
        dst: d ?? (dst as Storage),
        dstByte: dstByte as number,
        bytes: bytes as number,
      });
    }
    return inner(orig, [src, srcByte, dst, dstByte, bytes]);
  });
  wrap('read', (orig) => (...a: unknown[]) => {
    if (rec.depth === 0 && rec.tracked.has(a[0] as Storage))
      fail(rec, 'it reads a tensor it computed back to the host (data(), item(), toArray(), cpu())');
    return inner(orig, a);
  });
  wrap('release', (orig) => (storage: unknown) => {
    // A released block may come back from the allocator as a new value: forget the old one.
    if (rec.depth === 0) rec.tracked.delete(storage as Storage);
    return inner(orig, [storage]);
  });
  // Any other method that an op calls is work a replay would not redo (an optimizer's in-place
  // step, a backward kernel with several outputs): the recording is refused rather than wrong.
  for (const name of methodNames(backend)) {
    if (RECORDED.has(name) || HARMLESS.has(name)) continue;
    wrap(name, (orig) => (...a: unknown[]) => {
      if (rec.depth === 0) fail(rec, `it calls backend.${name}(), which compile does not record`);
      return inner(orig, a);
    });
  }
  return () => undo.reverse().forEach((f) => f());
}

const RECORDED = new Set<string>([...SPEC_PRIMITIVES, 'upload', 'alloc', 'copyBytes', 'read', 'release']);
/** Methods that change no tensor: waiting, freeing the cache, asking a size. */
const HARMLESS = new Set(['constructor', 'synchronize', 'emptyCache', 'optimChunkElements']);

/** The function-valued properties of a backend and its prototype chain. */
function methodNames(backend: object): Set<string> {
  const names = new Set<string>();
  for (let p: object | null = backend; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const n of Object.getOwnPropertyNames(p)) {
      const d = Object.getOwnPropertyDescriptor(p, n);
      if (d && typeof d.value === 'function') names.add(n);
    }
  }
  return names;
}

/** cpu ops that check indices or divisors read tensors synchronously (storage.data): a host read. */
function watchCpuReads(rec: Recorder): () => void {
  const proto = CpuStorage.prototype;
  const desc = Object.getOwnPropertyDescriptor(proto, 'data')!;
  const get = desc.get!;
  Object.defineProperty(proto, 'data', {
    ...desc,
    get(this: CpuStorage) {
      if (rec.depth === 0 && rec.tracked.has(this))
        fail(rec, 'a cpu op reads a tensor it computed on the host (an index, divisor or probability check, or a copy to xpu)');
      return get.call(this);
    },
  });
  return () => Object.defineProperty(proto, 'data', desc);
}

/**
 * Runs fn(...args) once, recording it. `inputs` are the tensor arguments, in the order the
 * signature lists them: their storages are values 0..n-1 (a storage two inputs share is the first's).
 */
export function capture(fn: (...a: never[]) => unknown, args: unknown[], inputs: readonly Tensor[]): CaptureResult {
  const rec: Recorder = { tracked: new Map(), numInputs: inputs.length, steps: [], nextValue: inputs.length, depth: 0, reason: null };
  inputs.forEach((t, j) => {
    if (!rec.tracked.has(t.ref.storage)) rec.tracked.set(t.ref.storage, j);
  });
  const devices = [cpuDevice, ...xpuEntries().map((e) => e.device)];
  const undo = [
    watchCpuReads(rec),
    ...devices.map((d) => wrapBackend(d, rec)),
    onBackwardEnd(() =>
      fail(
        rec,
        'it calls backward(), which sets .grad outside the recording (a replay would leave it stale); return autograd.grad(loss, params) instead',
      ),
    ),
  ];
  const rng = getRngState();
  let result: unknown;
  try {
    result = (fn as (...a: unknown[]) => unknown)(...args);
  } finally {
    undo.reverse().forEach((f) => f());
  }
  const after = getRngState();
  if (after.offset !== rng.offset || after.seed !== rng.seed)
    fail(rec, 'it draws random numbers (rand, randn, dropout...): a replay would repeat them');
  if (result instanceof Promise) fail(rec, 'it is async (returns a Promise)');
  const outputs: OutputTensor[] = [];
  const template = outputTemplate(result, rec, outputs, 0);
  if (rec.reason !== null) return { result, graph: null, reason: rec.reason, perSignature: rec.gradOnly === true };
  return {
    result,
    reason: null,
    graph: { numInputs: inputs.length, numValues: rec.nextValue, steps: rec.steps, outputs, template, capturedOps: rec.steps.length },
  };
}

function outputTemplate(x: unknown, rec: Recorder, outputs: OutputTensor[], depth: number): OutputTemplate {
  if (x instanceof Tensor) {
    // Autograd records its graph as ops run (a parameter that requires grad, read from the
    // closure); a replay runs no ops, so its results would silently have no graph.
    if ((x.requiresGrad || x.gradFn) && rec.reason === null) {
      fail(rec, 'its result requires grad (autograd is not captured; run it under noGrad() for inference)');
      rec.gradOnly = true;
    }
    const value = rec.tracked.get(x.ref.storage);
    if (value === undefined) {
      fail(rec, 'it returns a tensor it neither computed nor was given (a tensor from its closure)');
      return { kind: 'static', value: null };
    }
    outputs.push({ value, shape: x.shape.slice(), strides: x.strides.slice(), offset: x.offset, dtype: x.dtype, device: x.device });
    return { kind: 'tensor', slot: outputs.length - 1 };
  }
  if (depth < 8 && Array.isArray(x)) return { kind: 'array', items: x.map((v) => outputTemplate(v, rec, outputs, depth + 1)) };
  if (depth < 8 && isPlain(x))
    return { kind: 'object', entries: Object.keys(x).map((k) => [k, outputTemplate(x[k], rec, outputs, depth + 1)]) };
  // Anything else is returned as it is by every replay: it must not hold what this run computed.
  if (
    typeof x === 'object' &&
    x !== null &&
    Object.values(x).some((v) => v instanceof Tensor && (rec.tracked.get(v.ref.storage) ?? -1) >= rec.numInputs)
  ) {
    fail(rec, 'it returns a class instance holding tensors it computed (return them in arrays or plain objects)');
  }
  return { kind: 'static', value: x };
}
