import { XpuDeviceError, type XpuError } from '../../errors.js';
import type { GpuStorage } from './allocator.js';
import { IndexAsserts, type AssertHit, type AssertSlot, type SealedAsserts } from './asserts.js';
import { errorSink, type ErrorSink } from './error_sink.js';
import { checkLaunch, launchGrid, launchLimitsOf, type LaunchLimits } from './limits.js';
import { BindGroupCache } from './bind_groups.js';

const UNIFORM_ALIGN = 256;
const ARENA_BYTES = 64 * 1024;

export interface Binding {
  buffer: GPUBuffer;
  size: number;
}

/** A texture bound in place of a buffer (the GEMM's texture variant, gemm_texture.ts). */
export interface TextureBinding {
  view: GPUTextureView;
  /** The texture the view shows: what a failed launch that writes it marks failed (see Launch). */
  texture?: GPUTexture;
}

export interface DispatchHook {
  /** Called before a dispatch is recorded; returns timestampWrites for the pass, if any. */
  beginDispatch(label: string): GPUComputePassTimestampWrites | undefined;
  endDispatch(): void;
  /** Called right before a batch is submitted, with its encoder still open. */
  beforeSubmit(encoder: GPUCommandEncoder): void;
  /** Called right after the batch was submitted. */
  afterSubmit(): void;
}

/**
 * One recorded launch (a dispatch or a copy), kept until its batch has been accepted by the
 * device, so that a rejected batch can be replayed launch by launch. `reads` and `writes` are the
 * tensors' storages (and textures) it touches: a dispatch writes its first binding, by the
 * convention of every kernel here, and reads the others.
 */
interface Launch {
  label: string;
  pipeline?: GPUComputePipeline;
  bindGroup?: GPUBindGroup;
  /** The uniform block's dynamic offset into the arena. */
  uniformOffset?: number;
  grid?: [number, number];
  copy?: [GPUBuffer, number, GPUBuffer, number, number];
  reads: object[];
  writes: object[];
}

/**
 * Records dispatches into one command encoder and submits them in batches: on read-back, on
 * synchronize(), when the uniform arena fills, or every `batchSize` dispatches. A chain of small
 * ops thus costs one submit.
 *
 * Ordering rules this relies on: WebGPU runs queue operations in order, and queue.writeBuffer is
 * a queue operation that runs before any command buffer submitted after it. So uniforms are
 * written for the whole batch right before its submit, and an upload into a buffer that pending
 * commands may still use goes through its own staging buffer and a copy recorded in order.
 *
 * One failing launch must not harm the others. A validation error anywhere in a command encoder
 * invalidates all of it, so a batch would be dropped whole by one bad launch. Hence:
 *  - every launch is checked against the adapter's limits before it is recorded (limits.ts), and
 *    pipelines and bind groups are checked as they are made (pipelines.ts, dispatch()), so the
 *    op at fault throws at its call and nothing of it is recorded;
 *  - if the device still rejects a batch (finish() or submit() reports an error, synchronously in
 *    Dawn, see error_sink.ts), nothing of it ran: its launches are replayed one by one, in order,
 *    each in its own submission; a launch the device rejects is skipped and the storages it writes
 *    are marked failed, and so is every later launch's output computed from a failed storage.
 *    Reading a failed storage throws the error naming the op; every other tensor stays valid;
 *  - index kernels report out-of-range indices through device-side asserts (asserts.ts), checked
 *    with the next read or synchronize(); the launch's output, and everything computed from it
 *    since, is marked failed the same way.
 */
