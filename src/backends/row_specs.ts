import type { ComputeKind, DType } from '../tensor/dtype.js';
import type { Operand } from './operand.js';

/**
 * The specs of three small primitives (issue 15) that map / reduce / rows cannot express
 * without quadratic work: an inclusive scan along rows (cumsum, cumprod), a stable sort of rows
 * (sort, argsort, topk, randperm, multinomial) and scatter with assignment or addition (scatter,
 * scatterAdd, oneHot's sibling ops). Each runs in its own launcher on both devices
 * (cpu/scan_sort.ts, cpu/scatter.ts; webgpu/scan.ts, webgpu/sort.ts, webgpu/scatter.ts).
 */

/**
 * Inclusive scan along the last dim of `shape`, a permuted strided view of the input: every
 * other dim is a row index. The output is fresh storage of numel(shape) elements of outDtype,
 * element (row, j) stored at the offset `outStrides` give it (so a scan over a middle dim is
 * written in the input's own layout, as RowsSpec does).
 */
export interface ScanSpec {
  op: 'sum' | 'prod';
  input: Operand;
  shape: number[];
  /** Kind values load and accumulate in (f32 for floats; integer sums wrap in i32 / u32). */
  accKind: ComputeKind;
  /** The 32-bit dtype of accKind: the op casts to narrower dtypes afterwards. */
  outDtype: DType;
  outStrides: number[];
}

/**
 * A stable sort of each row (the last dim of `shape`): the output is int32 positions along the
 * row in sorted order, laid out by `outStrides` like ScanSpec. NaN sorts as the largest value and
 * -0 equals 0 (torch's order); equal values keep their order in both directions.
 */
export interface SortSpec {
  input: Operand;
  shape: number[];
  descending: boolean;
  outStrides: number[];
}

/**
 * A contiguous copy of `input` (over outShape, in dtype) with, for every element c of the index
 * tensor, out[c with c[dim] = index[c]] set to (or, reduce 'add', incremented by) src[c] or
 * `value`. Indices outside [0, outShape[dim]) are skipped by the kernels: the cpu op throws
 * before, the xpu kernel raises a device-side assert named by `check` (asserts.ts). Duplicate
 * indices: 'add' sums every contribution; 'none' keeps one of them (which one is unspecified, as
 * torch documents).
 */
export interface ScatterSpec {
  input: Operand;
  outShape: number[];
  dtype: DType;
  dim: number;
  /** Strides over indexShape; loaded as i32. */
  index: Operand;
  indexShape: number[];
  /** Strides over indexShape, in dtype; absent: `value` everywhere. */
  src?: Operand;
  /** The fill of a scalar scatter, already cast to dtype. */
  value?: number;
  reduce: 'none' | 'add';
  check: { op: string; arg: string };
}
