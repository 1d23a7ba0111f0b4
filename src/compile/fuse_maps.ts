import type { MapSpec, Operand, Storage } from '../backends/backend.js';
import type { ComputeKind } from '../tensor/dtype.js';
import { contiguousStrides, numel, shapeEq } from '../tensor/shape.js';
import type { Graph, Patch, SpecStep, Step } from './graph.js';
import { FUSABLE_DTYPES, fusedKernel, inputKind, memberBody, type Member, type MemberBody } from './fused_kernel.js';

/**
 * Elementwise fusion: a map whose value only one later map reads, elementwise (contiguous over
 * the same shape, or a reshape of it whose operands all walk it contiguously or broadcast whole:
 * element i reads element i), joins that map's kernel; the
 * joined maps become one generated kernel (fused_kernel.ts) run where the last of them ran, and
 * the intermediate values are never allocated. A value that is returned, read twice by different
 * steps, read through a broadcast or a permutation, or written in place (copyBytes) stays a
 * stored tensor. A fused kernel reads at most MAX_INPUTS distinct operands (a WebGPU launch binds
 * 8 storage buffers by default, one of them the output).
 */

const MAX_INPUTS = 7;

interface External {
  operand: Operand;
  kind: ComputeKind;
  /** The value id of its storage, or -1 for a storage from outside the function. */
  value: number;
}

interface Group {
  /** Members in step order (their dependency order), the last one the head. */
  steps: SpecStep[];
  bodies: MemberBody[];
}

/** The value id read at each input of a map step (-1: a storage from outside). */
function inputValues(step: SpecStep): number[] {
  const spec = step.spec as unknown as MapSpec;
  return spec.inputs.map((op) => {
    const p = step.patches.find((q) => q.parent === (op as unknown) && q.key === 'storage');
    return p ? p.value : -1;
  });
}

function isContiguousOver(op: Operand, shape: readonly number[]): boolean {
  if (op.offset !== 0) return false;
  const want = contiguousStrides(shape);
  return shape.every((d, j) => d === 1 || op.strides[j] === want[j]);
}

export function fuseMapChains(graph: Graph): { graph: Graph; kernels: number } {
  const steps = graph.steps;
  const readers = new Map<number, number>(); // value -> how many steps read it
  for (const s of steps) for (const v of s.reads) readers.set(v, (readers.get(v) ?? 0) + 1);
  const outputs = new Set(graph.outputs.map((o) => o.value));
  const groupOf = new Map<number, Group>(); // head value -> its group
  const absorbed = new Set<SpecStep>();
  let lastCopy = -1;
  const indexOf = new Map<Step, number>(steps.map((s, i) => [s, i]));

  steps.forEach((step, i) => {
    if (step.kind === 'copyBytes') {
      lastCopy = i;
      return;
    }
    if (step.kind !== 'map') return;
    const spec = step.spec as unknown as MapSpec;
    const body = memberBody(spec);
    if (!body) return;
    const group: Group = { steps: [], bodies: [] };
    const values = inputValues(step);
    for (let k = 0; k < values.length; k++) {
      const v = values[k];
      const producer = groupOf.get(v);
      if (!producer || outputs.has(v) || readers.get(v) !== 1) continue;
      const head = producer.steps[producer.steps.length - 1];
      const from = head.spec as unknown as MapSpec;
      if (head.device !== step.device || !FUSABLE_DTYPES.has(from.outDtype)) continue;
      // Across a reshape (same elements in the same order), only if the producer's operands can be
      // walked in the new shape too: contiguous ones, and ones broadcast whole.
      const reshaped = !shapeEq(from.outShape, spec.outShape);
      if (reshaped && (numel(from.outShape) !== numel(spec.outShape) || !linearExternals(producer))) continue;
      // Every read of v in this step must be elementwise.
      if (!values.every((w, j) => w !== v || isContiguousOver(spec.inputs[j], spec.outShape))) continue;
      // Its members' operands are read here instead, later: nothing may write in place between.
      if (lastCopy > indexOf.get(producer.steps[0])!) continue;
      const merged = [...group.steps, ...producer.steps];
      if (countExternals(merged, step) > MAX_INPUTS) continue;
      if (reshaped) reshapeExternals(producer, spec.outShape);
      group.steps = merged;
      group.bodies.push(...producer.bodies);
      groupOf.delete(v);
    }
    group.steps.push(step);
    group.bodies.push(body);
    // Members in step order (producers merged in input order may interleave).
    const order = group.steps.map((s, j) => ({ s, b: group.bodies[j] })).sort((x, y) => indexOf.get(x.s)! - indexOf.get(y.s)!);
    group.steps = order.map((o) => o.s);
    group.bodies = order.map((o) => o.b);
    groupOf.set(step.out, group);
  });

  let kernels = 0;
  const replaced = new Map<SpecStep, SpecStep>();
  for (const group of groupOf.values()) {
    if (group.steps.length < 2) continue;
    const fused = buildStep(group);
    replaced.set(group.steps[group.steps.length - 1], fused);
    for (const s of group.steps.slice(0, -1)) absorbed.add(s);
    kernels++;
  }
  const out: Step[] = [];
  for (const s of steps) {
    if (absorbed.has(s as SpecStep)) continue;
    out.push(replaced.get(s as SpecStep) ?? s);
  }
  return { graph: { ...graph, steps: out }, kernels };
}

