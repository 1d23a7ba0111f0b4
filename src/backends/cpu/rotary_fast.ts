import type { MapSpec } from '../backend.js';
import { ROTARY_KERNEL, rotateHalf, rotateHalfRowF32 } from '../rotary_kernel.js';
import { numel } from '../../tensor/shape.js';
import type { HostArray } from '../../tensor/dtype.js';
import { loadRow, storeRow } from './host_rows.js';
import { StridedWalker } from './indexing.js';
import type { CpuStorage } from './storage.js';

/**
 * applyRotary (src/ops/rotary.ts) on cpu a row of the last dim at a time: x, cos and sin rows
 * loaded once each into float64 (host_rows.ts: one loop per dtype, any strides and broadcasts),
 * both halves rotated through the kernel's own rotateHalf, the row stored in x's dtype. The
 * generic map walked coordinates and called the kernel's closure, with a partner load through
 * strides, per element. Returns false for any other kernel.
 */
export function fastRotary(spec: MapSpec, out: HostArray): boolean {
  if (spec.kernel !== ROTARY_KERNEL) return false;
  const [x, cos, sin] = spec.inputs;
  const shape = spec.outShape;
  const last = shape.length - 1;
  const d = shape[last];
  const h = d / 2;
  const outer = shape.slice(0, last);
  const rows = numel(outer);
  const walker = new StridedWalker(
    outer,
    [x, cos, sin].map((op) => op.strides.slice(0, last)),
    [x.offset, cos.offset, sin.offset],
  );
  const data = [x, cos, sin].map((op) => (op.storage as CpuStorage).data);
  if (
    x.dtype === 'float32' &&
    cos.dtype === 'float32' &&
    sin.dtype === 'float32' &&
    spec.outDtype === 'float32' &&
    x.strides[last] === 1 &&
    cos.strides[last] === 1 &&
    sin.strides[last] === 1
  ) {
    rotaryF32(walker, rows, h, data as Float32Array[], out as Float32Array);
    return true;
  }
  const xs = new Float64Array(d);
  const cs = new Float64Array(d);
  const ss = new Float64Array(d);
  const y = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    loadRow(xs, data[0], x.dtype, walker.e[0], x.strides[last], d);
    loadRow(cs, data[1], cos.dtype, walker.e[1], cos.strides[last], d);
    loadRow(ss, data[2], sin.dtype, walker.e[2], sin.strides[last], d);
    for (let j = 0; j < h; j++) {
      y[j] = rotateHalf(xs[j], xs[j + h], cs[j], ss[j], true);
      y[j + h] = rotateHalf(xs[j + h], xs[j], cs[j + h], ss[j + h], false);
    }
    storeRow(out, spec.outDtype, r * d, 1, y, d);
    walker.next();
  }
  return true;
}

/**
 * The all-float32, unit-stride case (q and k of a decode step, with table rows): the same
 * arithmetic (float64 from float32 values, rounded once by the store) straight from and into the
 * arrays, without the float64 row copies. A decode step runs it twice per layer on a handful of
 * rows, where the copies and their allocations were most of the time.
 */
function rotaryF32(walker: StridedWalker, rows: number, h: number, [xd, cd, sd]: Float32Array[], out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const e = walker.e;
    rotateHalfRowF32(xd, e[0], cd, e[1], sd, e[2], h, out, r * 2 * h);
    walker.next();
  }
}
