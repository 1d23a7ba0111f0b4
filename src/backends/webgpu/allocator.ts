import { XpuOutOfMemoryError } from '../../errors.js';
import type { Storage } from '../backend.js';

/** A GPU buffer holding a tensor's data; `byteLength` is what the data needs, `size` the block. */
export class GpuStorage implements Storage {
  constructor(
    readonly buffer: GPUBuffer,
    readonly byteLength: number,
    readonly size: number,
  ) {}
  released = false;
}

export interface MemoryStats {
  /** Bytes in blocks that live tensors hold. */
  allocatedBytes: number;
  /** Highest allocatedBytes seen since the last reset. */
  peakAllocatedBytes: number;
  /** allocatedBytes plus the bytes cached in free lists. */
  reservedBytes: number;
  /** GPU buffers created (cache misses). */
  numAllocs: number;
  /** Requests served from the cache. */
  numCacheHits: number;
  /** Blocks given back to the cache. */
  numFrees: number;
  /** Live blocks. */
  activeBlocks: number;
}

const MIN_BLOCK = 256;

/**
 * Rounds a request up to a size class: four classes per power of two (1, 1.25, 1.5, 1.75 x 2^k),
 * at least 256 bytes, so at most 25% is wasted and freed blocks are reused across near sizes.
 */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_BLOCK) return MIN_BLOCK;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = p / 4;
  return Math.ceil(bytes / step) * step;
}

/**
 * Size-bucketed caching allocator (the idea of PyTorch's caching allocator and ORT's bucket free
 * lists). Freed blocks go straight back to their free list: WebGPU executes commands in order, so
 * a later kernel that reuses a block runs after every earlier kernel that read it.
 */
export class CachingAllocator {
  readonly #free = new Map<number, GPUBuffer[]>();
  #stats: MemoryStats = { allocatedBytes: 0, peakAllocatedBytes: 0, reservedBytes: 0, numAllocs: 0, numCacheHits: 0, numFrees: 0, activeBlocks: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
    private readonly maxBindingSize: number,
  ) {}

  alloc(byteLength: number, op: string): GpuStorage {
    if (byteLength > this.maxBindingSize || byteLength > this.maxBufferSize) {
      const limit = Math.min(this.maxBindingSize, this.maxBufferSize);
      throw new XpuOutOfMemoryError('allocation is above the device limits', {
        op, arg: 'size', expected: `at most ${limit} bytes per tensor (maxStorageBufferBindingSize/maxBufferSize of this adapter)`, got: `${byteLength} bytes`,
      });
    }
    // Words are the unit of every kernel, so blocks are whole words.
    const need = Math.max(4, Math.ceil(byteLength / 4) * 4);
    let size = sizeClass(need);
    if (size > this.maxBufferSize) size = need;
    const list = this.#free.get(size);
    let buffer = list?.pop();
    if (buffer) this.#stats.numCacheHits++;
    else {
      buffer = this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      this.#stats.numAllocs++;
      this.#stats.reservedBytes += size;
    }
    const s = this.#stats;
    s.allocatedBytes += size;
    s.activeBlocks++;
    if (s.allocatedBytes > s.peakAllocatedBytes) s.peakAllocatedBytes = s.allocatedBytes;
    return new GpuStorage(buffer, need, size);
  }

  free(st: GpuStorage): void {
    if (st.released) return;
    st.released = true;
    let list = this.#free.get(st.size);
    if (!list) this.#free.set(st.size, (list = []));
    list.push(st.buffer);
    this.#stats.allocatedBytes -= st.size;
    this.#stats.activeBlocks--;
    this.#stats.numFrees++;
  }

  /** Destroys every cached block (torch.xpu.empty_cache). */
  emptyCache(): void {
    for (const list of this.#free.values()) {
      for (const b of list) {
        this.#stats.reservedBytes -= b.size;
        b.destroy();
      }
    }
    this.#free.clear();
  }

  stats(): MemoryStats {
    return { ...this.#stats };
  }

  resetPeak(): void {
    this.#stats.peakAllocatedBytes = this.#stats.allocatedBytes;
  }
}
