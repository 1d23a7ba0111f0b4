import type { RowsSpec } from '../backend.js';
import { coalesce, numel } from '../../tensor/shape.js';
import { loadRow } from './host_rows.js';
import { StridedWalker } from './indexing.js';
import { rowOpInto } from './rows.js';
import type { CpuStorage } from './storage.js';

/**
 * The cpu row ops (softmax, logSoftmax, layerNorm, rmsNorm) when each row is one run at a fixed
 * stride in the input and in the output (the row's dims merge: a contiguous last dim, or one
 * strided dim): a row is loaded into float64 with one loop (host_rows.ts), normalised by rows.ts
 * and written straight into the output, instead of the generic walker's steps per element and a
 * fresh row array per row. Returns false when the row's dims do not merge.
 */
export function fastRows(spec: RowsSpec, out: CpuStorage): boolean {
  const { input, shape, rowRank, outStrides } = spec;
  const k = shape.length - rowRank;
  const n = numel(shape.slice(k));
  const row = coalesce(shape.slice(k), [input.strides.slice(k), outStrides.slice(k)]);
  if (row.shape.length > 1 || n === 0) return false;
  const inStride = row.shape.length ? row.strides[0][0] : 1;
  const outStride = row.shape.length ? row.strides[1][0] : 1;
  const outer = shape.slice(0, k);
  const rows = numel(outer);
  const walker = new StridedWalker(outer, [input.strides.slice(0, k), outStrides.slice(0, k)], [input.offset, 0]);
  const src = (input.storage as CpuStorage).data;
  const dst = out.data as Float32Array;
  const weight = spec.weight ? ((spec.weight as CpuStorage).data as Float32Array) : undefined;
  const bias = spec.bias ? ((spec.bias as CpuStorage).data as Float32Array) : undefined;
  const x = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    loadRow(x, src, input.dtype, walker.e[0], inStride, n);
    rowOpInto(spec.op, x, spec.eps, weight, bias, dst, walker.e[1], outStride);
    walker.next();
  }
  return true;
}