export class CommandQueue {
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  /**
   * What the open pass has bound, so a launch sets only what changed: each Dawn call costs ~1-3 us
   * of host time (bench/tools/dispatch_floor.ts), and a chain of one op runs one pipeline.
   */
  #bound: { pipeline: GPUComputePipeline | null; group: GPUBindGroup | null; offset: number } = { pipeline: null, group: null, offset: -1 };
  #dispatches = 0;
  readonly #arena: GPUBuffer;
  readonly #arenaCpu = new Uint8Array(ARENA_BYTES);
  #arenaUsed = 0;
  #staging: GPUBuffer[] = [];
  #lostReason: string | null = null;
  readonly #lost: Promise<never>;
  readonly #sink: ErrorSink;
  readonly #limits: LaunchLimits;
  /** Launches of the open batch, in order. */
  #batch: Launch[] = [];
  /** Every launch since the oldest index assert not yet read back (to follow a failure forward). */
  #journal: Launch[] = [];
  readonly #asserts: IndexAsserts;
  readonly #assertLaunches = new Map<AssertSlot, Launch>();
  /** The current storage (GpuStorage) of each buffer, set at allocation. */
  readonly #owners = new WeakMap<GPUBuffer, GpuStorage>();
  /** Storages and textures whose contents are not valid, with the error a read gives. */
  readonly #failures = new WeakMap<object, XpuError>();
  hook: DispatchHook | null = null;
  submits = 0;
  /** Bind groups reused across launches over the same buffers (bind_groups.ts). */
  readonly bindGroups = new BindGroupCache();