/** Each external operand of a group's members, with its member's spec and input index. */
function externalsOf(group: Group): { spec: MapSpec; k: number }[] {
  const made = new Set(group.steps.map((s) => s.out));
  const out: { spec: MapSpec; k: number }[] = [];
  for (const s of group.steps) {
    const spec = s.spec as unknown as MapSpec;
    inputValues(s).forEach((v, k) => {
      if (!(v >= 0 && made.has(v))) out.push({ spec, k });
    });
  }
  return out;
}

/** Every external operand walks its member's output contiguously, or is one element broadcast whole. */
function linearExternals(group: Group): boolean {
  return externalsOf(group).every(({ spec, k }) => {
    const op = spec.inputs[k];
    return op.strides.every((st) => st === 0) || isContiguousOver({ ...op, offset: 0 }, spec.outShape);
  });
}

/**
 * Re-expresses a group's operands over `shape` (same element count and order): contiguous ones
 * get contiguous strides from the same offset, whole broadcasts zero strides. The members' specs
 * are private copies that leave the graph with the fusion, so they are changed in place (the
 * patches that put storages into these operands stay valid).
 */
function reshapeExternals(group: Group, shape: readonly number[]): void {
  const contiguous = contiguousStrides(shape);
  for (const { spec, k } of externalsOf(group)) {
    const op = spec.inputs[k];
    op.strides = op.strides.every((st) => st === 0) ? shape.map(() => 0) : contiguous.slice();
  }
  for (const s of group.steps) (s.spec as unknown as MapSpec).outShape = shape.slice();
}

/** Distinct external operands the members of a would-be group read (the head `last` included). */
function countExternals(members: SpecStep[], last: SpecStep): number {
  const all = [...members, last];
  const made = new Set(all.map((s) => s.out));
  const keys = new Set<string>();
  for (const s of all) {
    const spec = s.spec as unknown as MapSpec;
    inputValues(s).forEach((v, k) => {
      if (v >= 0 && made.has(v)) return;
      keys.add(externalKey(spec.inputs[k], inputKind(spec, k), v));
    });
  }
  return keys.size;
}

const storageIds = new WeakMap<Storage, number>();
let nextStorage = 0;

function externalKey(op: Operand, kind: ComputeKind, value: number): string {
  let sid: number | string = value;
  if (value < 0) {
    let id = storageIds.get(op.storage);
    if (id === undefined) storageIds.set(op.storage, (id = ++nextStorage));
    sid = `x${id}`;
  }
  return `${sid}|${op.dtype}|${op.strides.join(',')}|${op.offset}|${kind}`;
}

/** The one map step of a group: its kernel, its external operands (patched per replay), the head's output. */
function buildStep(group: Group): SpecStep {
  const head = group.steps[group.steps.length - 1];
  const headSpec = head.spec as unknown as MapSpec;
  const memberOf = new Map<number, number>(group.steps.map((s, j) => [s.out, j]));
  const externals: External[] = [];
  const extIndex = new Map<string, number>();
  const members: Member[] = group.steps.map((s, j) => {
    const spec = s.spec as unknown as MapSpec;
    const values = inputValues(s);
    return {
      spec,
      body: group.bodies[j],
      inputs: spec.inputs.map((op, k) => {
        const v = values[k];
        const m = v >= 0 ? memberOf.get(v) : undefined;
        if (m !== undefined && m < j) return { member: m };
        const kind = inputKind(spec, k);
        const key = externalKey(op, kind, v);
        let e = extIndex.get(key);
        if (e === undefined) {
          extIndex.set(key, (e = externals.length));
          externals.push({ operand: op, kind, value: v });
        }
        return { ext: e };
      }),
    };
  });
  const kernel = fusedKernel(
    members,
    externals.map((x) => x.operand.dtype),
  );
  const inputs: Operand[] = externals.map((x) => ({
    storage: x.operand.storage,
    dtype: x.operand.dtype,
    strides: x.operand.strides.slice(),
    offset: x.operand.offset,
  }));
  const patches: Patch[] = [];
  const reads: number[] = [];
  externals.forEach((x, e) => {
    if (x.value < 0) return;
    patches.push({ parent: inputs[e] as unknown as Record<string, unknown>, key: 'storage', value: x.value });
    if (!reads.includes(x.value)) reads.push(x.value);
  });
  const spec: MapSpec = {
    kernel,
    inputs,
    outShape: headSpec.outShape.slice(),
    outDtype: headSpec.outDtype,
    argKind: headSpec.argKind,
    loadKinds: externals.map((x) => x.kind),
    scalars: [],
  };
  return {
    kind: 'map',
    device: head.device,
    backend: head.backend,
    spec: spec as unknown as Record<string, unknown>,
    patches,
    reads,
    out: head.out,
  };
}
