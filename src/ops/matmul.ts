import { XpuDTypeError, XpuShapeError } from '../errors.js';
import { isFloating } from '../tensor/dtype.js';
import { broadcastShapes, fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkSameDevice, copyAs, operand, wrap } from './common.js';
import { squeeze, unsqueeze } from './views.js';

/**
 * torch.matmul: 1-D and 2-D operands and batched ones with broadcast batch dims. Operands are
 * read in place through their strides (transposes cost nothing). This is the simple, correct
 * stand-in (one invocation per output on xpu); the tuned GEMM replaces the kernel, not the API.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const op = 'matmul';
  const device = checkSameDevice(op, [a, b], ['input', 'other']);
  if (!isFloating(a.dtype) || !isFloating(b.dtype)) {
    throw new XpuDTypeError('matmul needs float operands', { op, arg: isFloating(a.dtype) ? 'other' : 'input', expected: 'float32 or float16', got: isFloating(a.dtype) ? b.dtype : a.dtype });
  }
  if (a.dtype !== b.dtype) {
    throw new XpuDTypeError('operands must have the same dtype', { op, arg: 'other', expected: a.dtype, got: b.dtype });
  }
  if (a.ndim === 0 || b.ndim === 0) {
    throw new XpuShapeError('both arguments need at least 1 dim', { op, arg: a.ndim === 0 ? 'input' : 'other', expected: '>= 1 dims', got: '0 dims' });
  }
  // 1-D operands become a row (left) or a column (right), removed again at the end.
  const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a;
  const b2 = b.ndim === 1 ? unsqueeze(b, 1) : b;
  const [m, k] = a2.shape.slice(-2);
  const [k2, n] = b2.shape.slice(-2);
  if (k !== k2) {
    throw new XpuShapeError('inner dims do not match', { op, arg: 'other', expected: `a tensor with ${k} rows (input is ${fmtShape(a.shape)})`, got: fmtShape(b.shape) });
  }
  const batch = broadcastShapes(op, a2.shape.slice(0, -2), b2.shape.slice(0, -2));
  const outShape = [...batch, m, n];
  const storage = device.backend.matmul({
    a: operand(a2, [...batch, m, k]), b: operand(b2, [...batch, k, n]), batchShape: batch, m, n, k, outDtype: 'float32',
  });
  let out = wrap(device, storage, outShape, 'float32');
  if (a.dtype !== 'float32') {
    const cast = copyAs(op, out, a.dtype);
    out.dispose();
    out = cast;
  }
  for (const t of [a2, b2]) if (t !== a && t !== b) t.dispose();
  if (a.ndim === 1 || b.ndim === 1) {
    const dims = [...(a.ndim === 1 ? [outShape.length - 2] : []), ...(b.ndim === 1 ? [outShape.length - 1] : [])];
    const sq = squeeze(out, dims);
    out.dispose();
    out = sq;
  }
  return out;
}

/** mm: 2-D only. */
export function mm(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 2 || b.ndim !== 2) {
    throw new XpuShapeError('mm needs 2-D operands', { op: 'mm', arg: a.ndim !== 2 ? 'input' : 'mat2', expected: '2 dims', got: `${a.ndim !== 2 ? a.ndim : b.ndim} dims` });
  }
  return matmul(a, b);
}

