import type { Storage } from '../backend.js';
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

  static alloc(dtype: DType, n: number): CpuStorage {
    return new CpuStorage(allocHost(dtype, n), dtype);
  }
}
