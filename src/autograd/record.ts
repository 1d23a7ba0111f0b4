import type { Device } from '../device/device.js';
import { XpuDTypeError, XpuValueError } from '../errors.js';
import { isFloating, type DType } from '../tensor/dtype.js';
import { keep } from '../tensor/scope.js';
import { makeView, Tensor } from '../tensor/tensor.js';
import { isGradEnabled, setGradEnabled } from './grad_mode.js';

/**
 * Recording the graph (torch's autograd "function" nodes). Every differentiable op calls
 * record() after it ran when needsGrad() said one of its inputs requires grad: the outputs get a
 * GradNode that points at the nodes (or leaves) of its inputs. The engine (engine.ts) walks those
 * nodes from a root in reverse. This file imports only the tensor layer, so any op may use it.
 */

/** The tensors a node keeps for its backward: its own views, so disposing the originals is safe. */
export interface SavedContext {
  /** The op's inputs in call order: saved tensors (views) where the op saved them, else undefined; non-tensors as given. */
  readonly inputs: readonly unknown[];
  /** The op's outputs (views) where the op saved them, else empty. */
  readonly outputs: readonly Tensor[];
  /** Whatever the op passed to recordOp (dims, options...). */
  readonly attrs: Readonly<Record<string, unknown>>;
  /** Per input: whether its gradient is wanted (torch's needs_input_grad); formulas skip the others. */
  readonly needs: readonly boolean[];
}

export type GradList = readonly (Tensor | null | undefined)[];
export type BackwardFn = (gradOutputs: readonly (Tensor | null)[], saved: SavedContext) => GradList;

/** Where an input's gradient goes: the node that made it (and which of its outputs), or a leaf. */
export type Edge =
  { readonly node: GradNode; readonly index: number; readonly leaf?: undefined } | { readonly leaf: Tensor; readonly node?: undefined };

export interface TensorMeta {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: Device;
}

let sequence = 0;

/** One recorded op: the engine's node (tensor.gradFn). */
export class GradNode {
  /** Creation order: the engine runs ready nodes latest first, as torch does. */
  readonly seq = sequence++;
  /** Per input: where its gradient goes (null: no gradient needed). */
  readonly next: (Edge | null)[];
  /** Per input: shape and dtype its gradient is reduced and cast to. */
  readonly inputMeta: (TensorMeta | null)[];
  readonly outputMeta: TensorMeta[];
  /** Null once the graph was freed by a backward without retainGraph. */
  backwardFn: BackwardFn | null;
  saved: SavedContext | null;
  /** Non-leaf outputs that asked for retainGrad(), by output index. */
  retained: (Tensor | undefined)[] | null = null;

  constructor(
    readonly name: string,
    next: (Edge | null)[],
    inputMeta: (TensorMeta | null)[],
    outputMeta: TensorMeta[],
    backwardFn: BackwardFn,
    saved: SavedContext,
  ) {
    this.next = next;
    this.inputMeta = inputMeta;
    this.outputMeta = outputMeta;
    this.backwardFn = backwardFn;
    this.saved = saved;
  }

  /** Drops the backward closure and the saved tensors (after a backward without retainGraph). */
  free(): void {
    this.backwardFn = null;
    const s = this.saved;
    this.saved = null;
    if (!s) return;
    for (const x of [...s.inputs, ...s.outputs, ...Object.values(s.attrs)]) if (x instanceof Tensor && SAVED.has(x)) x.dispose();
  }
}

/** Views this module made to save tensors (the node owns them and disposes them when freed). */
const SAVED = new WeakSet<Tensor>();
/** Which output of its gradFn a tensor is, where not the first. */
const OUTPUT_INDEX = new WeakMap<Tensor, number>();

export function outputIndexOf(t: Tensor): number {
  return OUTPUT_INDEX.get(t) ?? 0;
}

const requires = (x: unknown): boolean => x !== null && typeof x === 'object' && (x as Tensor).requiresGrad === true;

