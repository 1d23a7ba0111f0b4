import { takeHost } from '../backends/cpu/host_pool.js';
import type { CpuStorage } from '../backends/cpu/storage.js';
import { XpuDistError } from '../errors.js';
import { fromHost, zeros } from '../ops/creation.js';
import { cat } from '../ops/structural.js';
import { readContiguous } from '../ops/transfer.js';
import { contiguous, reshape } from '../ops/views.js';
import type { HostArray } from '../tensor/dtype.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { BucketPlan } from './ddp_buckets.js';
import { DTYPE_CODE, OP_CODE, type DistDType } from './native.js';
import type { ProcessGroup } from './process_group.js';

/**
 * The gradient reducer of DistributedDataParallel (torch's Reducer, re-thought for one JS thread):
 * for each backward pass it copies every bucket's gradients into one flat host buffer, averages it
 * across the group with one all-reduce, and gives each parameter its averaged gradient.
 *
 * Overlap. The collective engines run on their own worker thread (native/collectives/engine.cc), so
 * an all-reduce issued in the middle of a backward pass proceeds while the JS thread computes the
 * remaining gradients. A bucket is issued from markReady(), which the autograd engine calls as
 * soon as a parameter's gradient is accumulated (onGradAccumulated), once all of its parameters
 * are ready:
 *   - cpu gradients are copied into the bucket's buffer and the engine call is issued right there,
 *     synchronously, inside backward: the all-reduce overlaps the rest of backward.
 *   - xpu gradients are concatenated on the GPU (one kernel, queued at once) and read back; a GPU
 *     read-back can only complete on the event loop, which a synchronous backward does not give
 *     back, so for xpu the read-backs and all-reduces start when backward returns and overlap one
 *     another (bucket k's all-reduce with bucket k+1's read-back and the write-back of k-1).
 *
 * Order. MPI and oneCCL need every rank to issue the same collectives in the same order. Buckets are
 * issued strictly in bucket order (a bucket that is ready early waits for the ones before it, as in
 * torch), through one promise chain, whatever order the read-backs complete in.
 *
 * Unused parameters (no gradient in this backward): their buckets cannot be ready before backward
 * ends. finish() then issues them with zeros in those slots so that every rank still makes the same
 * calls. With findUnusedParameters, one more all-reduce (max) of a used-flag per parameter tells
 * every rank which parameters got a gradient on some rank: those get the average (the ranks that had
 * none count zero, as torch does); those no rank used keep their gradient as it was (null on the
 * first step), as in torch. Without it, the rank that saw unused parameters throws after the
 * reduction (naming them), as torch does on the next iteration.
 */

interface BucketRun {
  plan: BucketPlan;
  /** Parameters of the bucket still without a gradient in this pass. */
  pending: number;
  issued: boolean;
  /** The averaged buffer, once the all-reduce completed (null: a group of one, nothing to average). */
  result: Promise<HostArray | null> | null;
}

export interface ReducerOptions {
  findUnusedParameters: boolean;
  timeoutMs?: number;
}

export class Reducer {
  readonly #params: readonly Tensor[];
  readonly #names: readonly string[];
  readonly #plans: readonly BucketPlan[];
  readonly #group: ProcessGroup;
  readonly #opts: ReducerOptions;
  readonly #slot = new Map<Tensor, { bucket: number; index: number }>();
  /** Per parameter: got its gradient in this pass. */
  #used: Uint8Array;
  #runs: BucketRun[] | null = null;
  #nextIssue = 0;
  /** Resolves once the latest call of this pass is issued; null when every call so far was issued synchronously. */
  #lastIssued: Promise<void> | null = null;

