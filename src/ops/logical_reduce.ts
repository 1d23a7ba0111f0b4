import { XpuTypeError } from '../errors.js';
import { fmtValue } from '../format_value.js';
import { normalizeDims, numel } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { copyAs, tensorArg } from './common.js';
import { full } from './creation.js';
import { ne } from './math.js';
import { max, min, type Dims, type KeepdimArg } from './reduce.js';

/**
 * any / all over dims (all dims by default): whether any / every element is nonzero (NaN counts
 * as nonzero, as torch's bool(x)). bool results, except uint8 in, uint8 out (torch's rule).
 * A max / min reduction of the bool tensor x != 0; an empty reduction gives false / true.
 */

/** The dims reduce.ts will reduce (its own checks run again there with the same op name). */
export function reducedDims(op: string, x: Tensor, dim: Dims): number[] {
  if (dim === undefined || dim === null || (Array.isArray(dim) && dim.length === 0)) return x.shape.map((_, i) => i);
  if (typeof dim !== 'number' && !(Array.isArray(dim) && dim.every((d) => typeof d === 'number'))) {
    throw new XpuTypeError('dim must be a number or an array of numbers', { op, arg: 'dim', expected: 'a number, number[] or undefined', got: fmtValue(dim) });
  }
  return x.ndim === 0 ? (normalizeDims(op, dim, 0), []) : normalizeDims(op, dim, x.ndim);
}

/** Whether the reduced part is empty (and the output is not): max/min have no identity there. */
export function emptyReduction(x: Tensor, dims: number[]): boolean {
  return numel(dims.map((d) => x.shape[d])) === 0;
}

export function keepdimValue(op: string, keepdim: KeepdimArg): boolean {
  if (keepdim === undefined || typeof keepdim === 'boolean') return keepdim === true;
  if (typeof keepdim === 'object' && keepdim !== null && (keepdim.keepdim === undefined || typeof keepdim.keepdim === 'boolean')) return keepdim.keepdim === true;
  throw new XpuTypeError('keepdim must be a boolean', { op, arg: 'keepdim', expected: 'a boolean or { keepdim: boolean }', got: fmtValue(keepdim) });
}

/** The shape a reduction over `dims` gives. */
export function reducedShape(x: Tensor, dims: number[], keepdim: boolean): number[] {
  return keepdim ? x.shape.map((s, d) => (dims.includes(d) ? 1 : s)) : x.shape.filter((_, d) => !dims.includes(d));
}

function anyAll(op: 'any' | 'all', x: Tensor, dim: Dims, keepdim: KeepdimArg): Tensor {
  tensorArg(op, 'input', x);
  const dims = reducedDims(op, x, dim);
  const kd = keepdimValue(op, keepdim);
  const outDtype = x.dtype === 'uint8' ? 'uint8' : 'bool';
  if (emptyReduction(x, dims)) return full(reducedShape(x, dims, kd), op === 'all' ? 1 : 0, { dtype: outDtype, device: x.device });
  const b = x.dtype === 'bool' ? x : ne(x, 0);
  const r = (op === 'any' ? max : min)(b, dim, kd);
  if (b !== x) b.dispose();
  if (outDtype === 'bool') return r;
  const cast = copyAs(op, r, outDtype);
  r.dispose();
  return cast;
}

/** Whether any element over `dim` is nonzero (torch.any). */
export const any = (x: Tensor, dim?: Dims, keepdim?: KeepdimArg): Tensor => anyAll('any', x, dim, keepdim);
/** Whether every element over `dim` is nonzero (torch.all). */
export const all = (x: Tensor, dim?: Dims, keepdim?: KeepdimArg): Tensor => anyAll('all', x, dim, keepdim);
