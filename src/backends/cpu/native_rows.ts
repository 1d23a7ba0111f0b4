import type { MapSpec, ReduceSpec, RowsSpec } from '../backend.js';
import { ROTARY_KERNEL } from '../rotary_kernel.js';
import { coalesce, numel } from '../../tensor/shape.js';
import type { HostArray } from '../../tensor/dtype.js';
import { giveBackHost } from './host_pool.js';
import { StridedWalker } from './indexing.js';
import { launchNativeJob, nativeCompute } from './native_jobs.js';
import type { NativeCompute } from './native.js';
import { ewPath, missingNative, runsInline, wantsNative } from './native_ew_path.js';
import { CpuStorage } from './storage.js';

/**
 * float32 row kernels through the addon (native/compute/rows.cc): the row ops, reductions of
 * rows and rotary, when every row is contiguous (stride 1) in the input, and for the row ops in
 * the output. Where each row starts is passed as an array of offsets, computed here by walking
 * the outer dims, so any outer layout (permuted, sliced) runs in place. The kernels compute what
 * rows.ts, reduce.ts and the rotary twin compute, in double (see rows.cc). Each returns null
 * when the addon does not take the case (the TypeScript paths run).
 */

type Arr = Float32Array | Float64Array | number | null | undefined;
type RowsCompute = NativeCompute & {
  rowOp?(...a: Arr[]): number;
  rowOpNow?(...a: Arr[]): void;
  reduceRows?(...a: Arr[]): number;
  reduceRowsNow?(...a: Arr[]): void;
  rotary?(...a: Arr[]): number;
  rotaryNow?(...a: Arr[]): void;
};

const ROW_OPS = { softmax: 0, logsoftmax: 1, layernorm: 2, rmsnorm: 3 } as const;
const REDUCE_OPS: Partial<Record<ReduceSpec['op'], number>> = { sum: 0, mean: 1, max: 2, min: 3 };

/** Start offsets of every row: the outer dims walked with their strides, one array per operand. */
function rowOffsets(outer: readonly number[], strides: readonly (readonly number[])[], offsets: readonly number[]): Float64Array[] {
  const rows = numel(outer);
  const out = strides.map(() => new Float64Array(rows));
  const walker = new StridedWalker(outer, strides, offsets);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < out.length; k++) out[k][r] = walker.e[k];
    walker.next();
  }
  return out;
}

function run(
  path: ReturnType<typeof ewPath>,
  op: string,
  out: CpuStorage,
  inputs: CpuStorage[],
  total: number,
  c: RowsCompute,
  name: 'rowOp' | 'reduceRows' | 'rotary',
  args: Arr[],
): CpuStorage | null {
  const queued = c[name];
  const now = c[`${name}Now`];
  if (!queued || !now) {
    giveBackHost(out.dtype, out.rawData as HostArray);
    return missingNative(path, op, 'the native addon has no row kernels');
  }
  const inline = runsInline(total, c.completed() === c.submitted());
  const refused = launchNativeJob(
    out,
    inputs,
    inline,
    () => now(...args),
    () => queued(...args),
  );
  if (refused !== null) {
    giveBackHost(out.dtype, out.rawData as HostArray);
    return missingNative(path, op, refused);
  }
  return out;
}

export function nativeRows(spec: RowsSpec): CpuStorage | null {
  const { input, shape, rowRank, outStrides } = spec;
  const total = numel(shape);
  const path = ewPath();
  if (input.dtype !== 'float32' || !wantsNative(path, total) || total === 0) return null;
  const k = shape.length - rowRank;
  const row = coalesce(shape.slice(k), [input.strides.slice(k), outStrides.slice(k)]);
  if (row.shape.length > 1 || (row.shape.length === 1 && (row.strides[0][0] !== 1 || row.strides[1][0] !== 1))) return null;
  const c = nativeCompute() as RowsCompute | null;
  if (!c) return missingNative(path, spec.op, 'the native addon is not loaded');
  const n = numel(shape.slice(k));
  const outer = shape.slice(0, k);
  const [xOff, yOff] = rowOffsets(outer, [input.strides.slice(0, k), outStrides.slice(0, k)], [input.offset, 0]);
  const out = CpuStorage.alloc('float32', total, spec.op, true);
  const st = [input, ...(spec.weight ? [spec.weight] : []), ...(spec.bias ? [spec.bias] : [])].map(
    (s) => ('storage' in s ? s.storage : s) as CpuStorage,
  );
  const w = spec.weight ? ((spec.weight as CpuStorage).rawData as Float32Array) : null;
  const b = spec.bias ? ((spec.bias as CpuStorage).rawData as Float32Array) : null;
  return run(path, spec.op, out, st, total, c, 'rowOp', [
    ROW_OPS[spec.op],
    numel(outer),
    n,
    out.rawData as Float32Array,
    yOff,
    (input.storage as CpuStorage).rawData as Float32Array,
    xOff,
    w,
    b,
    spec.eps,
  ]);
}

export function nativeReduce(spec: ReduceSpec): CpuStorage | null {
  const { input, shape, keptRank } = spec;
  const code = REDUCE_OPS[spec.op];
  const r = numel(shape.slice(keptRank));
  const total = numel(shape);
  const path = ewPath();
  if (
    code === undefined ||
    input.dtype !== 'float32' ||
    spec.outDtype !== 'float32' ||
    spec.accKind !== 'f32' ||
    total === 0 ||
    !wantsNative(path, total)
  )
    return null;
  const red = coalesce(shape.slice(keptRank), [input.strides.slice(keptRank)]);
  if (red.shape.length > 1 || (red.shape.length === 1 && red.strides[0][0] !== 1)) return null;
  const c = nativeCompute() as RowsCompute | null;
  if (!c) return missingNative(path, spec.op, 'the native addon is not loaded');
  const outer = shape.slice(0, keptRank);
  const [xOff] = rowOffsets(outer, [input.strides.slice(0, keptRank)], [input.offset]);
  const rows = numel(outer);
  const out = CpuStorage.alloc('float32', rows, spec.op, true);
  return run(path, spec.op, out, [input.storage as CpuStorage], total, c, 'reduceRows', [
    code,
    rows,
    r,
    out.rawData as Float32Array,
    (input.storage as CpuStorage).rawData as Float32Array,
    xOff,
  ]);
}

export function nativeRotary(spec: MapSpec): CpuStorage | null {
  if (spec.kernel !== ROTARY_KERNEL || spec.outDtype !== 'float32') return null;
  const total = numel(spec.outShape);
  const path = ewPath();
  const last = spec.outShape.length - 1;
  if (!wantsNative(path, total) || total === 0 || spec.inputs.some((op) => op.dtype !== 'float32' || op.strides[last] !== 1)) return null;
  const c = nativeCompute() as RowsCompute | null;
  if (!c) return missingNative(path, 'applyRotary', 'the native addon is not loaded');
  const outer = spec.outShape.slice(0, last);
  const offs = rowOffsets(
    outer,
    spec.inputs.map((op) => op.strides.slice(0, last)),
    spec.inputs.map((op) => op.offset),
  );
  const st = spec.inputs.map((op) => op.storage as CpuStorage);
  const out = CpuStorage.alloc('float32', total, 'applyRotary', true);
  const data = st.map((s) => s.rawData as Float32Array);
  return run(path, 'applyRotary', out, st, total, c, 'rotary', [
    numel(outer),
    spec.outShape[last],
    out.rawData as Float32Array,
    data[0],
    offs[0],
    data[1],
    offs[1],
    data[2],
    offs[2],
  ]);
}
