import type { DType } from '../tensor/dtype.js';

/**
 * The leaf types of the backend contract (backend.ts re-exports them): a storage and an operand
 * as kernels read it. Their own module, so that the primitive specs beside backend.ts
 * (attention_spec.ts) do not import the contract that imports them.
 */

/** Device memory owned by a backend. Tensors share it through a reference count (views). */
export interface Storage {
  /** Bytes the data needs (numel * itemsize, as stored). */
  readonly byteLength: number;
}

/** An input operand as a kernel reads it: strides are given in the output's coordinate space. */
export interface Operand {
  storage: Storage;
  dtype: DType;
  /** One stride per output dim (0 where broadcast). */
  strides: number[];
  /** Element offset; may be negative when strides are shifted (cat), never read out of range. */
  offset: number;
}
