import type { Storage } from '../backends/backend.js';
import { StorageRef, Tensor } from '../tensor/tensor.js';
import type { Graph, OutputTemplate, SpecStep, Step } from './graph.js';
import { isWebGPU, launchPrepared, preparedLaunches, probe, type PreparedLaunch } from './prepared_launch.js';

/**
 * Replay: the captured (and fused) primitive list run on a new call's input storages. Per step:
 * put the value storages into the spec's patched fields, call the backend primitive, release
 * what no later step reads. Outputs are wrapped in tensors with the layouts the capture saw.
 */

export interface Plan {
  graph: Graph;
  /** Per step, the value ids whose storage is released after it (their last reader). */
  releaseAfter: number[][];
  /** The backend that made each produced value (to release it). */
  producer: (Step | null)[];
  /**
   * Per step, its prepared xpu launch (prepared_launch.ts): undefined until its first replay
   * probes it, null when it goes through its launcher every time.
   */
  prepared: (PreparedLaunch | null | undefined)[];
}

export function planReplay(graph: Graph): Plan {
  const last = new Array<number>(graph.numValues).fill(-1);
  const producer: (Step | null)[] = new Array(graph.numValues).fill(null);
  graph.steps.forEach((s, i) => {
    for (const v of s.reads) last[v] = i;
    if (s.kind !== 'copyBytes') {
      producer[s.out] = s;
      if (last[s.out] < i) last[s.out] = i; // a value nobody reads is released right away
    }
  });
  const kept = new Set(graph.outputs.map((o) => o.value));
  const releaseAfter: number[][] = graph.steps.map(() => []);
  for (let v = graph.numInputs; v < graph.numValues; v++) {
    if (producer[v] && !kept.has(v) && last[v] >= 0) releaseAfter[last[v]].push(v);
  }
  const prepared = graph.steps.map((s) =>
    s.kind !== 'upload' && s.kind !== 'alloc' && s.kind !== 'copyBytes' && preparedLaunches.enabled && isWebGPU(s.backend)
      ? undefined
      : null,
  );
  return { graph, releaseAfter, producer, prepared };
}

type Primitive = (spec: unknown) => Storage;

export function replay(plan: Plan, inputs: readonly Tensor[]): unknown {
  const { graph, releaseAfter, producer, prepared } = plan;
  const vals: (Storage | undefined)[] = new Array(graph.numValues);
  for (let j = 0; j < graph.numInputs; j++) vals[j] = inputs[j].ref.storage;
  const steps = graph.steps;
  let i = 0;
  try {
    for (; i < steps.length; i++) {
      const s = steps[i];
      switch (s.kind) {
        case 'upload':
          vals[s.out] = s.backend.upload(s.dtype, s.data.slice(), s.op);
          break;
        case 'alloc':
          vals[s.out] = s.backend.alloc(s.dtype, s.numel, s.op);
          break;
        case 'copyBytes': {
          const src = typeof s.src === 'number' ? vals[s.src]! : s.src;
          const dst = typeof s.dst === 'number' ? vals[s.dst]! : s.dst;
          s.backend.copyBytes(src, s.srcByte, dst, s.dstByte, s.bytes);
          break;
        }
        default: {
          const ready = prepared[i];
          // A primitive someone wraps (the profiler, an outer capture) goes through its wrapper.
          const wrapped = ready !== null && isWrapped(s.backend, s.kind);
          if (ready && !wrapped) {
            const out = launchPrepared(s.backend as never, ready, vals);
            if (out) {
              vals[s.out] = out;
              break;
            }
          }
          const patches = s.patches;
          for (let p = 0; p < patches.length; p++) patches[p].parent[patches[p].key] = vals[patches[p].value];
          // Looked up per call, so a profiler's wrapper around the primitive sees replays too.
          const call = (): Storage => (s.backend as unknown as Record<string, Primitive>)[s.kind](s.spec);
          if (ready === undefined && !wrapped) {
            const probed = probe(s.backend as never, s as SpecStep, vals, call);
            prepared[i] = probed.prepared;
            vals[s.out] = probed.out;
          } else vals[s.out] = call();
        }
      }
      const dead = releaseAfter[i];
      for (let k = 0; k < dead.length; k++) {
        const v = dead[k];
        producer[v]!.backend.release(vals[v]!);
        vals[v] = undefined;
      }
    }
  } catch (e) {
    // Give back what this replay made so far; the error is the primitive's own.
    for (let v = graph.numInputs; v < graph.numValues; v++) if (vals[v] && producer[v]) producer[v]!.backend.release(vals[v]!);
    throw e;
  }
  const refs = new Map<number, StorageRef>();
  const tensors = graph.outputs.map((o) => {
    let ref = refs.get(o.value);
    if (!ref) {
      ref = o.value < graph.numInputs ? inputs[o.value].ref : new StorageRef(vals[o.value]!, o.device);
      refs.set(o.value, ref);
    }
    return new Tensor(ref, o.shape, o.dtype, o.strides, o.offset);
  });
  return build(graph.template, tensors);
}

/** The backend's primitive is not its class's own (a profiler or a capture wraps it). */
function isWrapped(backend: object, kind: string): boolean {
  return (backend as Record<string, unknown>)[kind] !== (Object.getPrototypeOf(backend) as Record<string, unknown>)[kind];
}

function build(t: OutputTemplate, tensors: Tensor[]): unknown {
  switch (t.kind) {
    case 'tensor':
      return tensors[t.slot];
    case 'array':
      return t.items.map((x) => build(x, tensors));
    case 'object':
      return Object.fromEntries(t.entries.map(([k, v]) => [k, build(v, tensors)]));
    case 'static':
      return t.value;
  }
}
