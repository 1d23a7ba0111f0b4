import type { Storage } from '../backend.js';
import { XpuOutOfMemoryError } from '../../errors.js';
import { takeHost } from './host_pool.js';
import { allocHost, dtypeInfo, type DType, type HostArray } from '../../tensor/dtype.js';

/** CPU storage is a typed array (float16 as raw bits). */
export class CpuStorage implements Storage {
  constructor(
    readonly data: HostArray,
    readonly dtype: DType,
  ) {}

  get byteLength(): number {
    return this.data.length * dtypeInfo(this.dtype).itemsize;
  }

  static alloc(dtype: DType, n: number, op = 'alloc'): CpuStorage {
    try {
      return new CpuStorage(takeHost(dtype, n), dtype);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      throw new XpuOutOfMemoryError('allocation failed on cpu', { op, arg: 'size', expected: 'a size the JS heap can hold (TypedArray limits)', got: `${n} elements of ${dtype}` });
    }
  }
}
