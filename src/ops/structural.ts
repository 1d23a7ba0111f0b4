import type { Operand, Scalar } from '../backends/backend.js';
import { StridedWalker } from '../backends/cpu/indexing.js';
import type { Device } from '../device/device.js';
import { XpuDTypeError, XpuIndexError, XpuShapeError } from '../errors.js';
import { dtypeInfo, promoteTypes, type DType, type HostArray } from '../tensor/dtype.js';
import { fmtShape, intArg, normalizeDim, shapeEq } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { checkSameDevice, operand, runMap, tensorArg, tensorListArg } from './common.js';
import { full } from './creation.js';
import { catKernel, TAKE_KERNEL, TRIL_KERNEL, TRIU_KERNEL } from './structural_kernels.js';
import { unsqueeze } from './views.js';
import { anyNeedsGrad, recordOp, track } from '../autograd/record.js';
import { isGradEnabled } from '../autograd/grad_mode.js';

/**
 * Structural ops: cat/stack, indexSelect/gather/embedding, triu/tril. Each is one map kernel
 * (src/ops/structural_kernels.ts) over strided operands, so non-contiguous inputs are read in
 * place and nothing is copied first.
 */

/** Index dtypes: our integer types (PyTorch uses int64, which we do not have). */
const INDEX_DTYPES: readonly DType[] = ['int32', 'uint32', 'int8', 'uint8'];

/**
 * Inputs per cat dispatch: with the output that makes 8 storage bindings, the WebGPU default
 * limit that every adapter offers; it also leaves the scalar slots enough room (dim + 6 starts).
 */
const CAT_INPUTS_PER_DISPATCH = 7;

const requireTensor = tensorArg;
const tensorList = (op: string, tensors: unknown): Tensor[] => tensorListArg(op, 'tensors', tensors);

/** Concatenates along `dim`; dtypes promote. 1-D empty tensors are skipped, as in PyTorch. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  const op = 'cat';
  const list = tensorList(op, tensors);
  const names = list.map((_, i) => `tensors[${i}]`);
  const device = checkSameDevice(op, list, names);
  const dtype = list.map((t) => t.dtype).reduce(promoteTypes);
  const kept = list.map((t, i) => ({ t, i })).filter(({ t }) => !(t.ndim === 1 && t.numel === 0));
  if (kept.length === 0) {
    normalizeDim(op, dim, 1);
    return full([0], 0, { dtype, device });
  }
  const zeroDim = kept.find(({ t }) => t.ndim === 0);
  if (zeroDim) {
    throw new XpuShapeError('zero-dimensional tensors cannot be concatenated', {
      op,
      arg: names[zeroDim.i],
      expected: 'tensors with at least 1 dim (use stack)',
      got: 'a 0-d tensor',
    });
  }
  const ref = kept[0].t;
  const d = normalizeDim(op, dim, ref.ndim);
  const outShape = ref.shape.slice();
  outShape[d] = 0;
  for (const { t, i } of kept) {
    const fits = t.ndim === ref.ndim && t.shape.every((s, j) => j === d || s === ref.shape[j]);
    if (!fits) {
      throw new XpuShapeError('sizes of tensors must match except in the cat dim', {
        op,
        arg: names[i],
        expected: `shape [${ref.shape.map((s, j) => (j === d ? '*' : s)).join(', ')}] (any size in cat dim ${d})`,
        got: fmtShape(t.shape),
      });
    }
    outShape[d] += t.shape[d];
  }
  // Inputs without elements contribute nothing; leaving them out saves bindings.
  const out = catParts(
    device,
    kept.map(({ t }) => t).filter((t) => t.numel > 0),
    d,
    outShape,
    dtype,
  );
  if (anyNeedsGrad(list)) recordOp('cat', list, out, { dim: d, sizes: list.map((t) => (t.ndim === 1 && t.numel === 0 ? -1 : t.shape[d])) });
  return out;
}

function catParts(device: Device, parts: Tensor[], d: number, outShape: number[], dtype: DType): Tensor {
  if (parts.length === 0) return full(outShape, 0, { dtype, device });
  if (parts.length > CAT_INPUTS_PER_DISPATCH) {
    // Too many bindings for one dispatch: cat groups, then cat the partial results.
    const partials: Tensor[] = [];
    for (let s = 0; s < parts.length; s += CAT_INPUTS_PER_DISPATCH) {
      const group = parts.slice(s, s + CAT_INPUTS_PER_DISPATCH);
      const shape = outShape.slice();
      shape[d] = group.reduce((a, t) => a + t.shape[d], 0);
      partials.push(catParts(device, group, d, shape, dtype));
    }
    const out = catParts(device, partials, d, outShape, dtype);
    // Safe while the GPU has not run yet: freed blocks are reused only by later commands.
    for (const p of partials) p.dispose();
    return out;
  }
  const inputs: Operand[] = [];
  const scalars: Scalar[] = [{ kind: 'u32', value: d }];
  let start = 0;
  parts.forEach((t, k) => {
    if (k > 0) scalars.push({ kind: 'i32', value: start });
    // Shifted so that output coordinate `start` along d lands on the input's first element; the
    // offset may go negative, but the kernel loads only the input that owns the coordinate.
    inputs.push({ storage: t.ref.storage, dtype: t.dtype, strides: t.strides.slice(), offset: t.offset - start * t.strides[d] });
    start += t.shape[d];
  });
  return runMap({ device, kernel: catKernel(parts.length), inputs, outShape, outDtype: dtype, argKind: dtypeInfo(dtype).compute, scalars });
}

/** Stacks equal-shaped tensors along a new dim. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  const op = 'stack';
  const list = tensorList(op, tensors);
  checkSameDevice(
    op,
    list,
    list.map((_, i) => `tensors[${i}]`),
  );
  const ref = list[0];
  list.forEach((t, i) => {
    if (!shapeEq(t.shape, ref.shape)) {
      throw new XpuShapeError('stack expects tensors of equal shape', {
        op,
        arg: `tensors[${i}]`,
        expected: fmtShape(ref.shape),
        got: fmtShape(t.shape),
      });
    }
  });
  const d = normalizeDim(op, dim, ref.ndim + 1);
  const views = list.map((t) => unsqueeze(t, d));
  try {
    return cat(views, d);
  } finally {
    for (const v of views) v.dispose();
  }
}

export function checkIndexDType(op: string, arg: string, index: Tensor): void {
  if (!INDEX_DTYPES.includes(index.dtype)) {
    throw new XpuDTypeError('index must have an integer dtype', { op, arg, expected: INDEX_DTYPES.join(' | '), got: index.dtype });
  }
}

/**
 * Throws XpuIndexError for an index outside [0, size) when the index is on cpu, where its values
 * can be read now. An xpu index cannot be read without an await; there the kernel raises a
 * device-side assert that the next read or synchronize() throws as XpuIndexError (see TAKE_KERNEL).
 */
