import { chunk, flip, repeat, roll, split, tile } from '../../ops/shape_ops.js';
import { Tensor } from '../tensor.js';

declare module '../tensor.js' {
  interface Tensor {
    /** Views along `dim` of splitSize each, or of the given sizes (torch.split). */
    split(splitSizeOrSections: number | number[], dim?: number): Tensor[];
    /** At most `chunks` views along `dim` (torch.chunk). */
    chunk(chunks: number, dim?: number): Tensor[];
    /** Repeated along each dim; x.repeat(2, 3) or x.repeat([2, 3]). */
    repeat(...repeats: number[] | [number[]]): Tensor;
    tile(...dims: number[] | [number[]]): Tensor;
    flip(...dims: number[] | [number[]]): Tensor;
    roll(shifts: number | number[], dims?: number | number[]): Tensor;
  }
}

/** Accepts both x.repeat(2, 3) and x.repeat([2, 3]). */
const listArg = (a: number[] | [number[]]): number[] => (Array.isArray(a[0]) ? (a[0] as number[]) : (a as number[]));

const P = Tensor.prototype;
P.split = function (s, dim) {
  return split(this, s, dim);
};
P.chunk = function (c, dim) {
  return chunk(this, c, dim);
};
P.repeat = function (...r) {
  return repeat(this, listArg(r));
};
P.tile = function (...d) {
  return tile(this, listArg(d));
};
P.flip = function (...d) {
  return flip(this, listArg(d));
};
P.roll = function (shifts, dims) {
  return roll(this, shifts, dims);
};
