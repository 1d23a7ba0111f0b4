import type { MapKernel, MapSpec, ReduceSpec, Storage } from '../backend.js';
import type { ComputeKind, DType } from '../../tensor/dtype.js';
import { XpuValueError } from '../../errors.js';
import { coalesce, fmtShape, numel } from '../../tensor/shape.js';

/**
 * Long reductions in levels. kernels/reduce.wgsl runs a team of lanes per output, its invocations
 * striding over the reduced elements with u32 counters and i32 offsets, each accumulating its
 * share one value after another. Fed more than 2^32 elements (an expanded view:
 * ones([1]).expand([65536, 65537]).sum()) the count wrapped in the u32 uniform and the sum came
 * out as 65536; and long before that the per-invocation f32 sums go wrong: past 2^24 values an
 * invocation's sum of ones stops growing (a sum of 2^31 ones gave 2^30), and the rounding error
 * of any sum grows with the count. One workgroup per output also left all but one core idle.
 *
 * So a sum, prod, max, min or mean over more than REDUCE_CHUNK elements per output runs as a
 * reduction of at most REDUCE_CHUNK elements per partial, then a reduction of the partials
 * (again in levels if there are more than REDUCE_CHUNK of them). The reduced dims are cut where
 * the trailing ones reach REDUCE_CHUNK: that dim d becomes [d / c, c] (c * trailing <=
 * REDUCE_CHUNK), and the d % c left over are one more reduction, combined with the rest by an
 * elementwise op. Each partial needs the same op again (sum of sums, max of maxima), so mean is
 * a sum divided once at the end. var (two passes over the same elements), argmax and argmin
 * (int32 indices) run in one launch up to REDUCE_MAX elements and throw XpuValueError above it.
 */

/**
 * Most elements one launch reduces per output: 2^14 per invocation of 64, so an invocation's f32
 * sum stays within a few 1e-6 of the exact one (2^24 gave 5e-5 on 16M values near 1.5).
 */
export const REDUCE_CHUNK = 2 ** 20;
/** Most elements the kernel can index per output (u32 counters, i32 element offsets). */
export const REDUCE_MAX = 2 ** 31 - 1;

/** What the levels need from the backend: the one-launch reduce, map, release. */
export interface ReduceHost {
  map(spec: MapSpec): Storage;
  release(storage: Storage): void;
}

const ACC_DTYPE: Record<ComputeKind, DType> = { f32: 'float32', i32: 'int32', u32: 'uint32' };

/** The elementwise combination of two partial results of `op`, per accumulation kind. */
function combineKernel(op: 'sum' | 'prod' | 'max' | 'min', kind: ComputeKind): MapKernel {
  const wrap = (v: number): number => (kind === 'i32' ? v | 0 : kind === 'u32' ? v >>> 0 : Math.fround(v));
  const nanMax = (a: number, b: number): number => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b));
  const nanMin = (a: number, b: number): number => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b));
  const bodies = {
    sum: { wgsl: 'return x0 + x1;', js: (x: number[]) => wrap(x[0] + x[1]) },
    prod: { wgsl: 'return x0 * x1;', js: (x: number[]) => (kind === 'f32' ? Math.fround(x[0] * x[1]) : wrap(Math.imul(x[0], x[1]))) },
    // NaN wins, as in the kernel (and PyTorch); max_f32 / min_f32 are kernels/common/math.wgsl's.
    max: { wgsl: kind === 'f32' ? 'return max_f32(x0, x1);' : 'return max(x0, x1);', js: (x: number[]) => nanMax(x[0], x[1]) },
    min: { wgsl: kind === 'f32' ? 'return min_f32(x0, x1);' : 'return min(x0, x1);', js: (x: number[]) => nanMin(x[0], x[1]) },
  };
  return { name: `reduce_levels_${op}_${kind}`, ...bodies[op] };
}

const DIVIDE: MapKernel = { name: 'reduce_levels_mean', wgsl: 'return x0 / sf(0u);', js: (x, ctx) => Math.fround(x[0] / ctx.scalars[0]) };

