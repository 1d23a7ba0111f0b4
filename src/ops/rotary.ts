import type { MapKernel } from '../backends/backend.js';
import { XpuDTypeError, XpuShapeError } from '../errors.js';
import { isFloating } from '../tensor/dtype.js';
import { broadcastShapes, fmtShape, shapeEq } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkSameDevice, operand, runMap } from './common.js';

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
 * One output element: x * cos + rotate_half's partner * sin, where the partner is -x2 for an
 * element of the first half and x1 for one of the second. The cpu twin and the cpu's row loop
 * (src/backends/cpu/rotary_fast.ts) both compute through this.
 */
export const rotateHalf = (x: number, partner: number, cos: number, sin: number, first: boolean): number => x * cos + (first ? -partner : partner) * sin;

export const ROTARY_KERNEL: MapKernel = {
  name: 'rotary_half',
  lazy: true,
  usesCoords: true,
  wgsl: [
    'let j = i32(c[su(0u)]);',
    '  let h = si(1u);',
    '  let first = j < h;',
    '  let partner = ld0(e0 + select(-h, h, first) * si(2u));',
    '  let rot = select(partner, -partner, first);',
    '  return R(ld0(e0) * ld1(e1) + rot * ld2(e2));',
  ].join('\n'),
  js: (_x, ctx) => {
    const j = ctx.coords[ctx.scalars[0]];
    const h = ctx.scalars[1];
    const first = j < h;
    const partner = ctx.load(0, ctx.e[0] + (first ? h : -h) * ctx.scalars[2]);
    return rotateHalf(ctx.load(0, ctx.e[0]), partner, ctx.load(1, ctx.e[1]), ctx.load(2, ctx.e[2]), first);
  },
};

/**
 * applyRotary(x, cos, sin): x is [..., D] with D even; cos and sin broadcast to x (typically
 * [L, 1, D] or [1, L, 1, D] tables narrowed to the positions). Float dtypes; the output has x's
 * shape and dtype. Math in f32.
 */
export function applyRotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const op = 'applyRotary';
  const device = checkSameDevice(op, [x, cos, sin], ['input', 'cos', 'sin']);
  for (const [name, t] of [['input', x], ['cos', cos], ['sin', sin]] as const) {
    if (!isFloating(t.dtype)) throw new XpuDTypeError('must be a float tensor', { op, arg: name, expected: 'float32 or float16', got: t.dtype });
  }
  const d = x.shape[x.ndim - 1];
  if (x.ndim === 0 || d % 2 !== 0) {
    throw new XpuShapeError('the last dim must be even', { op, arg: 'input', expected: '[..., D] with D even', got: fmtShape(x.shape) });
  }
  for (const [name, t] of [['cos', cos], ['sin', sin]] as const) {
    let ok = t.ndim <= x.ndim;
    if (ok) {
      try {
        ok = shapeEq(broadcastShapes(op, x.shape, t.shape), x.shape);
      } catch {
        ok = false;
      }
    }
    if (!ok) throw new XpuShapeError('must broadcast to the input', { op, arg: name, expected: `a shape broadcastable to ${fmtShape(x.shape)}`, got: fmtShape(t.shape) });
  }
  const last = x.ndim - 1;
  return runMap({
    device,
    kernel: ROTARY_KERNEL,
    inputs: [operand(x, x.shape), operand(cos, x.shape), operand(sin, x.shape)],
    outShape: x.shape,
    outDtype: x.dtype,
    argKind: 'f32',
    scalars: [{ kind: 'u32', value: last }, { kind: 'i32', value: d / 2 }, { kind: 'i32', value: x.strides[last] }],
  });
}
