import { onBackwardEnd, onGradAccumulated } from '../autograd/engine.js';
import { isGradEnabled } from '../autograd/grad_mode.js';
import { XpuDistError, XpuDTypeError, XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';
import { Module } from '../nn/module.js';
import { isTensor, type Tensor } from '../tensor/tensor.js';
import { broadcast } from './collectives.js';
import { assignBuckets, type BucketPlan } from './ddp_buckets.js';
import type { ProcessGroup } from './process_group.js';
import { Reducer } from './reducer.js';
import { groupFor } from './state.js';

/**
 * xpu.dist.DistributedDataParallel: data-parallel training in torch's way. Every rank holds a full
 * replica of the module and trains on its own part of the batch; after each backward pass every
 * parameter's gradient is the average over the ranks, so identical optimizer steps keep the
 * replicas identical (N ranks with B rows each step as one process with N*B rows would, for a loss
 * that is a mean over rows). docs/distributed.md has the whole story.
 *
 *   const ddp = await xpu.dist.DistributedDataParallel(model);   // broadcasts rank 0's parameters
 *   lossFn(ddp.forward(x), y).backward();   // bucket all-reduces start during backward (reducer.ts)
 *   await ddp.gradientsReady();              // averaged gradients are in p.grad
 *   opt.step();
 *
 * Unlike torch, backward cannot block until the all-reduces are done (a JS thread that blocks never
 * receives their results), hence the await.
 */

export interface DistributedDataParallelOptions {
  /** Default: the world group from initProcessGroup(). */
  group?: ProcessGroup;
  /** Bucket size in MiB (torch's bucket_cap_mb, default 25); the first bucket is capped at 1 MiB. */
  bucketCapMb?: number;
  /**
   * Allow parameters that get no gradient in a backward pass (torch's find_unused_parameters,
   * default false): they count as zero on that rank; one that no rank used keeps its grad as it was.
   * Without it such a pass throws an XpuDistError naming them (after the reduction, on the ranks
   * that saw them).
   */
  findUnusedParameters?: boolean;
  /** Per-call timeout of the all-reduces (default: the group's). */
  timeoutMs?: number;
}

interface Forward {
  forward(...args: never[]): unknown;
}

type ForwardArgs<M> = M extends { forward(...args: infer A): unknown } ? A : never;
type ForwardResult<M> = M extends { forward(...args: never[]): infer R } ? R : never;

const OP = 'DistributedDataParallel';

/** What DistributedDataParallel() returns: a Module whose only submodule is `module` (torch's names: 'module.<param>'). */
export class DistributedDataParallelModule<M extends Module & Forward = Module & Forward> extends Module {
  declare readonly module: M;
  readonly #reducer: Reducer;
  readonly #names: readonly string[];
  readonly #removers: (() => void)[] = [];
  #syncing = true;
  #pending: Promise<void> = Promise.resolve();
  #inFlight = false;

  /** @internal Use `await xpu.dist.DistributedDataParallel(module)`, which broadcasts first. */
  constructor(
    module: M,
    params: readonly Tensor[],
    names: readonly string[],
    plans: readonly BucketPlan[],
    group: ProcessGroup,
    o: DistributedDataParallelOptions,
  ) {
    super();
    this.registerModule('module', module);
    this.#names = names;
    this.#reducer = new Reducer(params, names, plans, group, {
      findUnusedParameters: o.findUnusedParameters ?? false,
      timeoutMs: o.timeoutMs,
    });
    for (const p of params) {
      this.#removers.push(
        onGradAccumulated(p, (leaf) => {
          if (this.#syncing) this.#reducer.markReady(leaf);
        }),
      );
    }
    this.#removers.push(onBackwardEnd(() => this.#endPass()));
  }

  /** The buckets in all-reduce order: parameter names (as in module.namedParameters()), elements, dtype. */
  get buckets(): { params: string[]; numel: number; dtype: string }[] {
    return this.#reducer.buckets.map((b) => ({ params: b.params.map((i) => this.#names[i]), numel: b.numel, dtype: b.dtype }));
  }

  /** Runs the module's forward; a pass whose gradients DDP averages starts here (as torch's does). */
  forward(...args: ForwardArgs<M>): ForwardResult<M> {
    if (this.#inFlight) {
      // The last backward's averages are still on their way: a step taken now used this rank's own
      // gradients, and the averages would land in the middle of this pass.
      throw new XpuDistError(
        'the gradients of the last backward pass are still being averaged: await ddp.gradientsReady() after backward, before the optimizer step and the next forward',
        {
          op: `${OP}.forward`,
          kind: 'state',
          expected: 'await ddp.gradientsReady() between backward and step',
          got: 'forward while the all-reduces are in flight',
        },
      );
    }
    if (this.#syncing && isGradEnabled()) this.#reducer.prepare();
    return (this.module.forward as (...a: ForwardArgs<M>) => ForwardResult<M>)(...args);
  }

  /**
   * Runs `fn` (forward and backward passes) without averaging: gradients accumulate locally, and the
   * next pass outside noSync averages the accumulated sum (torch's no_sync, for gradient
   * accumulation with one all-reduce per optimizer step). `fn` must be synchronous.
   */
  noSync<T>(fn: () => T): T {
    const was = this.#syncing;
    this.#syncing = false;
    try {
      return fn();
    } finally {
      this.#syncing = was;
    }
  }

  /**
   * Resolves when the last backward pass's gradients are averaged into p.grad (rejects with its
   * error). Await it between loss.backward() and the optimizer step.
   */
  gradientsReady(): Promise<void> {
    return this.#pending;
  }

  #endPass(): Promise<void> | void {
    // Every backward() ends here; one that gave none of this module's parameters a gradient (another
    // model's loss) is not this module's pass, as torch's reducer only finalizes once a hook fired.
    if (!this.#reducer.touched) return;
    this.#inFlight = true;
    this.#pending = this.#reducer.finish().finally(() => (this.#inFlight = false));
    // gradientsReady() reports the error; this keeps it from also being an unhandled rejection.
    this.#pending.catch(() => {});
    return this.#pending;
  }

  /** Removes DDP's gradient hooks (the module keeps working alone); the parameters stay as they are. */
  detachHooks(): void {
    for (const r of this.#removers.splice(0)) r();
  }
}

/** The parameters DDP averages: the module's tensors that require grad, in registration order. */
function requiresGradParams(module: Module): [string, Tensor][] {
  return [...module.namedParameters()].filter((e): e is [string, Tensor] => isTensor(e[1]) && e[1].requiresGrad);
}

/**
 * Wraps `module` for data-parallel training across `group` (every rank calls it, with the same
 * architecture): copies the group's first rank's parameters to every rank (torch's constructor
 * does), then returns a module whose backward passes average the gradients across the ranks.
 * Quantized (frozen) weights are not broadcast: they come from the same file on every rank.
 * Buffers (Module.registerBuffer) are broadcast too, once, at construction.
 */
export async function DistributedDataParallel<M extends Module & Forward>(
  module: M,
  o: DistributedDataParallelOptions = {},
): Promise<DistributedDataParallelModule<M>> {
  if (!(module instanceof Module) || typeof (module as Partial<Forward>).forward !== 'function') {
    throw new XpuTypeError('needs an nn.Module with a forward method', {
      op: OP,
      arg: 'module',
      expected: 'Module with forward()',
      got: typeName(module),
    });
  }
  if (o === null || typeof o !== 'object')
    throw new XpuTypeError('options must be an object', {
      op: OP,
      arg: 'options',
      expected: '{ group?, bucketCapMb?, findUnusedParameters?, timeoutMs? }',
      got: typeName(o),
    });
  const cap = o.bucketCapMb ?? 25;
  if (typeof cap !== 'number' || !(cap > 0) || !Number.isFinite(cap)) {
    throw new XpuValueError('bucket size must be a positive number of MiB', {
      op: OP,
      arg: 'bucketCapMb',
      expected: '> 0',
      got: String(cap),
    });
  }
  const group = groupFor(OP, o.group);
  const entries = requiresGradParams(module);
  for (const [name, p] of entries) {
    if (p.dtype !== 'float32' && p.dtype !== 'float16')
      throw new XpuDTypeError('DDP averages float32 and float16 gradients', {
        op: OP,
        arg: name,
        expected: 'float32 | float16',
        got: p.dtype,
      });
  }
  // Every tensor the module holds, trainable or not, starts as the first rank's (in registration
  // order, one at a time: the issue order of collectives must be the same on every rank).
  for (const [, p] of module.namedParameters()) if (isTensor(p)) await broadcast(p, { group, src: group.ranks[0], timeoutMs: o.timeoutMs });
  // Buffers too (torch's broadcast_buffers at construction), after the parameters, in registration order.
  for (const [, b] of module.namedBuffers()) await broadcast(b, { group, src: group.ranks[0], timeoutMs: o.timeoutMs });
  const params = entries.map(([, p]) => p);
  const plans = assignBuckets(params, cap * 2 ** 20);
  return new DistributedDataParallelModule(
    module,
    params,
    entries.map(([n]) => n),
    plans,
    group,
    o,
  );
}
