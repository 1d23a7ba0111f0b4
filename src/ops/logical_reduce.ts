import { numel } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { copyAs, tensorArg } from './common.js';
import { full } from './creation.js';
import { ne } from './math.js';
import { keepdimValue, max, min, reducedDims, type Dims, type KeepdimArg } from './reduce.js';

/**
 * any / all over dims (all dims by default): whether any / every element is nonzero (NaN counts
 * as nonzero, as torch's bool(x)). bool results, except uint8 in, uint8 out (torch's rule).
 * A max / min reduction of the bool tensor x != 0; an empty reduction gives false / true.
 */

/** Whether the reduced part is empty (and the output is not): max/min have no identity there. */
export function emptyReduction(x: Tensor, dims: number[]): boolean {
  return numel(dims.map((d) => x.shape[d])) === 0;
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
