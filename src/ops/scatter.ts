import { needsGrad, recordOp } from '../autograd/record.js';
import type { MapKernel } from '../backends/backend.js';
import { XpuDTypeError, XpuShapeError, XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';
import { castNumber, type HostArray } from '../tensor/dtype.js';
import { fmtShape, intArg, normalizeDim, numberArg } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { checkSameDevice, runMap, tensorArg, wrap } from './common.js';
import { StridedWalker } from '../backends/cpu/indexing.js';
import { checkIndexDType, checkIndicesOnCpu } from './structural.js';

/**
 * scatter / scatterAdd: the scatter primitive (row_specs.ts) writing into a copy of x; oneHot: a
 * map kernel. Indices are int32 / uint32 / int8 / uint8 (torch: int64). A bad index throws
 * XpuIndexError at the call on cpu, and at the next read or synchronize() on xpu (a device-side
 * assert, as indexSelect and gather).
 */

function checkScatterShapes(op: string, x: Tensor, d: number, index: Tensor, src: Tensor | undefined): void {
  if (index.ndim !== x.ndim) {
    throw new XpuShapeError('index must have as many dims as input', {
      op,
      arg: 'index',
      expected: `${x.ndim} dims`,
      got: `${index.ndim} dims (${fmtShape(index.shape)})`,
    });
  }
  if (src && src.ndim !== x.ndim) {
    throw new XpuShapeError('src must have as many dims as input', {
      op,
      arg: 'src',
      expected: `${x.ndim} dims`,
      got: `${src.ndim} dims (${fmtShape(src.shape)})`,
    });
  }
  const bad = index.shape.findIndex((s, j) => (j !== d && s > x.shape[j]) || (src !== undefined && s > src.shape[j]));
  if (bad >= 0) {
    throw new XpuShapeError('index is larger than input (outside dim) or src', {
      op,
      arg: 'index',
      expected: `sizes <= input ${fmtShape(x.shape)} apart from dim ${d}${src ? ` and <= src ${fmtShape(src.shape)}` : ''}`,
      got: fmtShape(index.shape),
    });
  }
}

function scatterImpl(op: 'scatter' | 'scatterAdd', x: Tensor, dim: number, index: Tensor, src: Tensor | number | boolean): Tensor {
  tensorArg(op, 'input', x);
  tensorArg(op, 'index', index);
  if (src instanceof Tensor) tensorArg(op, 'src', src);
  else if (op === 'scatterAdd' || (typeof src !== 'number' && typeof src !== 'boolean')) {
    throw new XpuTypeError(op === 'scatterAdd' ? 'src must be a tensor' : 'src must be a tensor or a number', {
      op,
      arg: 'src',
      expected: op === 'scatterAdd' ? 'Tensor' : 'Tensor or number',
      got: typeName(src),
    });
  }
  const device = checkSameDevice(op, src instanceof Tensor ? [x, index, src] : [x, index], ['input', 'index', 'src']);
  checkIndexDType(op, 'index', index);
  const d = normalizeDim(op, dim, x.ndim);
  const s = src instanceof Tensor ? src : undefined;
  if (s && s.dtype !== x.dtype)
    throw new XpuDTypeError('src must have the dtype of input', { op, arg: 'src', expected: x.dtype, got: s.dtype });
  if (op === 'scatterAdd' && x.dtype === 'bool')
    throw new XpuDTypeError('not supported for bool tensors', { op, arg: 'input', expected: 'a numeric dtype', got: 'bool' });
  checkScatterShapes(op, x, d, index, s);
  const size = x.ndim === 0 ? 1 : x.shape[d];
  checkIndicesOnCpu(op, 'index', index, size);
  const storage = device.backend.scatter({
    input: { storage: x.ref.storage, dtype: x.dtype, strides: x.strides.slice(), offset: x.offset },
    outShape: x.shape.slice(),
    dtype: x.dtype,
    dim: d,
    index: { storage: index.ref.storage, dtype: index.dtype, strides: index.strides.slice(), offset: index.offset },
    indexShape: index.shape.slice(),
    src: s ? { storage: s.ref.storage, dtype: s.dtype, strides: s.strides.slice(), offset: s.offset } : undefined,
    value: s ? undefined : castNumber(Number(numberOrBool(op, src as number | boolean)), x.dtype),
    reduce: op === 'scatterAdd' ? 'add' : 'none',
    check: { op, arg: 'index' },
  });
  const out = wrap(device, storage, x.shape, x.dtype);
  if (needsGrad(x, s)) recordOp(op, [x, index, s ?? null], out, { dim: d });
  return out;
}

function numberOrBool(op: string, v: number | boolean): number {
  return typeof v === 'boolean' ? Number(v) : numberArg(op, 'src', v);
}

/**
 * A copy of x with src[c] written at c with c[dim] replaced by index[c], for every position c of
 * index (torch.scatter); src may be a number. With duplicate indices one of the writes wins
 * (unspecified which, as torch documents).
 */
export const scatter = (x: Tensor, dim: number, index: Tensor, src: Tensor | number | boolean): Tensor =>
  scatterImpl('scatter', x, dim, index, src);

/** As scatter, adding every src[c] to its destination instead (torch.scatter_add). */
export const scatterAdd = (x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor => scatterImpl('scatterAdd', x, dim, index, src);

/** out[..., c] = (index[...] == c): scalar 0 = numClasses; the index loads as i32 (input 0). */
const ONE_HOT: MapKernel = {
  name: 'one_hot',
  lazy: true,
  assertsIndex: true,
  wgsl: 'let j = ld0(e0);\n  if (j < 0 || j >= si(0u)) {\n    index_error(j);\n    return 0;\n  }\n  return select(0, 1, j == i32(i % su(0u)));',
  js: (_x, ctx) => (ctx.load(0, ctx.e[0]) === ctx.i % ctx.scalars[0] ? 1 : 0),
};

function maxOnCpu(t: Tensor): number {
  const data = (t.ref.storage as unknown as { data: HostArray }).data;
  const walker = new StridedWalker(t.shape, [t.strides], [t.offset]);
  let m = -Infinity;
  for (let i = 0; i < t.numel; i++, walker.next()) m = Math.max(m, data[walker.e[0]]);
  return m;
}

/**
 * One-hot int32 vectors of length numClasses for an integer index tensor: shape
 * [...index.shape, numClasses] (torch.nn.functional.one_hot; torch gives int64). With
 * numClasses = -1 (the default) it is max(index) + 1, which needs the values: cpu only (on xpu
 * pass numClasses). Indices outside [0, numClasses) are an XpuIndexError.
 */
export function oneHot(index: Tensor, numClasses = -1): Tensor {
  const op = 'oneHot';
  tensorArg(op, 'input', index);
  checkIndexDType(op, 'input', index);
  let c = intArg(op, 'numClasses', numClasses, { min: -1, max: 2 ** 31 - 1 });
  if (c === -1) {
    if (index.device.type !== 'cpu') {
      throw new XpuValueError('numClasses is needed on xpu (inferring it would read the index back)', {
        op,
        arg: 'numClasses',
        expected: 'the number of classes',
        got: '-1',
      });
    }
    if (index.numel === 0)
      throw new XpuValueError('cannot infer the number of classes from an empty tensor', {
        op,
        arg: 'numClasses',
        expected: 'the number of classes',
        got: '-1',
      });
    c = Math.max(0, maxOnCpu(index) + 1);
  }
  checkIndicesOnCpu(op, 'input', index, c);
  const outShape = [...index.shape, c];
  if (c === 0) return wrap(index.device, index.device.backend.alloc('int32', 0, op), outShape, 'int32');
  return runMap({
    device: index.device,
    kernel: ONE_HOT,
    outShape,
    outDtype: 'int32',
    argKind: 'i32',
    loadKinds: ['i32'],
    inputs: [{ storage: index.ref.storage, dtype: index.dtype, strides: [...index.strides, 0], offset: index.offset }],
    scalars: [{ kind: 'i32', value: c }],
    indexCheck: { op, arg: 'input', size: c },
  });
}
