import type { OptimHyper, OptimRule, OptimSegment } from '../backends/optim_spec.js';
import { XpuDeviceError, XpuDTypeError, XpuShapeError, XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';
import { clone, contiguous, narrow, reshape } from '../ops/views.js';
import { copyInto } from '../ops/copy_into.js';
import { zeros } from '../ops/creation.js';
import { keep, runScope } from '../tensor/scope.js';
import { noGrad } from '../autograd/grad_mode.js';
import { cat } from '../ops/structural.js';
import { fmtShape, shapeEq } from '../tensor/shape.js';
import { isTensor, type Tensor } from '../tensor/tensor.js';

/** Per-group hyper-parameters every optimizer has; each optimizer adds its own. */
export interface GroupOptions {
  lr?: number;
  weightDecay?: number;
  maximize?: boolean;
}

/** A parameter group as given to a constructor: its parameters and any per-group overrides. */
export type ParamGroupInit<O> = { params: Iterable<Tensor> } & Partial<O>;

/** What an optimizer takes: parameters (Module.parameters()) or a list of groups. */
export type ParamsArg<O> = Iterable<Tensor> | readonly ParamGroupInit<O>[];

/** A live parameter group: its parameters and hyper-parameters (change `lr` etc. between steps, as in torch). */
export type ParamGroup<O> = { params: Tensor[] } & Required<O>;

/** A run of a parameter's elements [offset, offset + numel) at [start, start + numel) of a chunk's flat state. */
interface Piece {
  chunk: number;
  start: number;
  offset: number;
  numel: number;
}

/** One parameter's place in its group's flat state (usually one piece) and its own step count. */
interface Slot {
  pieces: Piece[];
  step: number;
}

/**
 * A part of a group's flat state no larger than the device binds in one go (WebGPU's
 * maxStorageBufferBindingSize): one kernel launch per chunk, and one chunk per group unless the
 * group is that large.
 */
interface Chunk {
  total: number;
  /** Flat float32 state storages, one per kind (created on the first step, as torch creates state lazily). */
  flat: Tensor[] | null;
}

interface GroupState {
  device: Tensor['device'];
  slots: Slot[];
  chunks: Chunk[];
}

/** Elements per chunk; tests make it small to exercise the split. */
let chunkOverride: number | null = null;

/** @internal For tests: chunks of at most `n` elements (null: the device's limit). */
export function setOptimChunkForTests(n: number | null): void {
  chunkOverride = n;
}

/** The most elements one chunk of flat state may hold on `device`. */
function chunkElements(device: Tensor['device']): number {
  return chunkOverride ?? device.backend.optimChunkElements?.() ?? 2 ** 30;
}

/** The JSON-friendly state of an optimizer (torch's optimizer.state_dict(), camelCase). */
export interface OptimizerStateDict {
  /** Per parameter (by its index over all groups, as torch numbers them): step and state tensors. */
  state: Record<number, { step: number } & Record<string, Tensor | number>>;
  /** Per group: the hyper-parameters and the indices of its parameters. */
  paramGroups: ({ params: number[] } & Record<string, unknown>)[];
}

/**
 * The base of SGD, Adam and AdamW (torch.optim.Optimizer's shape): parameter groups with per-group
 * hyper-parameters, zeroGrad, stateDict / loadStateDict, and a step that hands each group to the
 * backend's fused optimizer kernel (Backend.optimStep: one native call on cpu, one WGSL launch on
 * xpu, per group). Parameters must be float32, contiguous, and on one device per group; they are
 * updated in place, so modules keep their Tensor objects. Parameters without a gradient are
 * skipped (their step count does not advance), as in torch.
 */
export abstract class Optimizer<O extends GroupOptions> {
  readonly paramGroups: ParamGroup<O>[] = [];
  readonly defaults: Required<O>;
  readonly #groups: GroupState[] = [];
  protected abstract readonly rule: OptimRule;
  /** The names of the flat state kinds for this group (stateDict keys). */
  protected abstract stateNames(group: ParamGroup<O>): string[];
  /** The backend's hyper-parameters from a group's options. */
  protected abstract hyper(group: ParamGroup<O>): OptimHyper;
  /** Checks a group's options; throws XpuValueError naming the bad one. */
  protected abstract checkOptions(op: string, group: Required<O>): void;

  protected constructor(
    readonly name: string,
    params: ParamsArg<O>,
    defaults: Required<O>,
  ) {
    this.defaults = defaults;
    const list = paramList(name, params);
    if (list.length === 0)
      throw new XpuValueError('optimizer got an empty parameter list', {
        op: name,
        arg: 'params',
        expected: 'at least one parameter',
        got: 'none',
      });
    // A list of groups is a list of { params } objects; anything else is a list of parameters (each checked).
    const isGroup = (x: unknown): boolean => typeof x === 'object' && x !== null && !isTensor(x) && 'params' in x;
    const groups = list.every(isGroup) ? (list as ParamGroupInit<O>[]) : [{ params: list as Tensor[] } as unknown as ParamGroupInit<O>];
    for (const g of groups) this.addParamGroup(g);
  }

  /** Adds a group (torch's add_param_group); missing hyper-parameters take the defaults. */
  addParamGroup(init: ParamGroupInit<O>): void {
    const op = `${this.name}.addParamGroup`;
    if (typeof init !== 'object' || init === null || !('params' in init)) {
      throw new XpuTypeError('a parameter group must be { params, ...options }', {
        op,
        arg: 'group',
        expected: '{ params: Iterable<Tensor> }',
        got: typeName(init),
      });
    }
    const params = [...(init.params as Iterable<unknown>)];
    if (params.length === 0)
      throw new XpuValueError('parameter group is empty', { op, arg: 'params', expected: 'at least one parameter', got: 'none' });
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    const storages = new Set([...seen].map((p) => p.ref.storage));
    params.forEach((p, i) => {
      if (!isTensor(p))
        throw new XpuTypeError('parameters must be Tensors', { op, arg: `params[${i}]`, expected: 'Tensor', got: typeName(p) });
      p.check(op, `params[${i}]`);
      if (p.dtype !== 'float32')
        throw new XpuDTypeError('the fused optimizers update float32 parameters', {
          op,
          arg: `params[${i}]`,
          expected: 'float32',
          got: p.dtype,
        });
      if (!p.isContiguous())
        throw new XpuValueError('parameters are updated in place and must be contiguous', {
          op,
          arg: `params[${i}]`,
          expected: 'a contiguous tensor',
          got: `strides [${p.strides.join(', ')}]`,
        });
      if (p.device !== (params[0] as Tensor).device)
        throw new XpuDeviceError('the parameters of a group must share one device', {
          op,
          arg: `params[${i}]`,
          expected: String((params[0] as Tensor).device),
          got: String(p.device),
        });
      if (seen.has(p))
        throw new XpuValueError('a parameter appears in more than one group (or twice)', {
          op,
          arg: `params[${i}]`,
          expected: 'distinct parameters',
          got: p.toString(),
        });
      // Tied weights here are two tensors over one storage, each with its own gradient: stepping
      // both would update the storage twice with two states (torch has one Parameter). Refused.
      if (storages.has(p.ref.storage))
        throw new XpuValueError('two parameters share one storage (tied weights?)', {
          op,
          arg: `params[${i}]`,
          expected: 'parameters with their own storage (pass one of the tied tensors)',
          got: p.toString(),
        });
      seen.add(p);
      storages.add(p.ref.storage);
    });
    const overrides: Record<string, unknown> = { ...(init as object) };
    delete overrides.params;
    const group = { ...this.defaults, ...overrides, params } as ParamGroup<O>;
    this.checkOptions(op, group);
    this.paramGroups.push(group);
    const device = (params[0] as Tensor).device;
    const cap = chunkElements(device);
    const chunks: Chunk[] = [{ total: 0, flat: null }];
    const slots = (params as Tensor[]).map((p) => {
      const pieces: Piece[] = [];
      for (let offset = 0; offset < p.numel;) {
        if (chunks[chunks.length - 1].total === cap) chunks.push({ total: 0, flat: null });
        const c = chunks[chunks.length - 1];
        const numel = Math.min(p.numel - offset, cap - c.total);
        pieces.push({ chunk: chunks.length - 1, start: c.total, offset, numel });
        c.total += numel;
        offset += numel;
      }
      return { pieces, step: 0 };
    });
    this.#groups.push({ device, slots, chunks });
  }

  /** Sets every parameter's gradient to null (setToNone, torch 2's default) or to zeros in place. */
  zeroGrad(setToNone = true): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (!p.grad) continue;
        if (setToNone) {
          p.grad.dispose();
          p.grad = null;
        } else {
          const z = zeros([...p.grad.shape], { device: p.grad.device, dtype: p.grad.dtype });
          if (p.grad.isContiguous()) {
            const g = p.grad;
            noGrad(() => copyInto(g, z));
            z.dispose();
          } else {
            p.grad.dispose();
            p.grad = keep(z);
          }
        }
      }
    }
  }

  /** One update of every parameter that has a gradient, group by group. */
  step(): void {
    this.paramGroups.forEach((group, gi) => this.#stepGroup(group, this.#groups[gi]));
  }

  #stepGroup(group: ParamGroup<O>, gs: GroupState): void {
    const op = `${this.name}.step`;
    this.checkOptions(op, group);
    const h = this.hyper(group);
    const names = this.stateNames(group);
    if (gs.chunks.some((c) => !c.flat || c.flat.length !== names.length)) this.#allocState(gs, names.length);
    const temps: Tensor[] = [];
    const segments: OptimSegment[][] = gs.chunks.map(() => []);
    try {
      group.params.forEach((p, i) => {
        p.check(op, `params[${i}]`);
        const g0 = p.grad;
        if (!g0) return;
        g0.check(op, `params[${i}].grad`);
        if (g0.dtype !== p.dtype)
          throw new XpuDTypeError('gradient dtype differs from its parameter', {
            op,
            arg: `params[${i}].grad`,
            expected: p.dtype,
            got: g0.dtype,
          });
        if (!shapeEq(g0.shape, p.shape))
          throw new XpuShapeError('gradient shape differs from its parameter', {
            op,
            arg: `params[${i}].grad`,
            expected: fmtShape(p.shape),
            got: fmtShape(g0.shape),
          });
        if (g0.device !== p.device)
          throw new XpuDeviceError('gradient is on another device than its parameter', {
            op,
            arg: `params[${i}].grad`,
            expected: String(p.device),
            got: String(g0.device),
          });
        const g = g0.isContiguous() ? g0 : contiguous(g0);
        if (g !== g0) temps.push(g);
        const slot = gs.slots[i];
        const first = slot.step === 0;
        slot.step++;
        const stepSize = h.lr / (1 - h.beta1 ** slot.step);
        const bc2Sqrt = Math.sqrt(1 - h.beta2 ** slot.step);
        for (const pc of slot.pieces) {
          segments[pc.chunk].push({
            param: p.ref.storage,
            paramOffset: p.offset + pc.offset,
            grad: g.ref.storage,
            gradOffset: g.offset + pc.offset,
            start: pc.start,
            numel: pc.numel,
            stepSize,
            bc2Sqrt,
            first,
          });
        }
      });
      const backend = gs.device.backend;
      if (!backend.optimStep)
        throw new XpuDeviceError('this backend has no fused optimizer kernel', {
          op,
          arg: 'device',
          expected: 'cpu or xpu',
          got: String(gs.device),
        });
      // One fused step (one launch on xpu) per chunk: per group unless the group outgrows a binding.
      gs.chunks.forEach((c, ci) => {
        if (segments[ci].length)
          backend.optimStep!({
            rule: this.rule,
            hyper: h,
            segments: segments[ci],
            state: (c.flat ?? []).map((t) => t.ref.storage),
            total: c.total,
          });
      });
    } finally {
      for (const t of temps) t.dispose();
    }
  }

  #allocState(gs: GroupState, kinds: number): void {
    for (const c of gs.chunks) {
      for (const t of c.flat ?? []) t.dispose();
      c.flat = Array.from({ length: kinds }, () => keep(zeros([c.total], { device: gs.device, dtype: 'float32' })));
    }
  }

  /** The flat-state views of parameter `pi` of group `gi` for state kind `k`, one per piece. */
  #pieceViews(gi: number, pi: number, k: number): { view: Tensor; piece: Piece }[] {
    const gs = this.#groups[gi];
    return gs.slots[pi].pieces.map((piece) => ({
      view: narrow((gs.chunks[piece.chunk].flat as Tensor[])[k], 0, piece.start, piece.numel),
      piece,
    }));
  }

  /**
   * The optimizer's state as torch's state_dict() has it: parameters numbered across groups in
   * order; per parameter its step count and copies of its state tensors (camelCase names:
   * momentumBuffer; expAvg, expAvgSq, maxExpAvgSq); per group its hyper-parameters.
   */
  stateDict(): OptimizerStateDict {
    const state: OptimizerStateDict['state'] = {};
    const paramGroups: OptimizerStateDict['paramGroups'] = [];
    let index = 0;
    this.paramGroups.forEach((group, gi) => {
      const names = this.stateNames(group);
      const { params, ...hp } = group;
      paramGroups.push({ ...hp, params: params.map((_, i) => index + i) });
      params.forEach((_, pi) => {
        const slot = this.#groups[gi].slots[pi];
        if (slot.step > 0) {
          const entry: { step: number } & Record<string, Tensor | number> = { step: slot.step };
          const shape = [...params[pi].shape];
          names.forEach((name, k) => {
            entry[name] = runScope(() => {
              const views = this.#pieceViews(gi, pi, k).map((v) => v.view);
              return reshape(views.length === 1 ? clone(views[0]) : cat(views), shape);
            }, isTensor);
            keep(entry[name] as Tensor);
          });
          state[index + pi] = entry;
        }
      });
      index += params.length;
    });
    return { state, paramGroups };
  }

  /** Restores what stateDict() returned (same groups and parameter shapes); copies the tensors in. */
  loadStateDict(sd: OptimizerStateDict): void {
    const op = `${this.name}.loadStateDict`;
    if (typeof sd !== 'object' || sd === null || !Array.isArray(sd.paramGroups) || typeof sd.state !== 'object') {
      throw new XpuTypeError('not an optimizer state dict', {
        op,
        arg: 'stateDict',
        expected: '{ state, paramGroups }',
        got: typeName(sd),
      });
    }
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new XpuValueError('the state dict has another number of parameter groups', {
        op,
        arg: 'stateDict.paramGroups',
        expected: String(this.paramGroups.length),
        got: String(sd.paramGroups.length),
      });
    }
    sd.paramGroups.forEach((g, gi) => {
      if (!Array.isArray(g.params) || g.params.length !== this.paramGroups[gi].params.length) {
        throw new XpuValueError('a parameter group has another number of parameters', {
          op,
          arg: `stateDict.paramGroups[${gi}].params`,
          expected: String(this.paramGroups[gi].params.length),
          got: String(g.params?.length),
        });
      }
    });
    let index = 0;
    sd.paramGroups.forEach((g, gi) => {
      const group = this.paramGroups[gi];
      const hp: Record<string, unknown> = { ...g };
      delete hp.params;
      Object.assign(group, hp);
      this.checkOptions(op, group);
      const names = this.stateNames(group);
      const gs = this.#groups[gi];
      this.#allocState(gs, names.length);
      group.params.forEach((p, pi) => {
        const entry = sd.state[index + pi];
        const slot = gs.slots[pi];
        slot.step = entry ? entry.step : 0;
        if (!entry) return;
        names.forEach((name, k) => {
          const src = entry[name];
          if (!isTensor(src)) {
            // SGD without momentum keeps no tensors; a missing kind of state is an error otherwise.
            throw new XpuValueError('state entry lacks a tensor', {
              op,
              arg: `stateDict.state[${index + pi}].${name}`,
              expected: 'Tensor',
              got: typeName(src),
            });
          }
          if (!shapeEq(src.shape, p.shape))
            throw new XpuShapeError('state tensor shape differs from its parameter', {
              op,
              arg: `stateDict.state[${index + pi}].${name}`,
              expected: fmtShape(p.shape),
              got: fmtShape(src.shape),
            });
          const moved = src.device === p.device && src.dtype === 'float32' ? src : null;
          if (!moved)
            throw new XpuDeviceError("state tensor must be float32 on its parameter's device", {
              op,
              arg: `stateDict.state[${index + pi}].${name}`,
              expected: `float32 on ${p.device}`,
              got: `${src.dtype} on ${src.device}`,
            });
          runScope(() => {
            const flatSrc = reshape(contiguous(moved), [p.numel]);
            for (const { view, piece } of this.#pieceViews(gi, pi, k)) copyInto(view, narrow(flatSrc, 0, piece.offset, piece.numel));
          }, isTensor);
        });
      });
      index += group.params.length;
    });
  }

  /** Frees the optimizer's state (the parameters are the caller's). */
  dispose(): void {
    for (const gs of this.#groups) {
      for (const c of gs.chunks) {
        for (const t of c.flat ?? []) t.dispose();
        c.flat = null;
      }
    }
  }
}

function paramList<O>(op: string, params: ParamsArg<O>): (Tensor | ParamGroupInit<O>)[] {
  if (params === null || typeof params !== 'object' || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new XpuTypeError('params must be an iterable of Tensors or of parameter groups', {
      op,
      arg: 'params',
      expected: 'Iterable<Tensor> | ParamGroup[]',
      got: typeName(params),
    });
  }
  return [...(params as Iterable<Tensor | ParamGroupInit<O>>)];
}

/** Checks that a hyper-parameter is a finite number >= lo (and < hi when given). */
export function checkRange(op: string, arg: string, v: unknown, lo: number, hi = Infinity, hiOpen = true): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || (hiOpen ? v >= hi : v > hi)) {
    throw new XpuValueError(`${arg} out of range`, { op, arg, expected: `a number in [${lo}, ${hi}${hiOpen ? ')' : ']'}`, got: String(v) });
  }
}

export function checkBool(op: string, arg: string, v: unknown): void {
  if (typeof v !== 'boolean') throw new XpuTypeError(`${arg} must be a boolean`, { op, arg, expected: 'boolean', got: typeName(v) });
}