  constructor(
    readonly device: GPUDevice,
    readonly batchSize: number,
    private readonly maxGroupsPerDim: number,
  ) {
    this.#arena = device.createBuffer({ size: ARENA_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.#sink = errorSink(device);
    this.#limits = launchLimitsOf(device.limits as unknown as LaunchLimits);
    this.#asserts = new IndexAsserts(device);
    this.#lost = device.lost.then((info) => {
      this.#lostReason = `${info.reason}: ${info.message}`;
      throw this.lostError('synchronize');
    });
    this.#lost.catch(() => {});
  }

  /**
   * Throws (and clears) errors the device reported that no launch was blamed for: a kernel or
   * launcher bug, raised on the next read instead of returning stale memory.
   */
  #raiseDeviceErrors(op: string): void {
    const errors = this.#sink.drain();
    if (!errors.length) return;
    throw new XpuDeviceError('the GPU reported an error while running kernels', { op, got: errors.join('\n') });
  }

  get isLost(): boolean {
    return this.#lostReason !== null;
  }

  lostError(op: string): XpuDeviceError {
    return new XpuDeviceError('the GPU device was lost', {
      op,
      expected: 'a live device (recreate tensors on a new device, or use cpu)',
      got: this.#lostReason ?? 'lost',
    });
  }

  checkAlive(op: string): void {
    if (this.#lostReason !== null) throw this.lostError(op);
  }

  /** Registers a fresh storage as the owner of its buffer (called at every allocation). */
  adopt(storage: GpuStorage): void {
    this.#owners.set(storage.buffer, storage);
  }

  /** The error reading this storage gives, if its contents are not valid. */
  failure(storage: GpuStorage): XpuError | undefined {
    return this.#failures.get(storage);
  }

  /** A slot for a launch that checks indices on the device (asserts.ts); pass it to dispatch(). */
  reserveAssert(op: string, arg: string, size: number): AssertSlot {
    return this.#asserts.reserve(op, arg, size);
  }

  #ensureEncoder(): GPUCommandEncoder {
    return (this.#encoder ??= this.device.createCommandEncoder());
  }

  #endPass(): void {
    this.#pass?.end();
    this.#pass = null;
    this.#bound = { pipeline: null, group: null, offset: -1 };
  }

  #resource(b: Binding | TextureBinding): object | undefined {
    return 'view' in b ? b.texture : this.#owners.get(b.buffer);
  }

  #upstream(l: Launch): XpuError | undefined {
    for (const r of l.reads) {
      const f = this.#failures.get(r);
      if (f) return f;
    }
    return undefined;
  }

  #fail(l: Launch, error: XpuError): void {
    for (const w of l.writes) if (!this.#failures.has(w)) this.#failures.set(w, error);
  }

  /** Adds a launch to the open batch; its outputs inherit a failure of its inputs. */
  #record(l: Launch): void {
    const up = this.#upstream(l);
    if (up) this.#fail(l, up);
    this.#batch.push(l);
    if (this.#asserts.outstanding > 0) this.#journal.push(l);
  }

  /**
   * Records one compute dispatch of `groups` workgroups (folded into 2-D past the per-dim limit).
   * buffers[0] is the binding the kernel writes; `assert` is the launch's index-assert slot.
   * Throws XpuDeviceError, with nothing recorded, when the launch exceeds the adapter's limits
   * or the device rejects its bindings.
   */
  dispatch(
    label: string,
    pipeline: GPUComputePipeline,
    layout: GPUBindGroupLayout,
    uniforms: ArrayBuffer,
    buffers: (Binding | TextureBinding)[],
    groups: number,
    assert?: AssertSlot,
  ): void {
    this.checkAlive(label);
    if (groups === 0) return;
    checkLaunch(
      label,
      this.#limits,
      groups,
      uniforms.byteLength,
      ARENA_BYTES,
      buffers.filter((b): b is Binding => 'buffer' in b),
    );
    const slot = Math.ceil(uniforms.byteLength / UNIFORM_ALIGN) * UNIFORM_ALIGN;
    if (this.#arenaUsed + slot > ARENA_BYTES) this.flush();
    const offset = this.#arenaUsed;
    const cacheKey = this.bindGroups.key(layout, uniforms.byteLength, buffers);
    let bindGroup = cacheKey === undefined ? undefined : this.bindGroups.get(cacheKey);
    if (!bindGroup) {
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.#arena, offset: 0, size: uniforms.byteLength } }];
      buffers.forEach((b, i) =>
        entries.push({ binding: i + 1, resource: 'view' in b ? b.view : { buffer: b.buffer, offset: 0, size: b.size } }),
      );
      const mark = this.#sink.mark();
      bindGroup = this.device.createBindGroup({ layout, entries, label });
      const errors = this.#sink.take(mark);
      if (errors.length) {
        throw new XpuDeviceError('the GPU rejected the bindings of a kernel launch (an xpu bug: please report it)', {
          op: label,
          expected: 'bindings that match the kernel',
          got: errors.join('\n'),
        });
      }
      if (cacheKey !== undefined) this.bindGroups.set(cacheKey, bindGroup);
    }
    this.#arenaCpu.set(new Uint8Array(uniforms), offset);
    this.#arenaUsed += slot;
    const grid = launchGrid(groups, this.maxGroupsPerDim);
    const launch: Launch = {
      label,
      pipeline,
      bindGroup,
      grid,
      uniformOffset: offset,
      writes: [this.#resource(buffers[0])].filter((x): x is object => x !== undefined),
      reads: buffers
        .slice(1)
        .map((b) => this.#resource(b))
        .filter((x): x is object => x !== undefined),
    };
    this.#record(launch);
    if (assert) this.#assertLaunches.set(assert, launch);
    const encoder = this.#ensureEncoder();
    const timestampWrites = this.hook?.beginDispatch(label);
    if (timestampWrites) this.#endPass();
    if (timestampWrites) {
      const pass = encoder.beginComputePass({ timestampWrites });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup, [offset]);
      pass.dispatchWorkgroups(grid[0], grid[1]);
      pass.end();
      this.hook?.endDispatch();
    } else {
      const pass = (this.#pass ??= encoder.beginComputePass());
      const bound = this.#bound;
      if (bound.pipeline !== pipeline) {
        pass.setPipeline(pipeline);
        bound.pipeline = pipeline;
      }
      if (bound.group !== bindGroup || bound.offset !== offset) {
        pass.setBindGroup(0, bindGroup, [offset]);
        bound.group = bindGroup;
        bound.offset = offset;
      }
      pass.dispatchWorkgroups(grid[0], grid[1]);
    }
    if (++this.#dispatches >= this.batchSize) this.flush();
  }

  /** Copies host data into `dst` in order with the pending work. */
  upload(dst: GPUBuffer, data: Uint8Array): void {
    this.checkAlive('upload');
    const bytes = Math.ceil(data.byteLength / 4) * 4;
    if (bytes === 0) return;
    const padded =
      bytes === data.byteLength
        ? data
        : (() => {
            const p = new Uint8Array(bytes);
            p.set(data);
            return p;
          })();
    if (!this.#encoder) {
      this.device.queue.writeBuffer(dst, 0, padded.buffer, padded.byteOffset, bytes);
      return;
    }
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
    new Uint8Array(staging.getMappedRange()).set(padded);
    staging.unmap();
    this.#endPass();
    this.#encoder.copyBufferToBuffer(staging, 0, dst, 0, bytes);
    this.#staging.push(staging);
    this.#recordCopy('upload', staging, 0, dst, 0, bytes);
  }

  #recordCopy(label: string, src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    const r = this.#owners.get(src);
    const w = this.#owners.get(dst);
    this.#record({ label, copy: [src, srcOffset, dst, dstOffset, size], reads: r ? [r] : [], writes: w ? [w] : [] });
  }

  /** Records a buffer-to-buffer copy (byte offsets and size multiples of 4) in order. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, size: number, dstOffset = 0): void {
    this.checkAlive('copy');
    if (size === 0) return;
    this.#endPass();
    this.#ensureEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
    this.#recordCopy('copy', src, srcOffset, dst, dstOffset, size);
    if (++this.#dispatches >= this.batchSize) this.flush();
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.#encoder) return;
    this.#endPass();
    if (this.#arenaUsed) this.device.queue.writeBuffer(this.#arena, 0, this.#arenaCpu.buffer, 0, this.#arenaUsed);
    this.hook?.beforeSubmit(this.#encoder);
    const encoder = this.#encoder;
    const batch = this.#batch;
    this.#encoder = null;
    this.#batch = [];
    this.#dispatches = 0;
    this.#arenaUsed = 0;
    const mark = this.#sink.mark();
    const commands = encoder.finish();
    let errors = this.#sink.take(mark);
    if (!errors.length) {
      this.device.queue.submit([commands]);
      errors = this.#sink.take(mark);
    }
    this.submits++;
    // A rejected batch did not run at all (WebGPU drops an invalid command buffer whole).
    if (errors.length) this.#replay(batch, errors);
    // Accepted: only the data flow of its launches is still needed (by the journal).
    for (const l of batch) {
      l.pipeline = undefined;
      l.bindGroup = undefined;
      l.copy = undefined;
    }
    this.hook?.afterSubmit();
    for (const s of this.#staging) s.destroy(); // Dawn keeps it alive until the copy has run
    this.#staging = [];
  }

  /**
   * Runs a rejected batch's launches one per submission, in order, to find the ones at fault: those
   * the device rejects are skipped and their outputs marked failed, as are the outputs of launches
   * that read a failed storage. Uniforms stay valid: the arena is rewritten only by the next flush.
   * Profiler timestamps of the batch read as 0. If no launch is at fault the errors stay queued
   * for the next read.
   */
  #replay(batch: Launch[], batchErrors: string[]): void {
    let blamed = false;
    for (const l of batch) {
      const up = this.#upstream(l);
      if (up) {
        this.#fail(l, up);
        continue;
      }
      const mark = this.#sink.mark();
      const encoder = this.device.createCommandEncoder();
      if (l.copy) encoder.copyBufferToBuffer(...l.copy);
      else {
        const pass = encoder.beginComputePass();
        pass.setPipeline(l.pipeline as GPUComputePipeline);
        pass.setBindGroup(0, l.bindGroup as GPUBindGroup, [l.uniformOffset ?? 0]);
        pass.dispatchWorkgroups(...(l.grid as [number, number]));
        pass.end();
      }
      const commands = encoder.finish();
      let errors = this.#sink.take(mark);
      if (!errors.length) {
        this.device.queue.submit([commands]);
        errors = this.#sink.take(mark);
      }
      if (errors.length) {
        blamed = true;
        this.#fail(
          l,
          new XpuDeviceError('the GPU rejected this kernel launch, so its output holds no valid data (an xpu bug: please report it)', {
            op: l.label,
            expected: 'a launch the device accepts',
            got: errors.join('\n'),
          }),
        );
      }
    }
    // Nothing to pin them on: the next read raises them.
    if (!blamed) this.#sink.requeue(batchErrors);
  }

  /** Reads back the asserts sealed by a check: marks failing launches' outputs and what was computed from them; returns the first error. */
  #settleAsserts(sealed: SealedAsserts | null): XpuError | undefined {
    if (!sealed) return undefined;
    const hits: AssertHit[] = this.#asserts.collect(sealed);
    let first: XpuError | undefined;
    for (const h of hits) {
      first ??= h.error;
      const l = this.#assertLaunches.get(h.slot);
      if (!l) continue;
      this.#fail(l, h.error);
      // Forward through everything recorded since: outputs computed from a failed storage fail too.
      const at = this.#journal.indexOf(l);
      for (let i = at + 1; at >= 0 && i < this.#journal.length; i++) {
        const up = this.#upstream(this.#journal[i]);
        if (up) this.#fail(this.#journal[i], up);
      }
    }
    for (const p of sealed.parts) for (const s of p.slots) this.#assertLaunches.delete(s);
    // Keep the journal from the oldest launch whose assert is still to be read.
    if (this.#asserts.outstanding === 0) this.#journal = [];
    else {
      const live = new Set(this.#assertLaunches.values());
      const from = this.#journal.findIndex((l) => live.has(l));
      this.#journal = from < 0 ? [] : this.#journal.slice(from);
    }
    return first;
  }

  /** Seals the index asserts in use: their copy-out is recorded at the end of the open batch. */
  #sealAsserts(): SealedAsserts | null {
    if (this.#asserts.outstanding === 0) return null;
    this.#endPass();
    const sealed = this.#asserts.seal(this.#ensureEncoder());
    for (const copy of sealed?.copies ?? []) this.#batch.push({ label: 'index-asserts', copy, reads: [], writes: [] });
    return sealed;
  }

  /** Resolves when all submitted work is done; rejects with XpuDeviceError if the device is lost. */
  async synchronize(): Promise<void> {
    this.checkAlive('synchronize');
    const sealed = this.#sealAsserts();
    this.flush();
    try {
      await Promise.race([sealed ? sealed.staging.mapAsync(GPUMapMode.READ) : this.device.queue.onSubmittedWorkDone(), this.#lost]);
    } catch (e) {
      if (sealed) this.#asserts.release(sealed);
      throw e;
    }
    this.#raiseDeviceErrors('synchronize');
    const err = this.#settleAsserts(sealed);
    if (err) throw err;
  }

  /**
   * Reads `bytes` from the start of `src` after all pending work. Throws the storage's failure if
   * its contents are not valid, and the first index assert that fired since the last check.
   */
  async read(src: GPUBuffer, bytes: number, op = 'read'): Promise<ArrayBuffer> {
    this.checkAlive(op);
    const owner = this.#owners.get(src);
    const known = owner && this.#failures.get(owner);
    if (known) throw known;
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.#endPass();
    this.#ensureEncoder().copyBufferToBuffer(src, 0, staging, 0, size);
    this.#recordCopy(op, src, 0, staging, 0, size);
    const sealed = this.#sealAsserts();
    try {
      this.flush();
      await Promise.race([Promise.all([staging.mapAsync(GPUMapMode.READ), sealed?.staging.mapAsync(GPUMapMode.READ)]), this.#lost]);
    } catch (e) {
      staging.destroy();
      if (sealed) this.#asserts.release(sealed);
      if (e instanceof XpuDeviceError) throw this.#lostReason !== null ? this.lostError(op) : e;
      if (this.#lostReason !== null) throw this.lostError(op);
      throw new XpuDeviceError('reading GPU memory failed', { op, got: (e as Error).message });
    }
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    this.#raiseDeviceErrors(op);
    const assertError = this.#settleAsserts(sealed);
    if (assertError) throw assertError;
    const failed = owner && this.#failures.get(owner);
    if (failed) throw failed;
    return out;
  }
}
