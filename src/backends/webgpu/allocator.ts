import { XpuOutOfMemoryError } from '../../errors.js';
import type { Storage } from '../backend.js';
import { settings } from '../../settings.js';

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
 * The word a poisoned block holds (XPU_POISON=1), by the dtype it is allocated for: a float32
 * NaN (0x7fc00000, also an implausible int32 / uint32), two float16 NaNs (0xffff each), and for
 * the byte dtypes 0xa5 in every byte (-91 / 165; not a valid bool).
 */
function poisonWord(itemsize: number, dtype: string | undefined): number {
  if (dtype === 'float16') return 0xffffffff;
  return itemsize === 1 ? 0xa5a5a5a5 : 0x7fc00000;
}

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
  #stats: MemoryStats = {
    allocatedBytes: 0,
    peakAllocatedBytes: 0,
    reservedBytes: 0,
    numAllocs: 0,
    numCacheHits: 0,
    numFrees: 0,
    activeBlocks: 0,
  };
  /** Pattern bytes per poison word, grown to the largest block poisoned so far. */
  readonly #patterns = new Map<number, Uint8Array>();
  /**
   * XPU_POISON=1 (a test mode): every block handed out, fresh or from the cache, is overwritten
   * whole (the size-class slack too) with NaN patterns before its new owner sees it, so a kernel
   * that reads memory it never wrote (padding, partial sums, the slack past a view) gives NaN
   * instead of zeros or a previous owner's values, which can hide the bug. A field, so a test
   * can switch it for one allocator. Off, it costs this one check per allocation.
   */
  poison = settings.XPU_POISON;

  /**
   * `upload` writes bytes at the start of a buffer in order with the commands already recorded
   * (CommandQueue.upload): a block from the cache may still be read by a recorded, unsubmitted
   * kernel of its previous owner, which a plain queue.writeBuffer would run before.
   */
  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
    private readonly maxBindingSize: number,
    private readonly upload?: (buffer: GPUBuffer, data: Uint8Array) => void,
  ) {}

  #poison(buffer: GPUBuffer, size: number, itemsize: number, dtype: string | undefined): void {
    const word = poisonWord(itemsize, dtype);
    let p = this.#patterns.get(word);
    if (!p || p.byteLength < size) {
      p = new Uint8Array(size);
      new Uint32Array(p.buffer).fill(word);
      this.#patterns.set(word, p);
    }
    const data = p.subarray(0, size);
    if (this.upload) this.upload(buffer, data);
    else this.device.queue.writeBuffer(buffer, 0, data.buffer, 0, size);
  }

  /** `dtype` (and its `itemsize`) only choose the poison pattern. */
  alloc(byteLength: number, op: string, dtype?: string, itemsize = 4): GpuStorage {
    if (byteLength > this.maxBindingSize || byteLength > this.maxBufferSize) {
      const limit = Math.min(this.maxBindingSize, this.maxBufferSize);
      throw new XpuOutOfMemoryError('allocation is above the device limits', {
        op,
        arg: 'size',
        expected: `at most ${limit} bytes per tensor (maxStorageBufferBindingSize/maxBufferSize of this adapter)`,
        got: `${byteLength} bytes`,
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
    if (this.poison) this.#poison(buffer, size, itemsize, dtype);
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
