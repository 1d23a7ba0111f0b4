import { XpuShapeError, XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';
import { add } from '../ops/math.js';
import { copyInto } from '../ops/copy_into.js';
import { onesLike, zerosLike } from '../ops/creation.js';
import { sum } from '../ops/reduce.js';
import { to } from '../ops/transfer.js';
import { clone, reshape } from '../ops/views.js';
import { fmtShape, shapeEq } from '../tensor/shape.js';
import { keep, runScope } from '../tensor/scope.js';
import { isTensor, makeView, Tensor } from '../tensor/tensor.js';
import { setGradEnabled } from './grad_mode.js';
import { GradNode, outputIndexOf, type Edge, type TensorMeta } from './record.js';

/**
 * The backward engine (torch.autograd's): from the roots, the graph's nodes run in reverse
 * topological order (a node runs once every node that feeds it a gradient has run; among ready
 * nodes the latest recorded first, as torch orders them), each output's gradients summed before
 * its node runs. Leaves get theirs accumulated into `.grad` once per pass, then their
 * onGradAccumulated hooks run (DDP launches a bucket's all-reduce from there).
 */

export interface BackwardOptions {
  /** Keep the graph for another backward (torch's retain_graph); default: createGraph. */
  retainGraph?: boolean;
  /** Record the backward itself, for higher-order gradients (torch's create_graph). */
  createGraph?: boolean;
}

export interface GradOptions extends BackwardOptions {
  /** An input the outputs do not depend on gets zeros instead of an error (torch's allow_unused + materialize_grads). */
  allowUnused?: boolean;
}

const accumulatedHooks = new WeakMap<Tensor, Set<(leaf: Tensor) => void>>();
const endHooks = new Set<() => void | Promise<void>>();

/**
 * torch's register_post_accumulate_grad_hook: `fn(leaf)` runs right after `leaf.grad` was
 * updated during a backward() (not autograd.grad(), which leaves .grad alone). Returns remove().
 */
export function onGradAccumulated(leaf: Tensor, fn: (leaf: Tensor) => void): () => void {
  if (!isTensor(leaf))
    throw new XpuTypeError('expects a tensor', { op: 'onGradAccumulated', arg: 'leaf', expected: 'a Tensor', got: typeName(leaf) });
  if (typeof fn !== 'function')
    throw new XpuTypeError('expects a function', { op: 'onGradAccumulated', arg: 'fn', expected: 'a function', got: typeName(fn) });
  let set = accumulatedHooks.get(leaf);
  if (!set) accumulatedHooks.set(leaf, (set = new Set()));
  const hooks = set;
  hooks.add(fn);
  return () => void hooks.delete(fn);
}

/**
 * Runs `fn` once at the end of every backward() (every node ran, every leaf's .grad is updated
 * and its hooks ran), not after autograd.grad(). backward() is synchronous: a Promise that `fn`
 * returns is not awaited (DDP keeps its own and awaits it before the optimizer step). A hook
 * that throws makes backward() throw after the remaining hooks ran. Returns remove().
 */
export function onBackwardEnd(fn: () => void | Promise<void>): () => void {
  if (typeof fn !== 'function')
    throw new XpuTypeError('expects a function', { op: 'onBackwardEnd', arg: 'fn', expected: 'a function', got: typeName(fn) });
  endHooks.add(fn);
  return () => void endHooks.delete(fn);
}

type Grads = Tensor | Tensor[] | readonly (Tensor | null | undefined)[] | null | undefined;

function tensorList(op: string, arg: string, xs: unknown): Tensor[] {
  const list = Array.isArray(xs) ? xs : [xs];
  if (list.length === 0)
    throw new XpuValueError('needs at least one tensor', { op, arg, expected: 'a Tensor or a non-empty Tensor[]', got: '[]' });
  list.forEach((t, i) => {
    if (!isTensor(t))
      throw new XpuTypeError('expects tensors', {
        op,
        arg: Array.isArray(xs) ? `${arg}[${i}]` : arg,
        expected: 'a Tensor',
        got: typeName(t),
      });
    t.check(op, arg);
  });
  return list as Tensor[];
}

function optionsOf(op: string, opts: unknown): GradOptions {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object')
    throw new XpuTypeError('options must be an object', {
      op,
      arg: 'options',
      expected: '{ retainGraph?, createGraph? }',
      got: typeName(opts),
    });
  const o = opts as GradOptions;
  for (const k of ['retainGraph', 'createGraph', 'allowUnused'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean')
      throw new XpuTypeError('must be a boolean', { op, arg: k, expected: 'boolean', got: typeName(o[k]) });
  }
  return o;
}

/** The gradient a root starts with: the given one (same shape), or 1 for a one-element root. */
function seedGrads(op: string, roots: Tensor[], grads: Grads): Tensor[] {
  const given = grads === undefined || grads === null ? [] : Array.isArray(grads) ? grads : [grads];
  if (Array.isArray(grads) && given.length !== roots.length) {
    throw new XpuValueError('one gradient per root is needed', {
      op,
      arg: 'grad',
      expected: `${roots.length} gradients`,
      got: `${given.length}`,
    });
  }
  return roots.map((r, i) => {
    if (!r.requiresGrad) {
      throw new XpuValueError(`element ${i} of tensors does not require grad and does not have a gradFn`, {
        op,
        arg: 'tensors',
        expected: 'a tensor computed from tensors with requiresGrad',
        got: 'a tensor without requiresGrad',
      });
    }
    const g = given[i];
    if (g === undefined || g === null) {
      if (r.numel !== 1) {
        throw new XpuValueError('grad can be implicitly created only for scalar outputs', {
          op,
          arg: 'grad',
          expected: `a gradient of shape ${fmtShape(r.shape)}`,
          got: 'none',
        });
      }
      return onesLike(r);
    }
    if (!isTensor(g)) throw new XpuTypeError('gradient must be a tensor', { op, arg: 'grad', expected: 'a Tensor', got: typeName(g) });
    g.check(op, 'grad');
    if (!shapeEq(g.shape, r.shape))
      throw new XpuShapeError('mismatch in shape: grad and output', {
        op,
        arg: 'grad',
        expected: fmtShape(r.shape),
        got: fmtShape(g.shape),
      });
    return g;
  });
}

/** Sums a broadcast-shaped gradient back to the input's shape and casts it to its dtype. */
function fitTo(node: GradNode, i: number, g: Tensor, meta: TensorMeta): Tensor {
  let out = g;
  if (!shapeEq(out.shape, meta.shape)) {
    const lead = out.ndim - meta.shape.length;
    const fits = lead >= 0 && meta.shape.every((s, d) => s === out.shape[d + lead] || s === 1);
    if (!fits) {
      throw new XpuShapeError('backward formula returned a gradient of the wrong shape', {
        op: node.name,
        arg: `gradient of input ${i}`,
        expected: fmtShape(meta.shape),
        got: fmtShape(out.shape),
      });
    }
    const dims: number[] = [];
    for (let d = 0; d < out.ndim; d++) if (d < lead || (meta.shape[d - lead] === 1 && out.shape[d] !== 1)) dims.push(d);
    const summed = dims.length ? sum(out, dims, true) : out;
    out = reshape(summed, meta.shape.slice());
    if (summed !== g && summed !== out) summed.dispose(); // the reshape is a view: its storage lives on
  }
  if (out.dtype !== meta.dtype) {
    const cast = to(out, meta.dtype);
    if (out !== g) out.dispose();
    out = cast;
  }
  return out;
}

const FREED =
  'Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). ' +
  'Saved intermediate values of the graph are freed when you call backward() or autograd.grad(). Specify retainGraph: true if you need to backward through the graph a second time.';

interface Pass {
  op: string;
  retainGraph: boolean;
  createGraph: boolean;
  /** autograd.grad(): gradients captured at these leaves / node outputs, no .grad touched. */
  capture: Map<Tensor | GradNode, Map<number, Tensor | null>> | null;
}

/*
 * Ownership: every gradient the engine holds (node buffers, leaf sums, captures) is its own Tensor
 * object (a view where a formula hands on one it was given, or the same one twice), so each is
 * disposed on its own once consumed and the storage goes back as soon as the last view of it
 * goes. With createGraph nothing is disposed: the gradients are part of a new graph.
 */
const alias = (t: Tensor): Tensor => makeView(t, t.shape, t.strides, t.offset);

/** `a + b` for gradients, the operands given up once summed. */
function accumulate(pass: Pass, a: Tensor | null | undefined, b: Tensor): Tensor {
  if (!a) return b;
  const s = add(a, b);
  if (!pass.createGraph) {
    a.dispose();
    b.dispose();
  }
  return s;
}

/** Adds a pass's gradient into `t.grad` (in place when it can, as torch's AccumulateGrad does). */
function accumulateInto(pass: Pass, t: Tensor, g: Tensor): void {
  const old = t.grad;
  if (!old || old.isDisposed) {
    // .grad owns a contiguous storage of its own: gradients handed on unchanged share storage
    // (add's two inputs get the same one; sum's is an expanded view), and later passes add into
    // .grad in place.
    const owns = g.isContiguous() && g.offset === 0 && g.ref.refs === 1 && g.ref.storage !== undefined;
    t.grad = keep(owns ? g : clone(g));
    if (!owns && !pass.createGraph) g.dispose();
    return;
  }
  const s = add(old, g);
  if (!pass.createGraph) g.dispose();
  if (!pass.createGraph && !old.requiresGrad && old.isContiguous() && old.dtype === s.dtype && shapeEq(old.shape, s.shape)) {
    copyInto(old, s);
    s.dispose();
  } else {
    t.grad = keep(s);
  }
}

/** A binary max-heap of ready nodes on seq: the latest recorded runs first. */
class ReadyQueue {
  #heap: GradNode[] = [];
  get size(): number {
    return this.#heap.length;
  }
  push(n: GradNode): void {
    const h = this.#heap;
    h.push(n);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].seq >= h[i].seq) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }
  pop(): GradNode {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop() as GradNode;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        let m = i;
        if (l < h.length && h[l].seq > h[m].seq) m = l;
        if (l + 1 < h.length && h[l + 1].seq > h[m].seq) m = l + 1;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
}

/** The nodes reachable from the roots, and how many edges from them each node / leaf waits for. */
function dependencies(roots: Tensor[]): { deps: Map<GradNode, number>; leafDeps: Map<Tensor, number> } {
  const deps = new Map<GradNode, number>();
  const leafDeps = new Map<Tensor, number>();
  const stack: GradNode[] = [];
  const visit = (n: GradNode): void => {
    if (deps.has(n)) return;
    deps.set(n, 0);
    stack.push(n);
  };
  for (const r of roots) if (r.gradFn instanceof GradNode) visit(r.gradFn);
  while (stack.length) {
    const n = stack.pop() as GradNode;
    for (const e of n.next) {
      if (!e) continue;
      if (e.leaf) leafDeps.set(e.leaf, (leafDeps.get(e.leaf) ?? 0) + 1);
      else {
        visit(e.node);
        deps.set(e.node, (deps.get(e.node) as number) + 1);
      }
    }
  }
  return { deps, leafDeps };
}

function run(pass: Pass, roots: Tensor[], seeds: Tensor[]): void {
  const { deps, leafDeps } = dependencies(roots);
  const buffers = new Map<GradNode, (Tensor | null)[]>();
  const leafGrads = new Map<Tensor, Tensor | null>();
  const own = (t: Tensor): Tensor => (pass.createGraph ? t : alias(t));

  const finishLeaf = (leaf: Tensor): void => {
    const g = leafGrads.get(leaf) ?? null;
    leafGrads.delete(leaf);
    if (!g) return;
    if (pass.capture) {
      const c = pass.capture.get(leaf);
      if (c) c.set(0, accumulate(pass, c.get(0), g));
      else if (!pass.createGraph) g.dispose();
      return;
    }
    accumulateInto(pass, leaf, g);
    const hooks = accumulatedHooks.get(leaf);
    if (hooks) for (const h of [...hooks]) h(leaf);
  };
  const deliver = (e: Edge, g: Tensor): void => {
    if (e.leaf) leafGrads.set(e.leaf, accumulate(pass, leafGrads.get(e.leaf), g));
    else {
      let buf = buffers.get(e.node);
      if (!buf) buffers.set(e.node, (buf = e.node.outputMeta.map(() => null)));
      buf[e.index] = accumulate(pass, buf[e.index], g);
    }
  };

  // Seeds (the engine's own aliases of them); a root that is a leaf gets its gradient directly.
  roots.forEach((r, i) => {
    if (r.gradFn instanceof GradNode) deliver({ node: r.gradFn, index: outputIndexOf(r) }, own(seeds[i]));
    else {
      if (!leafDeps.has(r)) leafDeps.set(r, 0);
      deliver({ leaf: r }, own(seeds[i]));
    }
  });
  const ready = new ReadyQueue();
  for (const [n, d] of deps) if (d === 0) ready.push(n);
  for (const [leaf, d] of leafDeps) if (d === 0) finishLeaf(leaf);

  while (ready.size) {
    const node = ready.pop();
    const buf = buffers.get(node) ?? node.outputMeta.map(() => null);
    buffers.delete(node);
    if (node.retained && !pass.capture) {
      node.retained.forEach((t, j) => {
        const g = buf[j];
        if (t && g) accumulateInto(pass, t, own(g));
      });
    }
    const cap = pass.capture?.get(node);
    if (cap) {
      for (const [j, prev] of cap) {
        const g = buf[j];
        if (g) cap.set(j, accumulate(pass, prev, own(g)));
      }
    }
    const fn = node.backwardFn;
    const saved = node.saved;
    if (!fn || !saved)
      throw new XpuValueError(FREED, {
        op: pass.op,
        arg: 'tensors',
        expected: 'a graph not yet freed (retainGraph: true on the earlier backward)',
        got: `the freed graph of ${node.name}`,
      });
    let results: readonly (Tensor | null | undefined)[] = [];
    if (buf.some((g) => g)) {
      const prev = setGradEnabled(pass.createGraph);
      try {
        results = runScope(() => fn(buf, saved), isTensor);
      } finally {
        setGradEnabled(prev);
      }
      if (!Array.isArray(results))
        throw new XpuTypeError('backward formula must return an array', {
          op: node.name,
          arg: 'backward',
          expected: 'one gradient (or null) per input',
          got: typeName(results),
        });
    }
    const handed = new Set<Tensor>();
    node.next.forEach((e, i) => {
      const r = results[i];
      if (!e || !r) return;
      const mine = pass.createGraph || (!buf.includes(r) && !handed.has(r)) ? r : alias(r);
      handed.add(r);
      const fitted = fitTo(node, i, mine, node.inputMeta[i] as TensorMeta);
      if (fitted !== mine && !pass.createGraph) mine.dispose();
      deliver(e, fitted);
    });
    if (!pass.createGraph) {
      for (const g of buf) if (g) g.dispose();
      for (const r of results) if (r && !handed.has(r) && !buf.includes(r)) r.dispose();
    }
    if (!pass.retainGraph) node.free();
    for (const e of node.next) {
      if (!e) continue;
      if (e.leaf) {
        const d = (leafDeps.get(e.leaf) as number) - 1;
        leafDeps.set(e.leaf, d);
        if (d === 0) finishLeaf(e.leaf);
      } else {
        const d = (deps.get(e.node) as number) - 1;
        deps.set(e.node, d);
        if (d === 0) ready.push(e.node);
      }
    }
  }
}

/**
 * Computes the gradients of `roots` and accumulates them into the `.grad` of the leaves they
 * depend on (torch.autograd.backward). `grads` are the gradients of the roots (needed for a root
 * with more than one element). The graph is freed afterwards unless `retainGraph`.
 */
export function backward(roots: Tensor | Tensor[], grads?: Grads, opts?: BackwardOptions): void {
  const op = 'backward';
  const rs = tensorList(op, 'tensors', roots);
  const o = optionsOf(op, opts);
  const createGraph = o.createGraph ?? false;
  const pass: Pass = { op, createGraph, retainGraph: o.retainGraph ?? createGraph, capture: null };
  const seeds = seedGrads(op, rs, grads);
  const made = seeds.filter((s, i) => s !== (Array.isArray(grads) ? grads[i] : grads));
  try {
    run(pass, rs, seeds);
  } finally {
    if (!createGraph) for (const s of made) s.dispose();
  }
  let failure: unknown = null;
  for (const h of [...endHooks]) {
    try {
      void h();
    } catch (e) {
      failure ??= e;
    }
  }
  if (failure) throw failure;
}

/**
 * The gradients of `outputs` with respect to `inputs` (torch.autograd.grad), returned in the
 * order of `inputs`; no `.grad` is touched and no hook runs. `inputs` may be leaves or
 * intermediate tensors of the graph.
 */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], gradOutputs?: Grads, opts?: GradOptions): Tensor[] {
  const op = 'grad';
  const outs = tensorList(op, 'outputs', outputs);
  const ins = tensorList(op, 'inputs', inputs);
  const o = optionsOf(op, opts);
  const createGraph = o.createGraph ?? false;
  ins.forEach((t, i) => {
    if (!t.requiresGrad)
      throw new XpuValueError(`one of the differentiated tensors (inputs[${i}]) does not require grad`, {
        op,
        arg: `inputs[${i}]`,
        expected: 'a tensor with requiresGrad',
        got: 'a tensor without requiresGrad',
      });
  });
  const capture = new Map<Tensor | GradNode, Map<number, Tensor | null>>();
  const keyOf = (t: Tensor): [Tensor | GradNode, number] => (t.gradFn instanceof GradNode ? [t.gradFn, outputIndexOf(t)] : [t, 0]);
  for (const t of ins) {
    const [k, j] = keyOf(t);
    if (!capture.has(k)) capture.set(k, new Map());
    (capture.get(k) as Map<number, Tensor | null>).set(j, null);
  }
  const pass: Pass = { op, createGraph, retainGraph: o.retainGraph ?? createGraph, capture };
  const seeds = seedGrads(op, outs, gradOutputs);
  const made = seeds.filter((s, i) => s !== (Array.isArray(gradOutputs) ? gradOutputs[i] : gradOutputs));
  try {
    run(pass, outs, seeds);
  } finally {
    if (!createGraph) for (const s of made) s.dispose();
  }
  const taken = new Set<Tensor>();
  return ins.map((t, i) => {
    const [k, j] = keyOf(t);
    const g = capture.get(k)?.get(j) ?? null;
    if (!g) {
      if (!o.allowUnused) {
        throw new XpuValueError(`one of the differentiated tensors (inputs[${i}]) appears to not have been used in the graph`, {
          op,
          arg: `inputs[${i}]`,
          expected: 'an input the outputs depend on (or allowUnused: true)',
          got: 'an unused tensor',
        });
      }
      return zerosLike(t);
    }
    // The same input twice gets two tensors (the caller may dispose each).
    const out = taken.has(g) ? alias(g) : g;
    taken.add(g);
    return out;
  });
}
