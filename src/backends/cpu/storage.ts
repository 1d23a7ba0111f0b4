import type { Storage } from '../backend.js';
import { XpuOutOfMemoryError } from '../../errors.js';
import { takeHost } from './host_pool.js';
import { settleSync } from './native_jobs.js';
import { dtypeInfo, type DType, type HostArray } from '../../tensor/dtype.js';

/**
 * CPU storage is a typed array (float16 as raw bits).
 *
 * A storage may be in use by a job on the native compute queue (the native GEMM runs on a worker
 * thread, see native_jobs.ts): `writer` is the job that fills it, `lastUse` the latest job that
 * reads or writes it (0 when none). `data` waits for both, so every synchronous consumer sees
 * finished data and never writes under a running job; `rawData` does not wait, for code that is
 * itself queued behind those jobs (the next native GEMM) or that only needs the array's identity.
 */
export class CpuStorage implements Storage {
  writer = 0;
  lastUse = 0;
  /** Set when the job that wrote this storage failed: reading it throws. */
  failed: string | null = null;
  private readonly raw: HostArray;

  constructor(
    data: HostArray,
    readonly dtype: DType,
  ) {
    this.raw = data;
  }

  get data(): HostArray {
    if (this.lastUse !== 0 || this.failed !== null) settleSync(this);
    return this.raw;
  }

  get rawData(): HostArray {
    return this.raw;
  }

  get byteLength(): number {
    return this.raw.length * dtypeInfo(this.dtype).itemsize;
  }

  /**
   * A fresh storage (its contents undefined). `nativeWriter`: the caller writes it first with a
   * native job through launchNativeJob, so the pool may hand it an array a queued job still uses
   * (host_pool.ts).
   */
  static alloc(dtype: DType, n: number, op = 'alloc', nativeWriter = false): CpuStorage {
    try {
      return new CpuStorage(takeHost(dtype, n, nativeWriter), dtype);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      throw new XpuOutOfMemoryError('allocation failed on cpu', {
        op,
        arg: 'size',
        expected: 'a size the JS heap can hold (TypedArray limits)',
        got: `${n} elements of ${dtype}`,
      });
    }
  }
}