const flat = (storage: Storage, dtype: DType): ReduceSpec['input'] => ({ storage, dtype, strides: [1], offset: 0 });

/**
 * The reduction of `spec`, by `once` (one launch of the kernel) where that is exact and within
 * the kernel's range, in levels otherwise (see above).
 */
export function reduceInLevels(host: ReduceHost, spec: ReduceSpec, once: (spec: ReduceSpec) => Storage): Storage {
  const rows = numel(spec.shape.slice(0, spec.keptRank));
  const n = numel(spec.shape.slice(spec.keptRank));
  if (n <= REDUCE_CHUNK || rows === 0) return once(spec);
  if (spec.op === 'var' || spec.op === 'argmax' || spec.op === 'argmin') {
    if (n > REDUCE_MAX) {
      throw new XpuValueError(`${spec.op} over more than 2^31 - 1 elements per result is not supported on xpu`, {
        op: spec.op,
        arg: 'input',
        expected: `at most ${REDUCE_MAX} reduced elements per result (reduce in steps, e.g. over fewer dims first)`,
        got: `${n} (reduced dims ${fmtShape(spec.shape.slice(spec.keptRank))})`,
      });
    }
    return once(spec);
  }
  if (spec.op === 'mean') {
    const total = reduceInLevels(host, { ...spec, op: 'sum' }, once);
    const out = host.map({
      kernel: DIVIDE,
      inputs: [flat(total, spec.outDtype)],
      outShape: [rows],
      outDtype: spec.outDtype,
      argKind: 'f32',
      scalars: [{ kind: 'f32', value: n }],
    });
    host.release(total);
    return out;
  }
  const op = spec.op;
  const kept = coalesce(spec.shape.slice(0, spec.keptRank), [spec.input.strides.slice(0, spec.keptRank)]);
  const red = coalesce(spec.shape.slice(spec.keptRank), [spec.input.strides.slice(spec.keptRank)]);
  const [dims, strides] = [red.shape, red.strides[0]];
  // Cut dim j: the dims after it hold `inner` <= REDUCE_CHUNK elements, with dim j more than that.
  let j = dims.length - 1;
  let inner = 1;
  while (inner * dims[j] <= REDUCE_CHUNK) inner *= dims[j--];
  const c = Math.floor(REDUCE_CHUNK / inner);
  const q = Math.floor(dims[j] / c);
  const rest = dims[j] - q * c;
  const outer = numel(dims.slice(0, j));
  const partialDtype = ACC_DTYPE[spec.accKind];
  // Level 1: the dims before the cut and the q chunks become kept dims, [rows, outer, q] partials.
  const partials = once({
    ...spec,
    shape: [...kept.shape, ...dims.slice(0, j), q, c, ...dims.slice(j + 1)],
    input: { ...spec.input, strides: [...kept.strides[0], ...strides.slice(0, j), strides[j] * c, strides[j], ...strides.slice(j + 1)] },
    keptRank: kept.shape.length + j + 1,
    outDtype: partialDtype,
  });
  // Level 2 (in levels again if there are many partials): their reduction per output.
  const m = outer * q;
  const main = reduceInLevels(
    host,
    {
      ...spec,
      input: { storage: partials, dtype: partialDtype, strides: [m, 1], offset: 0 },
      shape: [rows, m],
      keptRank: 1,
    },
    once,
  );
  host.release(partials);
  if (rest === 0) return main;
  // The rest of dim j: the same reduction over a shorter view, then combined elementwise.
  const tail = reduceInLevels(
    host,
    {
      ...spec,
      shape: [...kept.shape, ...dims.slice(0, j), rest, ...dims.slice(j + 1)],
      input: { ...spec.input, strides: [...kept.strides[0], ...strides], offset: spec.input.offset + q * c * strides[j] },
      keptRank: kept.shape.length,
    },
    once,
  );
  const out = host.map({
    kernel: combineKernel(op, spec.accKind),
    inputs: [flat(main, spec.outDtype), flat(tail, spec.outDtype)],
    outShape: [rows],
    outDtype: spec.outDtype,
    argKind: spec.accKind,
  });
  host.release(main);
  host.release(tail);
  return out;
}
