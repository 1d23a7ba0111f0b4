import type { DeviceLike } from '../../device/device.js';
import { data, item, to, toArray, toAsync, type DataArray, type DataArrayOf, type NestedArray } from '../../ops/transfer.js';
import type { DType } from '../dtype.js';
import { Tensor } from '../tensor.js';

type Target = DeviceLike | DType | { device?: DeviceLike; dtype?: DType };

declare module '../tensor.js' {
  interface Tensor {
    /** Row-major elements in a TypedArray (float16 widened to Float32Array). */
    data(): Promise<DataArray>;
    /** The same, typed as `dtype`'s array; `dtype` must be this tensor's (XpuDTypeError otherwise). */
    data<D extends DType>(dtype: D): Promise<DataArrayOf<D>>;
    /** Nested arrays (booleans for bool tensors). */
    toArray(): Promise<NestedArray>;
    /** The single element as a number (boolean for bool). */
    item(): Promise<number | boolean>;
    /** Cast and/or move (cpu -> xpu eagerly; xpu -> cpu needs toAsync()/cpu()). */
    to(target: Target): Tensor;
    toAsync(target: Target): Promise<Tensor>;
    /** A copy on cpu (awaits the read-back from a GPU). */
    cpu(): Promise<Tensor>;
  }
}

Tensor.prototype.data = function (this: Tensor, dtype?: DType) {
  return dtype === undefined ? data(this) : data(this, dtype);
} as Tensor['data'];
Tensor.prototype.toArray = function () {
  return toArray(this);
};
Tensor.prototype.item = function () {
  return item(this);
};
Tensor.prototype.to = function (target: Target) {
  return to(this, target);
};
Tensor.prototype.toAsync = function (target: Target) {
  return toAsync(this, target);
};
Tensor.prototype.cpu = function () {
  return toAsync(this, 'cpu');
};
