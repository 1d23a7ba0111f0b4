import type { Activation, MapSpec, MatmulEpilogue, MatmulSpec, Operand } from '../backends/backend.js';
import { shapeEq } from '../tensor/shape.js';
import type { Graph, Patch, SpecStep, Step } from './graph.js';

/**
 * GEMM epilogues: a float32 matmul whose value only one map reads, where that map is relu / gelu
 * / silu of it, it times a scalar (alpha), or it plus another float32 tensor, takes the map into its store
 * (MatmulEpilogue: act(a @ b + bias) + residual), so the GEMM's output is written once instead of
 * written, read and written again. The activation folds only before a residual, as the epilogue
 * applies them in that order. The matmul then runs where the map ran; nothing it reads may be
 * written in place in between.
 */

const ACTIVATIONS = new Set<string>(['relu', 'gelu', 'silu']);

function contiguous(op: Operand, shape: readonly number[]): boolean {
  if (op.offset !== 0) return false;
  let expect = 1;
  for (let j = shape.length - 1; j >= 0; j--) {
    if (shape[j] !== 1 && op.strides[j] !== expect) return false;
    expect *= shape[j];
  }
  return true;
}

/** The value read at input k of a map step (-1 for a storage from outside). */
function valueAt(step: SpecStep, k: number): number {
  const op = (step.spec as unknown as MapSpec).inputs[k];
  return step.patches.find((p) => p.parent === (op as unknown) && p.key === 'storage')?.value ?? -1;
}

/** The fold of map `t` into matmul `s`, or null. */
function fold(s: SpecStep, t: SpecStep): SpecStep | null {
  const mm = s.spec as unknown as MatmulSpec;
  const map = t.spec as unknown as MapSpec;
  const op = map.kernel.pure?.op;
  const outShape = [...mm.batchShape, mm.m, mm.n];
  if (!op || mm.outDtype !== 'float32' || map.outDtype !== 'float32' || map.argKind !== 'f32' || !shapeEq(map.outShape, outShape))
    return null;
  if (map.loadKinds?.some((k) => k !== undefined && k !== 'f32')) return null;
  const ep: MatmulEpilogue = mm.epilogue ?? {};
  const scalars = map.scalars?.length ?? 0;
  const mine = map.inputs.map((_, k) => valueAt(t, k) === s.out);
  if (!map.inputs.every((x, k) => !mine[k] || contiguous(x, outShape))) return null;
  let epilogue: MatmulEpilogue;
  const patches: Patch[] = [...s.patches];
  const reads = [...s.reads];
  const slots = map.kernel.pure!.slots;
  if (op === 'mul' && scalars === 1 && map.inputs.length === 1 && mine[0] && slots.length === 2) {
    // (a @ b) * s: alpha, before anything else the epilogue applies (exact: alpha scales the f32 sum).
    if (ep.alpha !== undefined || ep.bias || ep.activation || ep.residual) return null;
    epilogue = { ...ep, alpha: map.scalars![0].value };
  } else if (scalars > 0) return null;
  else if (ACTIVATIONS.has(op) && map.inputs.length === 1 && mine[0]) {
    if (ep.activation || ep.residual) return null;
    epilogue = { ...ep, activation: op as Activation };
  } else if (op === 'add' && map.inputs.length === 2 && mine[0] !== mine[1]) {
    if (ep.residual) return null;
    const k = mine[0] ? 1 : 0;
    const other = map.inputs[k];
    if (other.dtype !== 'float32') return null;
    const residual: Operand = { storage: other.storage, dtype: other.dtype, strides: other.strides.slice(), offset: other.offset };
    const v = valueAt(t, k);
    if (v >= 0) {
      patches.push({ parent: residual as unknown as Record<string, unknown>, key: 'storage', value: v });
      if (!reads.includes(v)) reads.push(v);
    }
    epilogue = { ...ep, residual };
  } else return null;
  const spec = { ...mm, epilogue } as unknown as Record<string, unknown>;
  return { kind: 'matmul', device: s.device, backend: s.backend, spec, patches, reads, out: t.out };
}

export function foldEpilogues(graph: Graph): { graph: Graph; folds: number } {
  let steps: Step[] = graph.steps;
  let folds = 0;
  const outputs = new Set(graph.outputs.map((o) => o.value));
  for (let changed = true; changed;) {
    changed = false;
    const readers = new Map<number, number>();
    for (const s of steps) for (const v of s.reads) readers.set(v, (readers.get(v) ?? 0) + 1);
    for (let j = 0; j < steps.length && !changed; j++) {
      const s = steps[j];
      if (s.kind !== 'matmul' || outputs.has(s.out) || readers.get(s.out) !== 1) continue;
      const ti = steps.findIndex((t, i) => i > j && t.reads.includes(s.out));
      const t = steps[ti];
      if (!t || t.kind !== 'map' || t.device !== s.device) continue;
      if (steps.slice(j + 1, ti).some((c) => c.kind === 'copyBytes')) continue;
      const folded = fold(s, t);
      if (!folded) continue;
      steps = steps.filter((_, i) => i !== j).map((x) => (x === t ? folded : x));
      folds++;
      changed = true;
    }
  }
  return { graph: { ...graph, steps }, folds };
}
