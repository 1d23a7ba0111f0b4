import type { MapKernel } from '../backends/backend.js';
import { XpuDTypeError, XpuTypeError, XpuValueError } from '../errors.js';
import { fmtValue, typeName } from '../format_value.js';
import { dtypeInfo } from '../tensor/dtype.js';
import { broadcastShapes, numberArg } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkSameDevice, operand, optionsArg, runMap, tensorArg } from './common.js';
import { all } from './logical_reduce.js';
import { item } from './transfer.js';

/**
 * isclose / allclose: one map kernel of their own (below), with torch's tolerances and NaN rules.
 * (clamp, lerp and maskedFill, the TERNARY table's ops, are in elementwise_wrappers.ts.)
 */

export interface IscloseOptions {
  /** Relative tolerance, >= 0 (default 1e-5). */
  rtol?: number;
  /** Absolute tolerance, >= 0 (default 1e-8). */
  atol?: number;
  /** NaN equals NaN (default false). */
  equalNan?: boolean;
}

const ISCLOSE = new Map<string, MapKernel>();

/**
 * |a - b| <= atol + rtol |b| or a == b (torch.isclose, torch's formula and special values: equal
 * infinities are close, other infinities and NaN are not unless equalNan). Floats compute in
 * float32; integers take |a - b| exactly (as u32) so that no wrap or rounding decides.
 * Scalars: 0 rtol, 1 atol (f32), 2 equalNan (u32).
 */
function iscloseKernel(kind: 'f32' | 'i32' | 'u32'): MapKernel {
  let k = ISCLOSE.get(kind);
  if (k) return k;
  const diff =
    kind === 'f32'
      ? 'abs(x0 - x1)'
      : kind === 'i32'
        ? 'f32(select(bitcast<u32>(x1 - x0), bitcast<u32>(x0 - x1), x0 > x1))'
        : 'f32(select(x1 - x0, x0 - x1, x0 > x1))';
  const absB = kind === 'f32' ? 'abs(x1)' : kind === 'i32' ? 'f32(select(bitcast<u32>(x1), bitcast<u32>(0 - x1), x1 < 0))' : 'f32(x1)';
  const nan = kind === 'f32' ? ' || (su(2u) != 0u && is_nan(x0) && is_nan(x1))' : '';
  const finite = kind === 'f32' ? ' && !is_inf(d) && !is_nan(d)' : '';
  k = {
    name: `isclose_${kind}`,
    wgsl: `let d = ${diff};\n  return select(0u, 1u, x0 == x1${nan} || (d <= sf(1u) + sf(0u) * ${absB}${finite}));`,
    js: (x, c) => {
      const [a, b] = x;
      if (a === b || (c.scalars[2] !== 0 && Number.isNaN(a) && Number.isNaN(b))) return 1;
      const d = Math.abs(a - b);
      return Number.isFinite(d) && d <= c.scalars[1] + c.scalars[0] * Math.abs(b) ? 1 : 0;
    },
  };
  ISCLOSE.set(kind, k);
  return k;
}

function iscloseArgs(
  op: string,
  a: Tensor,
  b: Tensor,
  options: IscloseOptions | undefined,
): { rtol: number; atol: number; equalNan: boolean } {
  tensorArg(op, 'input', a);
  tensorArg(op, 'other', b);
  const o = optionsArg(op, options);
  const rtol = numberArg(op, 'rtol', o.rtol ?? 1e-5, true);
  const atol = numberArg(op, 'atol', o.atol ?? 1e-8, true);
  for (const [arg, v] of [
    ['rtol', rtol],
    ['atol', atol],
  ] as const) {
    if (v < 0) throw new XpuValueError('tolerance must be >= 0', { op, arg, expected: 'a number >= 0', got: fmtValue(v) });
  }
  if (o.equalNan !== undefined && typeof o.equalNan !== 'boolean')
    throw new XpuTypeError('must be a boolean', { op, arg: 'equalNan', expected: 'boolean', got: typeName(o.equalNan) });
  if (a.dtype !== b.dtype)
    throw new XpuDTypeError('input and other must have the same dtype', { op, arg: 'other', expected: a.dtype, got: b.dtype });
  return { rtol, atol, equalNan: o.equalNan === true };
}

/** Elementwise closeness as a bool tensor (broadcast); see iscloseKernel for the rule. */
export function isclose(a: Tensor, b: Tensor, options?: IscloseOptions): Tensor {
  const op = 'isclose';
  const { rtol, atol, equalNan } = iscloseArgs(op, a, b, options);
  const device = checkSameDevice(op, [a, b], ['input', 'other']);
  const outShape = broadcastShapes(op, a.shape, b.shape);
  const kind = dtypeInfo(a.dtype).compute;
  return runMap({
    device,
    kernel: iscloseKernel(kind),
    inputs: [operand(a, outShape), operand(b, outShape)],
    outShape,
    outDtype: 'bool',
    argKind: kind,
    scalars: [
      { kind: 'f32', value: rtol },
      { kind: 'f32', value: atol },
      { kind: 'u32', value: equalNan ? 1 : 0 },
    ],
  });
}

/**
 * Whether every element is close (torch.allclose). Awaited: the answer is a read-back (torch
 * returns a Python bool, which on a GPU is a synchronisation too).
 */
export async function allclose(a: Tensor, b: Tensor, options?: IscloseOptions): Promise<boolean> {
  const op = 'allclose';
  iscloseArgs(op, a, b, options);
  const close = isclose(a, b, options);
  const every = all(close);
  close.dispose();
  try {
    return (await item(every)) === true;
  } finally {
    every.dispose();
  }
}
