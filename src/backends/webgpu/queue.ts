import { XpuDeviceError } from '../../errors.js';

const UNIFORM_ALIGN = 256;
const ARENA_BYTES = 64 * 1024;

export interface Binding {
  buffer: GPUBuffer;
  size: number;
}

/** A texture bound in place of a buffer (the GEMM's texture variant, gemm_texture.ts). */
export interface TextureBinding {
  view: GPUTextureView;
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
 * Records dispatches into one command encoder and submits them in batches: on read-back, on
 * synchronize(), when the uniform arena fills, or every `batchSize` dispatches. A chain of small
 * ops thus costs one submit.
 *
 * Ordering rules this relies on: WebGPU runs queue operations in order, and queue.writeBuffer is
 * a queue operation that runs before any command buffer submitted after it. So uniforms are
 * written for the whole batch right before its submit, and an upload into a buffer that pending
 * commands may still use goes through its own staging buffer and a copy recorded in order.
 */
export class CommandQueue {
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #dispatches = 0;
  readonly #arena: GPUBuffer;
  readonly #arenaCpu = new Uint8Array(ARENA_BYTES);
  #arenaUsed = 0;
  #staging: GPUBuffer[] = [];
  #lostReason: string | null = null;
  readonly #lost: Promise<never>;
  hook: DispatchHook | null = null;
  submits = 0;

  constructor(
    readonly device: GPUDevice,
    readonly batchSize: number,
    private readonly maxGroupsPerDim: number,
  ) {
    this.#arena = device.createBuffer({ size: ARENA_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.#lost = device.lost.then((info) => {
      this.#lostReason = `${info.reason}: ${info.message}`;
      throw this.lostError('synchronize');
    });
    this.#lost.catch(() => {});
    // A validation error means a bug in a kernel or a launcher: keep it and raise it on the next
    // read instead of returning stale memory.
    device.addEventListener('uncapturederror', (ev) => {
      const msg = (ev as GPUUncapturedErrorEvent).error.message;
      if (this.#errors.length < 8) this.#errors.push(msg);
    });
  }

  readonly #errors: string[] = [];

  /** Throws (and clears) errors the device reported since the last check. */
  #raiseDeviceErrors(op: string): void {
    if (!this.#errors.length) return;
    const msg = this.#errors.join('\n');
    this.#errors.length = 0;
    throw new XpuDeviceError('the GPU reported an error while running kernels', { op, got: msg });
  }

  get isLost(): boolean {
    return this.#lostReason !== null;
  }

  lostError(op: string): XpuDeviceError {
    return new XpuDeviceError('the GPU device was lost', { op, expected: 'a live device (recreate tensors on a new device, or use cpu)', got: this.#lostReason ?? 'lost' });
  }

  checkAlive(op: string): void {
    if (this.#lostReason !== null) throw this.lostError(op);
  }

  #ensureEncoder(): GPUCommandEncoder {
    return (this.#encoder ??= this.device.createCommandEncoder());
  }

  #endPass(): void {
    this.#pass?.end();
    this.#pass = null;
  }

  /** Records one compute dispatch of `groups` workgroups (folded into 2-D past the per-dim limit). */
  dispatch(label: string, pipeline: GPUComputePipeline, layout: GPUBindGroupLayout, uniforms: ArrayBuffer, buffers: (Binding | TextureBinding)[], groups: number): void {
    this.checkAlive(label);
    if (groups === 0) return;
    const slot = Math.ceil(uniforms.byteLength / UNIFORM_ALIGN) * UNIFORM_ALIGN;
    if (this.#arenaUsed + slot > ARENA_BYTES) this.flush();
    const offset = this.#arenaUsed;
    this.#arenaCpu.set(new Uint8Array(uniforms), offset);
    this.#arenaUsed += slot;
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.#arena, offset, size: uniforms.byteLength } }];
    buffers.forEach((b, i) => entries.push({ binding: i + 1, resource: 'view' in b ? b.view : { buffer: b.buffer, offset: 0, size: b.size } }));
    const bindGroup = this.device.createBindGroup({ layout, entries });
    const encoder = this.#ensureEncoder();
    const timestampWrites = this.hook?.beginDispatch(label);
    if (timestampWrites) this.#endPass();
    const pass = timestampWrites ? encoder.beginComputePass({ timestampWrites }) : (this.#pass ??= encoder.beginComputePass());
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const x = Math.min(groups, this.maxGroupsPerDim);
    pass.dispatchWorkgroups(x, Math.ceil(groups / x));
    if (timestampWrites) {
      pass.end();
      this.hook?.endDispatch();
    }
    if (++this.#dispatches >= this.batchSize) this.flush();
  }

  /** Copies host data into `dst` in order with the pending work. */
  upload(dst: GPUBuffer, data: Uint8Array): void {
    this.checkAlive('upload');
    const bytes = Math.ceil(data.byteLength / 4) * 4;
    if (bytes === 0) return;
    const padded = bytes === data.byteLength ? data : (() => { const p = new Uint8Array(bytes); p.set(data); return p; })();
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
  }

  /** Records a buffer-to-buffer copy (byte offsets and size multiples of 4) in order. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, size: number, dstOffset = 0): void {
    this.checkAlive('copy');
    if (size === 0) return;
    this.#endPass();
    this.#ensureEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
    if (++this.#dispatches >= this.batchSize) this.flush();
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.#encoder) return;
    this.#endPass();
    if (this.#arenaUsed) this.device.queue.writeBuffer(this.#arena, 0, this.#arenaCpu.buffer, 0, this.#arenaUsed);
    this.hook?.beforeSubmit(this.#encoder);
    this.device.queue.submit([this.#encoder.finish()]);
    this.submits++;
    this.hook?.afterSubmit();
    this.#encoder = null;
    this.#dispatches = 0;
    this.#arenaUsed = 0;
    for (const s of this.#staging) s.destroy(); // Dawn keeps it alive until the copy has run
    this.#staging = [];
  }

  /** Resolves when all submitted work is done; rejects with XpuDeviceError if the device is lost. */
  async synchronize(): Promise<void> {
    this.checkAlive('synchronize');
    this.flush();
    await Promise.race([this.device.queue.onSubmittedWorkDone(), this.#lost]);
    this.#raiseDeviceErrors('synchronize');
  }

  /** Reads `bytes` from the start of `src` after all pending work. */
  async read(src: GPUBuffer, bytes: number, op = 'read'): Promise<ArrayBuffer> {
    this.checkAlive(op);
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.#endPass();
    this.#ensureEncoder().copyBufferToBuffer(src, 0, staging, 0, size);
    this.flush();
    try {
      await Promise.race([staging.mapAsync(GPUMapMode.READ), this.#lost]);
    } catch (e) {
      staging.destroy();
      if (e instanceof XpuDeviceError) throw this.lostError(op);
      if (this.#lostReason !== null) throw this.lostError(op);
      throw new XpuDeviceError('reading GPU memory failed', { op, got: (e as Error).message });
    }
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    this.#raiseDeviceErrors(op);
    return out;
  }
}
