import type { ScatterSpec } from '../row_specs.js';
import type { Storage } from '../operand.js';
import { castNumber, readHost, writeHost } from '../../tensor/dtype.js';
import { contiguousStrides, numel } from '../../tensor/shape.js';
import { StridedWalker } from './indexing.js';
import { CpuStorage } from './storage.js';

/**
 * The cpu twin of the scatter primitive (row_specs.ts): copy the input, then walk the index in
 * row-major order; 'none' writes (the last duplicate wins), 'add' adds in the dtype (float32 sums
 * round at each step, as torch's CPU scatter_add does). Indices out of range were refused by the
 * op before (XpuIndexError); they are skipped here.
 */
export function cpuScatter(spec: ScatterSpec): Storage {
  const { input, outShape, dtype, dim, index, indexShape, src } = spec;
  const out = CpuStorage.alloc(dtype, numel(outShape), spec.check.op);
  const o = out.data;
  const inData = (input.storage as CpuStorage).data;
  const copy = new StridedWalker(outShape, [input.strides], [input.offset]);
  for (let i = 0; i < o.length; i++, copy.next()) o[i] = inData[copy.e[0]]; // same dtype: raw elements (float16 bits)
  const total = numel(indexShape);
  if (total === 0) return out;
  const ost = contiguousStrides(outShape);
  const size = outShape[dim] ?? 1;
  const idx = (index.storage as CpuStorage).data;
  const srcData = src ? (src.storage as CpuStorage).data : undefined;
  const walker = new StridedWalker(indexShape, [index.strides, src?.strides ?? index.strides], [index.offset, src?.offset ?? 0]);
  for (let i = 0; i < total; i++, walker.next()) {
    const j = readHost(idx, index.dtype, walker.e[0]) | 0;
    if (j < 0 || j >= size) continue;
    let e = 0;
    for (let d = 0; d < indexShape.length; d++) e += (d === dim ? j : walker.coords[d]) * ost[d];
    const v = srcData ? readHost(srcData, dtype, walker.e[1]) : (spec.value ?? 0);
    if (spec.reduce === 'add') writeHost(o, dtype, e, castNumber(readHost(o, dtype, e) + v, dtype));
    else writeHost(o, dtype, e, castNumber(v, dtype));
  }
  return out;
}