  constructor(
    params: readonly Tensor[],
    names: readonly string[],
    plans: readonly BucketPlan[],
    group: ProcessGroup,
    opts: ReducerOptions,
  ) {
    this.#params = params;
    this.#names = names;
    this.#plans = plans;
    this.#group = group;
    this.#opts = opts;
    this.#used = new Uint8Array(params.length);
    plans.forEach((b, bi) => b.params.forEach((pi, k) => this.#slot.set(params[pi], { bucket: bi, index: k })));
  }

  get buckets(): readonly BucketPlan[] {
    return this.#plans;
  }

  /** True between the first markReady (or prepare) of a pass and its finish(). */
  get active(): boolean {
    return this.#runs !== null;
  }

  /** True when a parameter got its gradient in the current pass (the backward pass touched this module). */
  get touched(): boolean {
    return this.#runs !== null && this.#used.includes(1);
  }

  /** Starts a pass (DDP's forward does, so that a pass in which no parameter gets a gradient still reduces). */
  prepare(): void {
    if (this.#runs) return;
    this.#runs = this.#plans.map((plan) => ({ plan, pending: plan.params.length, issued: false, result: null }));
    this.#used = new Uint8Array(this.#params.length); // fresh: finish() of the last pass may still read its own
    this.#nextIssue = 0;
    this.#lastIssued = null;
  }

  /** `p.grad` holds this pass's gradient of `p`: counts it, and issues every bucket now complete. */
  markReady(p: Tensor): void {
    const s = this.#slot.get(p);
    if (!s) return; // a parameter DDP does not reduce (requiresGrad was false at construction)
    this.prepare();
    const pi = this.#plans[s.bucket].params[s.index];
    if (this.#used[pi]) {
      throw new XpuDistError(
        `parameter '${this.#names[pi]}' got its gradient twice in one backward pass; DDP reduces each gradient once per pass (use ddp.noSync() for passes that only accumulate)`,
        {
          op: 'DistributedDataParallel',
          kind: 'state',
          expected: 'one gradient per parameter per backward',
          got: `a second gradient for '${this.#names[pi]}'`,
        },
      );
    }
    this.#used[pi] = 1;
    const run = this.#runs![s.bucket];
    run.pending--;
    this.#issueReady();
  }

  /** Issues buckets in order while the next one is complete. */
  #issueReady(): void {
    const runs = this.#runs!;
    while (this.#nextIssue < runs.length && runs[this.#nextIssue].pending === 0) this.#issue(runs[this.#nextIssue++]);
  }

  #issue(run: BucketRun): void {
    run.issued = true;
    if (this.#group.size === 1) {
      run.result = Promise.resolve(null); // each gradient is already its own average
      return;
    }
    const { plan } = run;
    const grads = plan.params.map((pi) => (this.#used[pi] ? this.#params[pi].grad : null));
    const dt = DTYPE_CODE[plan.dtype as DistDType];
    if (this.#params[plan.params[0]].device.type === 'cpu') {
      const host = gatherCpu(plan, grads);
      run.result = this.#inOrder(host, dt, OP_CODE.avg);
    } else {
      const staged = gatherDevice(plan, grads, this.#params); // the GPU work is queued now
      run.result = this.#inOrder(staged, dt, OP_CODE.avg);
    }
    run.result.catch(() => {}); // reported by finish(); not also an unhandled rejection
  }

  /**
   * Issues the all-reduce of the buffer `stage` gives once every earlier call of this pass is
   * issued: synchronously when they all were and the buffer is at hand (cpu), else through a chain.
   * Only the issuing is ordered here; the engine's FIFO keeps that order to completion.
   */
  #inOrder<T extends HostArray>(staged: T | Promise<T>, dtype: number, op: number): Promise<T> {
    const call = (host: T): Promise<T> => this.#allReduce(host, dtype, op);
    if (this.#lastIssued === null && !(staged instanceof Promise)) return call(staged);
    let issued!: () => void;
    const next = new Promise<void>((r) => (issued = r));
    const prev = this.#lastIssued ?? Promise.resolve();
    this.#lastIssued = next;
    return prev
      .then(() => staged)
      .then(
        (host) => {
          const r = call(host);
          issued();
          return r;
        },
        (e: unknown) => {
          issued();
          throw e;
        },
      );
  }

  /** One engine all-reduce of `host` in place; resolves with `host` once the engine is done. */
  #allReduce<T extends HostArray>(host: T, dtype: number, op: number): Promise<T> {
    const g = this.#group;
    const name = 'DistributedDataParallel';
    return g.job
      .call(name, this.#opts.timeoutMs ?? g.job.timeoutMs, () => g.job.engine.allReduce(g.comm, null, host, dtype, op, g.job.check))
      .then(() => host);
  }

  /**
   * Ends the pass: issues what is left now (unused parameters count zero), then waits for every
   * bucket and writes the averaged gradients to `p.grad`. A new pass may start as soon as this
   * returns. Rejects (after the reduction, so the ranks stay in step) if parameters got no gradient
   * and findUnusedParameters is off.
   */
  finish(): Promise<void> {
    const runs = this.#runs;
    if (!runs) return Promise.resolve();
    const used = this.#used;
    for (const r of runs) r.pending = 0;
    this.#issueReady();
    const flags = !this.#opts.findUnusedParameters
      ? null
      : this.#group.size === 1
        ? Promise.resolve(Int32Array.from(used))
        : this.#inOrder(Int32Array.from(used), DTYPE_CODE.int32, OP_CODE.max);
    this.#runs = null;
    return this.#complete(runs, used, flags);
  }

  async #complete(runs: readonly BucketRun[], used: Uint8Array, flags: Promise<Int32Array> | null): Promise<void> {
    const globallyUsed = flags ? await flags : null;
    const results = await Promise.all(runs.map((r) => r.result!));
    runs.forEach((r, bi) => {
      const host = results[bi];
      if (host) this.#writeBack(r.plan, host, globallyUsed);
    });
    const unused = this.#params.flatMap((p, i) => (this.#slot.has(p) && !used[i] ? [i] : []));
    if (!this.#opts.findUnusedParameters && unused.length) {
      const names = unused.map((i) => `'${this.#names[i]}'`);
      throw new XpuDistError(
        `${unused.length} parameter(s) got no gradient in this backward pass: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''}; pass findUnusedParameters: true to DistributedDataParallel if the model leaves parameters out of some passes`,
        {
          op: 'DistributedDataParallel',
          kind: 'state',
          expected: 'every parameter that requires grad used in the loss',
          got: `${unused.length} without a gradient`,
        },
      );
    }
  }

  #writeBack(plan: BucketPlan, host: HostArray, globallyUsed: Int32Array | null): void {
    plan.params.forEach((pi, k) => {
      const p = this.#params[pi];
      if (globallyUsed && !globallyUsed[pi]) return; // no rank has a gradient: keep p.grad as it was
      const off = plan.offsets[k];
      const old = p.grad;
      p.grad = keep(fromHost(host.subarray(off, off + p.numel), p.shape, p.dtype, p.device, 'DistributedDataParallel')); // made after an await: no caller's scope owns it
      if (old && old !== p.grad) old.dispose();
    });
  }
}

/** The bucket's gradients (null: zeros) copied into one host buffer, now (cpu tensors). */
function gatherCpu(plan: BucketPlan, grads: readonly (Tensor | null)[]): HostArray {
  const host = takeHost(plan.dtype, plan.numel);
  grads.forEach((g, k) => {
    const off = plan.offsets[k];
    const end = k + 1 < plan.offsets.length ? plan.offsets[k + 1] : plan.numel;
    if (!g) {
      host.fill(0, off, end);
      return;
    }
    const c = g.isContiguous() ? g : contiguous(g);
    const data = (c.ref.storage as CpuStorage).data; // waits for a native job still writing it
    host.set(data.subarray(c.offset, c.offset + c.numel), off);
    if (c !== g) c.dispose();
  });
  return host;
}

/** The bucket's gradients concatenated on their device (queued now) and read back to the host. */
function gatherDevice(plan: BucketPlan, grads: readonly (Tensor | null)[], params: readonly Tensor[]): Promise<HostArray> {
  const parts = grads.map((g, k) => {
    const p = params[plan.params[k]];
    return g ? reshape(g, [-1]) : zeros([p.numel], { device: p.device, dtype: p.dtype });
  });
  const flat = cat(parts);
  parts.forEach((t, k) => t !== grads[k] && t.dispose());
  return readContiguous(flat, 'DistributedDataParallel').finally(() => flat.dispose());
}