export function checkIndicesOnCpu(op: string, arg: string, index: Tensor, size: number): void {
  if (index.device.type !== 'cpu') return;
  const data = (index.ref.storage as unknown as { data: HostArray }).data;
  const walker = new StridedWalker(index.shape, [index.strides], [index.offset]);
  for (let i = 0; i < index.numel; i++, walker.next()) {
    const v = data[walker.e[0]];
    if (!(v >= 0 && v < size)) {
      throw new XpuIndexError('index out of range', {
        op,
        arg,
        expected: `indices in [0, ${size - 1}] (negative indices are not wrapped)`,
        got: `${v} at position ${i}`,
      });
    }
  }
}

/**
 * Runs TAKE_KERNEL: `idx` and `src` are operands in the output's coordinates (src with stride 0
 * along the indexed dim); `stride` and `size` describe that dim of the source.
 */
function take(
  check: { op: string; arg: string },
  device: Device,
  dtype: DType,
  idx: Operand,
  src: Operand,
  outShape: number[],
  stride: number,
  size: number,
): Tensor {
  const kind = dtypeInfo(dtype).compute;
  return runMap({
    indexCheck: { ...check, size },
    device,
    kernel: TAKE_KERNEL,
    inputs: [idx, src],
    outShape,
    outDtype: dtype,
    argKind: kind,
    // The index loads as i32 whatever x is, so it stays exact beside float data.
    loadKinds: ['i32', kind],
    scalars: [
      { kind: 'i32', value: stride },
      { kind: 'i32', value: size },
    ],
  });
}

