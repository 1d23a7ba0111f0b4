import { StridedWalker } from '../backends/cpu/indexing.js';
import { XpuValueError } from '../errors.js';
import { castNumber, isFloating, readHost, type DType, type HostArray } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * Integer floorDivide / remainder / fmod by zero is an error in torch (ZeroDivisionError on
 * CPU). A scalar divisor is checked on both devices; a cpu tensor divisor is read now. An xpu
 * divisor cannot be read without an await: there the kernels give 0 for a zero divisor
 * (documented in README's differences from PyTorch).
 */
export function checkIntegerDivisor(op: string, divisor: Tensor | number | boolean, dtype: DType): void {
  if (isFloating(dtype)) return;
  const fail = (where: string): never => {
    throw new XpuValueError('integer division by zero (ZeroDivisionError in torch)', {
      op,
      arg: 'other',
      expected: 'a divisor without zeros (or a float dtype)',
      got: where,
    });
  };
  if (!(divisor instanceof Tensor)) {
    if (castNumber(Number(divisor), dtype) === 0) fail(String(divisor));
    return;
  }
  if (divisor.device.type !== 'cpu') return;
  const data = (divisor.ref.storage as unknown as { data: HostArray }).data;
  const walker = new StridedWalker(divisor.shape, [divisor.strides], [divisor.offset]);
  for (let i = 0; i < divisor.numel; i++, walker.next()) {
    // A float divisor only reaches an integer op as a 0-d tensor, cast (truncated) first.
    if (castNumber(readHost(data, divisor.dtype, walker.e[0]), dtype) === 0) fail(`0 at position ${i}`);
  }
}
