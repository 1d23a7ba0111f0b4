import type { DispatchHook } from '../backends/webgpu/queue.js';

const CAPACITY = 2048; // queries per batch (two per dispatch)

/**
 * GPU time per dispatch from timestamp queries written at the start and end of the dispatch's
 * compute pass. Queries are resolved into a buffer right before each submit and read back
 * asynchronously after it, so profiling adds one copy per batch and no waits.
 */
export class GpuTimer implements DispatchHook {
  readonly #querySet: GPUQuerySet;
  readonly #resolve: GPUBuffer;
  #next = 0;
  /** Callbacks receiving (startNs, endNs) for the dispatches of the open batch, in order. */
  #pending: ((startNs: number, endNs: number) => void)[] = [];
  #current: ((startNs: number, endNs: number) => void) | null = null;
  #readbacks: Promise<void>[] = [];
  #batch: { staging: GPUBuffer; sinks: ((s: number, e: number) => void)[] } | null = null;

  constructor(private readonly device: GPUDevice) {
    this.#querySet = device.createQuerySet({ type: 'timestamp', count: CAPACITY });
    this.#resolve = device.createBuffer({ size: CAPACITY * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  }

  /** The GPU times of every dispatch until the next expect() go to `sink` (null: to none). */
  expect(sink: ((startNs: number, endNs: number) => void) | null): void {
    this.#current = sink;
  }

  beginDispatch(): GPUComputePassTimestampWrites | undefined {
    if (!this.#current || this.#next + 2 > CAPACITY) return undefined;
    const writes = { querySet: this.#querySet, beginningOfPassWriteIndex: this.#next, endOfPassWriteIndex: this.#next + 1 };
    this.#next += 2;
    // The sink stays until expect(null): every dispatch of one primitive reports to it.
    this.#pending.push(this.#current);
    return writes;
  }

  endDispatch(): void {}

  beforeSubmit(encoder: GPUCommandEncoder): void {
    if (this.#next === 0) return;
    const bytes = this.#next * 8;
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.#querySet, 0, this.#next, this.#resolve, 0);
    encoder.copyBufferToBuffer(this.#resolve, 0, staging, 0, bytes);
    this.#batch = { staging, sinks: this.#pending };
    this.#pending = [];
    this.#next = 0;
  }

  afterSubmit(): void {
    const batch = this.#batch;
    if (!batch) return;
    this.#batch = null;
    this.#readbacks.push(
      batch.staging.mapAsync(GPUMapMode.READ).then(
        () => {
          const t = new BigUint64Array(batch.staging.getMappedRange());
          batch.sinks.forEach((sink, j) => sink(Number(t[2 * j]), Number(t[2 * j + 1])));
          batch.staging.unmap();
          batch.staging.destroy();
        },
        () => batch.staging.destroy(),
      ),
    );
  }

  /** Resolves once every submitted batch's timestamps have been delivered. */
  async drain(): Promise<void> {
    const all = this.#readbacks;
    this.#readbacks = [];
    await Promise.all(all);
  }

  destroy(): void {
    this.#querySet.destroy();
    this.#resolve.destroy();
  }
}
