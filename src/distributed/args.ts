import { XpuDTypeError, XpuShapeError, XpuValueError } from '../errors.js';
import { tensorArg } from '../ops/common.js';
import type { Tensor } from '../tensor/tensor.js';
import { DTYPE_CODE, isDistDType, OP_CODE, REDUCE_OPS, type ReduceOp } from './native.js';

/** Argument checks shared by the collectives; each throws the typed error naming op and argument. */

export function dtypeCode(op: string, arg: string, t: Tensor): number {
  tensorArg(op, arg, t);
  if (!isDistDType(t.dtype)) {
    throw new XpuDTypeError('dtype not supported by collectives', { op, arg, expected: Object.keys(DTYPE_CODE).join(' | '), got: t.dtype });
  }
  return DTYPE_CODE[t.dtype];
}

export function opCode(op: string, red: unknown): number {
  if (typeof red !== 'string' || !(REDUCE_OPS as readonly string[]).includes(red)) {
    throw new XpuValueError('unknown reduction', { op, arg: 'op', expected: REDUCE_OPS.join(' | '), got: String(red) });
  }
  return OP_CODE[red as ReduceOp];
}

/** Rows along dim 0 and elements per row; a 0-d tensor counts as one row of one element. */
export function rowsOf(t: Tensor): { rows: number; rowSize: number; rest: number[] } {
  if (t.ndim === 0) return { rows: 1, rowSize: 1, rest: [] };
  const rest = t.shape.slice(1);
  return { rows: t.shape[0], rowSize: rest.reduce((a, b) => a * b, 1), rest };
}

/** torch.tensor_split's sizes: `rows` into `n` parts, the first rows % n one larger. */
export function evenSplits(rows: number, n: number): number[] {
  const base = Math.floor(rows / n);
  const extra = rows % n;
  return Array.from({ length: n }, (_, i) => base + (i < extra ? 1 : 0));
}

export function checkSplits(op: string, arg: string, splits: readonly number[], n: number, rows?: number): number[] {
  if (!Array.isArray(splits) || splits.length !== n || !splits.every((s) => Number.isInteger(s) && s >= 0)) {
    throw new XpuValueError('split sizes must be one non-negative integer per rank', {
      op,
      arg,
      expected: `${n} integers >= 0`,
      got: JSON.stringify(splits),
    });
  }
  const total = splits.reduce((a, b) => a + b, 0);
  if (rows !== undefined && total !== rows) {
    throw new XpuShapeError('split sizes do not add up to the rows along dim 0', {
      op,
      arg,
      expected: `a sum of ${rows}`,
      got: `[${splits.join(', ')}] (sum ${total})`,
    });
  }
  return splits.slice();
}

export function checkOutput(op: string, out: Tensor, dtype: string, shape: readonly number[]): void {
  out.check(op, 'output');
  if (out.dtype !== dtype)
    throw new XpuDTypeError('output dtype differs from the input', { op, arg: 'output', expected: dtype, got: out.dtype });
  const want = shape.reduce((a, b) => a * b, 1);
  if (out.numel !== want) {
    throw new XpuShapeError('output has the wrong number of elements', {
      op,
      arg: 'output',
      expected: `${want} elements ([${shape.join(', ')}])`,
      got: `[${out.shape.join(', ')}]`,
    });
  }
}

export function checkTag(op: string, tag: number): number {
  if (!Number.isInteger(tag) || tag < 0 || tag >= 1 << 20)
    throw new XpuValueError('tag out of range', { op, arg: 'tag', expected: 'an integer in [0, 2^20)', got: String(tag) });
  return tag;
}
