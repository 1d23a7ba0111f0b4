import { XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';
import { contiguousStrides, intArg, normalizeDim } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { copyAs, tensorArg, wrap } from './common.js';
import { full } from './creation.js';
import { gather } from './structural.js';
import { narrow } from './views.js';
import { track } from '../autograd/record.js';

/**
 * sort / argsort / topk: the sort primitive (row_specs.ts: a stable sort of rows, NaN largest,
 * -0 equal to 0, giving int32 positions) along `dim`, and the values gathered by those
 * positions. Always stable, in both directions (torch's stable=True; its default unstable sort
 * may order ties differently). Indices are int32 (torch: int64).
 */

export interface SortResult {
  values: Tensor;
  indices: Tensor;
}

function boolArg(op: string, arg: string, x: unknown): boolean {
  if (typeof x !== 'boolean') throw new XpuTypeError('must be a boolean', { op, arg, expected: 'boolean', got: typeName(x) });
  return x;
}

/** The int32 positions that sort x along dim d, in x's shape (contiguous). */
function sortIndices(op: string, x: Tensor, d: number, descending: boolean): Tensor {
  if (x.ndim === 0) return full([], 0, { dtype: 'int32', device: x.device });
  const order = [...x.shape.map((_, i) => i).filter((i) => i !== d), d];
  const outStrides = contiguousStrides(x.shape);
  const storage = x.device.backend.sort({
    input: { storage: x.ref.storage, dtype: x.dtype, strides: order.map((i) => x.strides[i]), offset: x.offset },
    shape: order.map((i) => x.shape[i]),
    descending,
    outStrides: order.map((i) => outStrides[i]),
  });
  void op;
  return wrap(x.device, storage, x.shape, 'int32');
}

function gatherAlong(x: Tensor, d: number, indices: Tensor): Tensor {
  return x.ndim === 0 ? track('alias', x, copyAs('sort', x)) : gather(x, d, indices);
}

/** x sorted along `dim` (default -1), ascending unless `descending`: { values, indices }. */
export function sort(x: Tensor, dim = -1, descending = false): SortResult {
  const op = 'sort';
  tensorArg(op, 'input', x);
  const d = normalizeDim(op, dim, x.ndim);
  const indices = sortIndices(op, x, d, boolArg(op, 'descending', descending));
  return { values: gatherAlong(x, d, indices), indices };
}

/** The int32 positions that sort x along `dim` (torch.argsort). */
export function argsort(x: Tensor, dim = -1, descending = false): Tensor {
  const op = 'argsort';
  tensorArg(op, 'input', x);
  return sortIndices(op, x, normalizeDim(op, dim, x.ndim), boolArg(op, 'descending', descending));
}

export interface TopkOptions {
  /** Default -1. */
  dim?: number;
  /** The k largest (default) or smallest. */
  largest?: boolean;
  /** Accepted for torch's signature; results are always sorted (largest first, or smallest first). */
  sorted?: boolean;
}

/**
 * The k largest (or smallest) elements along `dim`, sorted, with their int32 positions: a full
 * stable sort of each row, then its first k (ties keep their order, so the earliest win).
 */
export function topk(x: Tensor, k: number, options: TopkOptions = {}): SortResult {
  const op = 'topk';
  tensorArg(op, 'input', x);
  if (typeof options !== 'object' || options === null)
    throw new XpuTypeError('options must be an object', {
      op,
      arg: 'options',
      expected: '{ dim?, largest?, sorted? }',
      got: typeName(options),
    });
  const d = normalizeDim(op, options.dim ?? -1, x.ndim);
  const largest = boolArg(op, 'largest', options.largest ?? true);
  if (options.sorted !== undefined) boolArg(op, 'sorted', options.sorted);
  const size = x.ndim === 0 ? 1 : x.shape[d];
  intArg(op, 'k', k, { min: 0, max: size, rangeError: XpuValueError, expected: `k in [0, ${size}] (the size of dim ${d})` });
  const all = sortIndices(op, x, d, largest);
  if (x.ndim === 0 || k === size) return { values: gatherAlong(x, d, all), indices: all };
  const first = narrow(all, d, 0, k);
  const indices = copyAs(op, first);
  first.dispose();
  all.dispose();
  return { values: gather(x, d, indices), indices };
}
