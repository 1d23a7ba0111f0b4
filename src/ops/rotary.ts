import { XpuDTypeError, XpuShapeError } from '../errors.js';
import { isFloating } from '../tensor/dtype.js';
import { broadcastShapes, fmtShape, shapeEq } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkSameDevice, operand, runMap } from './common.js';
import { ROTARY_KERNEL, rotateHalf } from '../backends/rotary_kernel.js';
import { needsGrad, recordOp } from '../autograd/record.js';

export { ROTARY_KERNEL, rotateHalf };

/**
 * Rotary position embedding in the "rotate half" layout (Hugging Face transformers' Llama):
 * out = x * cos + rotate_half(x) * sin, with rotate_half(x) = cat(-x2, x1) over the two halves
 * of the last dim. One map kernel: each output element loads its own x, its partner x from the
 * other half, and the cos/sin entries, so no rotated copy of x is ever made (the composition
 * cat + 2 mul + add wrote three temporaries the size of q/k per layer and step).
 *
 * Scalars: 0 = the last dim's index in the output coordinates, 1 = half the last dim,
 * 2 = x's storage stride along the last dim (so a strided x is read in place).
 */
/**
 * applyRotary(x, cos, sin): x is [..., D] with D even; cos and sin broadcast to x (typically
 * [L, 1, D] or [1, L, 1, D] tables narrowed to the positions). Float dtypes; the output has x's
 * shape and dtype. Math in f32.
 */
export function applyRotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const op = 'applyRotary';
  const device = checkSameDevice(op, [x, cos, sin], ['input', 'cos', 'sin']);
  for (const [name, t] of [
    ['input', x],
    ['cos', cos],
    ['sin', sin],
  ] as const) {
    if (!isFloating(t.dtype))
      throw new XpuDTypeError('must be a float tensor', { op, arg: name, expected: 'float32 or float16', got: t.dtype });
  }
  const d = x.shape[x.ndim - 1];
  if (x.ndim === 0 || d % 2 !== 0) {
    throw new XpuShapeError('the last dim must be even', { op, arg: 'input', expected: '[..., D] with D even', got: fmtShape(x.shape) });
  }
  for (const [name, t] of [
    ['cos', cos],
    ['sin', sin],
  ] as const) {
    let ok = t.ndim <= x.ndim;
    if (ok) {
      try {
        ok = shapeEq(broadcastShapes(op, x.shape, t.shape), x.shape);
      } catch {
        ok = false;
      }
    }
    if (!ok)
      throw new XpuShapeError('must broadcast to the input', {
        op,
        arg: name,
        expected: `a shape broadcastable to ${fmtShape(x.shape)}`,
        got: fmtShape(t.shape),
      });
  }
  const last = x.ndim - 1;
  const out = runMap({
    device,
    kernel: ROTARY_KERNEL,
    inputs: [operand(x, x.shape), operand(cos, x.shape), operand(sin, x.shape)],
    outShape: x.shape,
    outDtype: x.dtype,
    argKind: 'f32',
    scalars: [
      { kind: 'u32', value: last },
      { kind: 'i32', value: d / 2 },
      { kind: 'i32', value: x.strides[last] },
    ],
  });
  if (needsGrad(x, cos, sin)) recordOp(op, [x, cos, sin], out);
  return out;
}
