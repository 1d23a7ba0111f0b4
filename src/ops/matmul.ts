import type { MatmulEpilogue, Operand } from '../backends/backend.js';
import type { Device } from '../device/device.js';
import { XpuDTypeError, XpuShapeError } from '../errors.js';
import { isFloating, type DType } from '../tensor/dtype.js';
import { broadcastShapes, fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkSameDevice, operand, tensorArg, wrap } from './common.js';
import { unsqueeze } from './views.js';
import { needsGrad, recordOp } from '../autograd/record.js';

/**
 * Checks that GEMM operands are float tensors of one dtype (float16 with float32 is refused, not
 * promoted: the kernels read both operands in the same packing) and returns that dtype.
 */
export function checkGemmDtypes(op: string, tensors: readonly Tensor[], names: readonly string[]): DType {
  tensors.forEach((t, i) => {
    if (!isFloating(t.dtype)) {
      throw new XpuDTypeError(`${op} needs float operands`, { op, arg: names[i], expected: 'float32 or float16', got: t.dtype });
    }
  });
  const dtype = tensors[0].dtype;
  tensors.forEach((t, i) => {
    if (t.dtype !== dtype) {
      throw new XpuDTypeError('operands must have the same dtype', {
        op,
        arg: names[i],
        expected: `${dtype} (as '${names[0]}'; cast with .to('${dtype}'))`,
        got: t.dtype,
      });
    }
  });
  return dtype;
}

/** One GEMM primitive call into a fresh tensor of [...batch, m, n] in `dtype`. */
export function runGemm(
  device: Device,
  a: Operand,
  b: Operand,
  batchShape: number[],
  m: number,
  k: number,
  n: number,
  dtype: DType,
  epilogue?: MatmulEpilogue,
  shape: readonly number[] = [...batchShape, m, n],
): Tensor {
  const storage = device.backend.matmul({ a, b, batchShape, m, n, k, outDtype: dtype, epilogue });
  return wrap(device, storage, shape, dtype);
}

/**
 * torch.matmul: 1-D and 2-D operands and batched ones with broadcast batch dims. Operands are
 * read in place through their strides (transposes cost nothing); float16 accumulates in float32
 * and is stored as float16 by the GEMM itself.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const op = 'matmul';
  const device = checkSameDevice(op, [a, b], ['input', 'other']);
  const dtype = checkGemmDtypes(op, [a, b], ['input', 'other']);
  if (a.ndim === 0 || b.ndim === 0) {
    throw new XpuShapeError('both arguments need at least 1 dim', {
      op,
      arg: a.ndim === 0 ? 'input' : 'other',
      expected: '>= 1 dims',
      got: '0 dims',
    });
  }
  // 1-D operands become a row (left) or a column (right), removed again at the end.
  const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a;
  const b2 = b.ndim === 1 ? unsqueeze(b, 1) : b;
  const [m, k] = a2.shape.slice(-2);
  const [k2, n] = b2.shape.slice(-2);
  if (k !== k2) {
    throw new XpuShapeError('inner dims do not match', {
      op,
      arg: 'other',
      expected: `a tensor with ${k} rows (input is ${fmtShape(a.shape)})`,
      got: fmtShape(b.shape),
    });
  }
  const batch = broadcastShapes(op, a2.shape.slice(0, -2), b2.shape.slice(0, -2));
  // The output is contiguous, so dropping the 1-D operands' unit dims is only a different shape.
  const shape = [...batch, ...(a.ndim === 1 ? [] : [m]), ...(b.ndim === 1 ? [] : [n])];
  const out = runGemm(device, operand(a2, [...batch, m, k]), operand(b2, [...batch, k, n]), batch, m, k, n, dtype, undefined, shape);
  for (const t of [a2, b2]) if (t !== a && t !== b) t.dispose();
  if (needsGrad(a, b)) recordOp('matmul', [a, b], out);
  return out;
}

/** mm: 2-D only. */
export function mm(a: Tensor, b: Tensor): Tensor {
  tensorArg('mm', 'input', a);
  tensorArg('mm', 'mat2', b);
  if (a.ndim !== 2 || b.ndim !== 2) {
    throw new XpuShapeError('mm needs 2-D operands', {
      op: 'mm',
      arg: a.ndim !== 2 ? 'input' : 'mat2',
      expected: '2 dims',
      got: `${a.ndim !== 2 ? a.ndim : b.ndim} dims`,
    });
  }
  return matmul(a, b);
}