/** The entries of x along `dim` at the positions in a 1-D (or 0-d) index, as torch.index_select. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  const op = 'indexSelect';
  requireTensor(op, 'input', x);
  requireTensor(op, 'index', index);
  const device = checkSameDevice(op, [x, index], ['input', 'index']);
  checkIndexDType(op, 'index', index);
  if (index.ndim > 1)
    throw new XpuShapeError('index must be a vector', { op, arg: 'index', expected: 'a 0-d or 1-D tensor', got: fmtShape(index.shape) });
  const d = normalizeDim(op, dim, x.ndim);
  // A 0-d x acts as 1-D of size 1 whose result stays 0-d (PyTorch), so the index has 1 element.
  if (x.ndim === 0 && index.numel !== 1) {
    throw new XpuIndexError('index for a 0-d input must have one element', {
      op,
      arg: 'index',
      expected: '1 element',
      got: `${index.numel} elements`,
    });
  }
  const size = x.ndim === 0 ? 1 : x.shape[d];
  checkIndicesOnCpu(op, 'index', index, size);
  const outShape = x.shape.slice();
  if (x.ndim > 0) outShape[d] = index.numel;
  const idx: Operand = {
    storage: index.ref.storage,
    dtype: index.dtype,
    offset: index.offset,
    strides: outShape.map((_, j) => (j === d && index.ndim === 1 ? index.strides[0] : 0)),
  };
  const src: Operand = { storage: x.ref.storage, dtype: x.dtype, offset: x.offset, strides: x.strides.map((s, j) => (j === d ? 0 : s)) };
  const out = take({ op, arg: 'index' }, device, x.dtype, idx, src, outShape, x.ndim === 0 ? 0 : x.strides[d], size);
  if (x.requiresGrad && isGradEnabled()) recordOp(op, [x, index], out, { dim: d, shape: x.shape });
  return out;
}

/** out[i][j][k] = x[index[i][j][k]][j][k] (for dim 0), as torch.gather. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  const op = 'gather';
  requireTensor(op, 'input', x);
  requireTensor(op, 'index', index);
  const device = checkSameDevice(op, [x, index], ['input', 'index']);
  checkIndexDType(op, 'index', index);
  if (index.ndim !== x.ndim) {
    throw new XpuShapeError('index must have as many dims as input', {
      op,
      arg: 'index',
      expected: `${x.ndim} dims`,
      got: `${index.ndim} dims (${fmtShape(index.shape)})`,
    });
  }
  const d = normalizeDim(op, dim, x.ndim);
  const bad = index.shape.findIndex((s, j) => j !== d && s > x.shape[j]);
  if (bad >= 0) {
    throw new XpuShapeError('index is larger than input outside the gather dim', {
      op,
      arg: 'index',
      expected: `size <= ${x.shape[bad]} at dim ${bad} (input ${fmtShape(x.shape)})`,
      got: fmtShape(index.shape),
    });
  }
  const size = x.ndim === 0 ? 1 : x.shape[d];
  checkIndicesOnCpu(op, 'index', index, size);
  const idx = operand(index, index.shape);
  const src: Operand = { storage: x.ref.storage, dtype: x.dtype, offset: x.offset, strides: x.strides.map((s, j) => (j === d ? 0 : s)) };
  const out = take({ op, arg: 'index' }, device, x.dtype, idx, src, index.shape.slice(), x.ndim === 0 ? 0 : x.strides[d], size);
  if (x.requiresGrad && isGradEnabled()) recordOp(op, [x, index], out, { dim: d, shape: x.shape });
  return out;
}

/** Rows of weight [V, D] at the ids: shape [...ids.shape, D] (torch.nn.functional.embedding). */
export function embedding(ids: Tensor, weight: Tensor): Tensor {
  const op = 'embedding';
  requireTensor(op, 'input', ids);
  requireTensor(op, 'weight', weight);
  const device = checkSameDevice(op, [ids, weight], ['input', 'weight']);
  checkIndexDType(op, 'input', ids);
  if (weight.ndim !== 2)
    throw new XpuShapeError('weight must be 2-D', {
      op,
      arg: 'weight',
      expected: 'a [num_embeddings, embedding_dim] tensor',
      got: fmtShape(weight.shape),
    });
  const [rows, width] = weight.shape;
  checkIndicesOnCpu(op, 'input', ids, rows);
  const idx: Operand = { storage: ids.ref.storage, dtype: ids.dtype, offset: ids.offset, strides: [...ids.strides, 0] };
  const src: Operand = {
    storage: weight.ref.storage,
    dtype: weight.dtype,
    offset: weight.offset,
    strides: [...ids.shape.map(() => 0), weight.strides[1]],
  };
  const out = take({ op, arg: 'input' }, device, weight.dtype, idx, src, [...ids.shape, width], weight.strides[0], rows);
  if (weight.requiresGrad && isGradEnabled()) recordOp(op, [ids, weight], out, { shape: weight.shape });
  return out;
}

function triangle(op: 'triu' | 'tril', x: Tensor, diagonal: number): Tensor {
  requireTensor(op, 'input', x);
  if (x.ndim < 2)
    throw new XpuShapeError('input must have at least 2 dims', {
      op,
      arg: 'input',
      expected: 'a matrix or a batch of matrices',
      got: fmtShape(x.shape),
    });
  intArg(op, 'diagonal', diagonal);
  // Any diagonal beyond the matrix keeps all or nothing; clamping keeps it an i32.
  const diag = Math.max(-(2 ** 31 - 1), Math.min(2 ** 31 - 1, diagonal));
  return track(
    op,
    x,
    runMap({
      device: x.device,
      kernel: op === 'triu' ? TRIU_KERNEL : TRIL_KERNEL,
      inputs: [operand(x, x.shape)],
      outShape: x.shape,
      outDtype: x.dtype,
      argKind: dtypeInfo(x.dtype).compute,
      scalars: [
        { kind: 'i32', value: diag },
        { kind: 'u32', value: x.ndim - 2 },
      ],
    }),
    { diagonal },
  );
}

/** The upper triangle of the last two dims (col - row >= diagonal), zeros elsewhere. */
export const triu = (x: Tensor, diagonal = 0): Tensor => triangle('triu', x, diagonal);
/** The lower triangle of the last two dims (col - row <= diagonal), zeros elsewhere. */
export const tril = (x: Tensor, diagonal = 0): Tensor => triangle('tril', x, diagonal);