/** True when grad mode is on and any argument is a Tensor with requiresGrad. */
export function needsGrad(...xs: unknown[]): boolean {
  if (!isGradEnabled()) return false;
  for (let i = 0; i < xs.length; i++) if (requires(xs[i])) return true;
  return false;
}

/**
 * needsGrad(a, b) without the rest array, for the hottest call sites (binary elementwise ops):
 * two field reads when nothing requires grad.
 */
export function needsGrad2(a: unknown, b: unknown): boolean {
  return (requires(a) || requires(b)) && isGradEnabled();
}

/** needsGrad over a list (cat, stack): no spread on the hot path. */
export function anyNeedsGrad(xs: readonly unknown[]): boolean {
  if (!isGradEnabled()) return false;
  for (let i = 0; i < xs.length; i++) if (requires(xs[i])) return true;
  return false;
}

/** What record() keeps for the backward: nothing (the closure captures what it needs), inputs, outputs or both. */
export interface SaveSpec {
  /** Every tensor input, or per input. */
  inputs?: boolean | readonly boolean[];
  outputs?: boolean;
}

/** The leaf a saved view stands for (its gradient goes to that leaf). */
const LEAF_OF = new WeakMap<Tensor, Tensor>();

/**
 * A view the node owns, that stands for `t` in the graph too (same gradFn, or the same leaf), so
 * that a backward run with createGraph differentiates through what it saved.
 */
function saveView(t: Tensor): Tensor {
  const v = keep(makeView(t, t.shape, t.strides, t.offset));
  SAVED.add(v);
  if (t.requiresGrad) {
    v.requiresGrad = true;
    v.gradFn = t.gradFn;
    if (t.gradFn) OUTPUT_INDEX.set(v, outputIndexOf(t));
    else LEAF_OF.set(v, LEAF_OF.get(t) ?? t);
  }
  return v;
}

/**
 * A tensor an op keeps for its backward beyond its inputs and outputs (in recordOp's attrs): a view
 * the node owns and disposes when the graph is freed.
 */
export function saveTensor(t: Tensor): Tensor {
  return saveView(t);
}

function metaOf(t: Tensor): TensorMeta {
  return { shape: t.shape, dtype: t.dtype, device: t.device };
}

/**
 * Records one differentiable op: `outputs` get requiresGrad=true and a gradFn whose backward maps
 * the gradients of the outputs (null where an output got none) to gradients of `inputs`
 * (null/undefined where an input gets none or does not need one). Only call when needsGrad(...) is
 * true. The backward closure runs with grad mode OFF unless createGraph is requested (then ON),
 * and may use any public op. The engine reduces a returned gradient to the input's shape if it is
 * broadcast-shaped (sum over broadcast dims) and casts it to the input's dtype.
 *
 * The closure's second argument holds views of the inputs / outputs named in `save` (kept alive by
 * the node until the graph is freed, whatever the caller disposes). Outputs that are one of the
 * inputs (an op that returned its argument) and non-float outputs are not recorded.
 */
export function record(
  name: string,
  inputs: readonly unknown[],
  outputs: Tensor | readonly Tensor[],
  backward: BackwardFn,
  save: SaveSpec = {},
  attrs: Record<string, unknown> = {},
): void {
  const outs = outputs instanceof Tensor ? [outputs] : outputs;
  if (!outs.some((o) => isFloating(o.dtype) && !inputs.includes(o))) return; // nothing differentiable came out
  const next: (Edge | null)[] = [];
  const inputMeta: (TensorMeta | null)[] = [];
  for (const x of inputs) {
    if (x instanceof Tensor && x.requiresGrad) {
      const fn = x.gradFn;
      next.push(fn instanceof GradNode ? { node: fn, index: outputIndexOf(x) } : { leaf: LEAF_OF.get(x) ?? x });
      inputMeta.push(metaOf(x));
    } else {
      next.push(null);
      inputMeta.push(null);
    }
  }
  const saved: { -readonly [K in keyof SavedContext]: SavedContext[K] } = {
    inputs: inputs.map((x, i) =>
      x instanceof Tensor ? ((typeof save.inputs === 'boolean' ? save.inputs : save.inputs?.[i]) ? saveView(x) : undefined) : x,
    ),
    outputs: [],
    attrs,
    needs: next.map((e) => e !== null),
  };
  const node = new GradNode(name, next, inputMeta, outs.map(metaOf), backward, saved);
  outs.forEach((o, j) => {
    if (!isFloating(o.dtype) || inputs.includes(o)) return;
    o.requiresGrad = true;
    o.gradFn = node;
    if (j > 0) OUTPUT_INDEX.set(o, j);
  });
  // Outputs are saved once they belong to the node (a saved output stands for it under createGraph).
  if (save.outputs) saved.outputs = outs.map(saveView);
}

/** A backward formula, defined once per op name (src/autograd/formulas/*) and looked up by recordOp. */
export interface Formula {
  /** What the backward reads; a function of which inputs need a gradient saves only what those need. */
  save?: SaveSpec | ((needs: readonly boolean[]) => SaveSpec);
  backward: BackwardFn;
}

const FORMULAS = new Map<string, Formula>();

/** Registers the gradient of op `name` (the formulas modules call this at import). */
export function defineGrad(name: string, formula: Formula): void {
  FORMULAS.set(name, formula);
}

function missing(name: string): BackwardFn {
  return () => {
    throw new XpuValueError('backward not implemented', {
      op: name,
      arg: 'input',
      expected: 'an op with a gradient formula',
      got: `${name} (no formula registered)`,
    });
  };
}

/** record() with the formula registered for `name`. Only call when needsGrad(...) is true. */
export function recordOp(
  name: string,
  inputs: readonly unknown[],
  outputs: Tensor | readonly Tensor[],
  attrs: Record<string, unknown> = {},
): void {
  const f = FORMULAS.get(name);
  if (!f) record(name, inputs, outputs, missing(name), {}, attrs);
  else if (typeof f.save === 'function') {
    const needs = inputs.map((x) => x instanceof Tensor && x.requiresGrad);
    record(name, inputs, outputs, f.backward, f.save(needs), attrs);
  } else record(name, inputs, outputs, f.backward, f.save, attrs);
}

/**
 * A composite op under one node: runs `forward` with grad mode off (its inner ops record
 * nothing) when an input needs grad, then records `name`'s formula over the result.
 */
export function differentiable<T extends Tensor | Tensor[]>(
  name: string,
  inputs: readonly unknown[],
  forward: () => T,
  attrs: Record<string, unknown> = {},
): T {
  if (!anyNeedsGrad(inputs)) return forward();
  const prev = setGradEnabled(false);
  let out: T;
  try {
    out = forward();
  } finally {
    setGradEnabled(prev);
  }
  recordOp(name, inputs, out, attrs);
  return out;
}

/** Sets requiresGrad on a leaf, refusing non-float dtypes as torch does. */
export function setRequiresGrad(op: string, t: Tensor, flag: boolean): Tensor {
  if (typeof flag !== 'boolean')
    throw new XpuValueError('requiresGrad must be a boolean', { op, arg: 'requiresGrad', expected: 'true or false', got: String(flag) });
  if (!flag && t.gradFn) {
    throw new XpuValueError('you can only change requiresGrad flags of leaf variables; use detach() for a non-leaf', {
      op,
      arg: 'requiresGrad',
      expected: 'a leaf tensor',
      got: `the output of ${t.gradFn.name}`,
    });
  }
  if (flag && !isFloating(t.dtype)) {
    throw new XpuDTypeError('only tensors of floating point dtype can require gradients', {
      op,
      arg: 'requiresGrad',
      expected: 'float32 or float16',
      got: t.dtype,
    });
  }
  t.requiresGrad = flag;
  return t;
}

/** Records `name` over one input when it needs grad, and returns `out` (the one-line form ops use). */
export function track<T extends Tensor>(name: string, x: Tensor, out: T, attrs?: Record<string, unknown>): T {
  if (isGradEnabled() && x.requiresGrad) recordOp(name, [x], out, attrs);
  return out;
}
