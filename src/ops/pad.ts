import type { MapContext, MapKernel, Scalar } from '../backends/backend.js';
import { XpuShapeError, XpuTypeError, XpuValueError } from '../errors.js';
import { fmtValue, typeName } from '../format_value.js';
import { castNumber, dtypeInfo, type ComputeKind } from '../tensor/dtype.js';
import { arrayArg, fmtShape, intArg, numberArg } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { copyAs, optionsArg, runMap, scalarWgsl, tensorArg } from './common.js';
import { track } from '../autograd/record.js';

export type PadMode = 'constant' | 'reflect' | 'replicate';

export interface PadOptions {
  /** 'constant' (default), 'reflect' (mirror without repeating the edge) or 'replicate' (repeat the edge). */
  mode?: PadMode;
  /** The fill of 'constant' mode (default 0), converted to x's dtype as torch does. */
  value?: number;
}

const MODES: readonly PadMode[] = ['constant', 'reflect', 'replicate'];
/** Stands for "no such dim" in a launch that pads one dim: no padding, a size nothing reaches. */
const NO_DIM = { before: 0, size: 2 ** 30, stride: 0 };

/**
 * The pad kernel: one launch pads two dims A and B. Each output coordinate c along a padded dim
 * maps to c - before in the input; outside [0, size) 'constant' returns the value, 'reflect'
 * mirrors it (-i -> i, size - 1 + i -> size - 1 - i) and 'replicate' clamps it, and the storage
 * index moves by (source - (c - before)) * stride. The operand's offset is shifted by
 * -before * stride on both dims, so in range e0 is the element already. Scalars: 0 = A | B << 8,
 * then before, size, stride of A (1-3) and of B (4-6), 7 = the value.
 */
const KERNELS = new Map<string, MapKernel>();

function padKernel(mode: PadMode, kind: ComputeKind): MapKernel {
  const key = `${mode}|${kind}`;
  let k = KERNELS.get(key);
  if (k) return k;
  const dimWgsl = (j: number, dim: string): string => {
    const [b, n, st] = [1, 2, 3].map((s) => `si(${s + 3 * j}u)`);
    const c = `pc${j}`;
    const head = `let ${c} = i32(c[${dim}]) - ${b};`;
    if (mode === 'constant') return `${head}\n  if (${c} < 0 || ${c} >= ${n}) { return ${scalarWgsl(kind, 7)}; }`;
    const src =
      mode === 'replicate' ? `clamp(${c}, 0, ${n} - 1)` : `select(select(${c}, 2 * (${n} - 1) - ${c}, ${c} >= ${n}), -${c}, ${c} < 0)`;
    return `${head}\n  e += (${src} - ${c}) * ${st};`;
  };
  const js = (_x: number[], ctx: MapContext): number => {
    const s = ctx.scalars;
    let e = ctx.e[0];
    for (let j = 0; j < 2; j++) {
      const dim = j === 0 ? s[0] & 0xff : s[0] >>> 8;
      const b = s[1 + 3 * j],
        n = s[2 + 3 * j],
        st = s[3 + 3 * j];
      const c = ctx.coords[dim] - b;
      if (c >= 0 && c < n) continue;
      if (mode === 'constant') return s[7];
      const src = mode === 'replicate' ? Math.min(n - 1, Math.max(0, c)) : c < 0 ? -c : 2 * (n - 1) - c;
      e += (src - c) * st;
    }
    return ctx.load(0, e);
  };
  k = {
    name: `pad_${mode}`,
    lazy: true,
    usesCoords: true,
    wgsl: `var e = e0;\n  ${dimWgsl(0, 'su(0u) & 0xffu')}\n  ${dimWgsl(1, 'su(0u) >> 8u')}\n  return ld0(e);`,
    js,
  };
  KERNELS.set(key, k);
  return k;
}

/**
 * Pads the trailing dims of x (torch.nn.functional.pad): `pad` lists (before, after) pairs from
 * the last dim backwards. Negative amounts crop. 'reflect' needs each amount below the dim's
 * size, 'replicate' a non-empty dim. Unlike torch, 'reflect' and 'replicate' take any dtype and
 * any number of padded dims (torch: floats, the last 1-3 dims of a batched tensor).
 */
export function pad(x: Tensor, padding: number[], options: PadOptions = {}): Tensor {
  const op = 'pad';
  tensorArg(op, 'input', x);
  const amounts = arrayArg(op, 'pad', padding).map((v) => intArg(op, 'pad', v));
  const o = optionsArg(op, options);
  const mode = o.mode ?? 'constant';
  if (!MODES.includes(mode))
    throw typeof mode === 'string'
      ? new XpuValueError('unknown mode', { op, arg: 'mode', expected: MODES.join(' | '), got: fmtValue(mode) })
      : new XpuTypeError('mode must be a string', { op, arg: 'mode', expected: MODES.join(' | '), got: typeName(mode) });
  const value = numberArg(op, 'value', o.value ?? 0);
  if (mode !== 'constant' && o.value !== undefined && value !== 0) {
    throw new XpuValueError('a value only applies to constant padding', {
      op,
      arg: 'value',
      expected: "mode 'constant'",
      got: `mode '${mode}'`,
    });
  }
  if (amounts.length % 2 !== 0 || amounts.length / 2 > x.ndim) {
    throw new XpuShapeError('pad must hold (before, after) pairs for at most every dim', {
      op,
      arg: 'pad',
      expected: `an even length <= ${2 * x.ndim}`,
      got: fmtValue(padding),
    });
  }
  const dims = Array.from({ length: amounts.length / 2 }, (_, j) => ({
    dim: x.ndim - 1 - j,
    before: amounts[2 * j],
    after: amounts[2 * j + 1],
  }));
  for (const { dim, before, after } of dims) {
    const n = x.shape[dim];
    if (n + before + after < 0)
      throw new XpuShapeError('padding would make a dim negative', {
        op,
        arg: 'pad',
        expected: `a size >= 0 at dim ${dim} (size ${n})`,
        got: `(${before}, ${after})`,
      });
    if (mode === 'reflect' && (before >= n || after >= n)) {
      throw new XpuValueError("'reflect' padding must be smaller than the dim", {
        op,
        arg: 'pad',
        expected: `amounts < ${n} at dim ${dim} (input ${fmtShape(x.shape)})`,
        got: `(${before}, ${after})`,
      });
    }
    if (mode === 'replicate' && n === 0 && (before > 0 || after > 0)) {
      throw new XpuValueError("'replicate' cannot pad an empty dim", {
        op,
        arg: 'pad',
        expected: `a non-empty dim ${dim}`,
        got: fmtShape(x.shape),
      });
    }
  }
  const fill = castNumber(value, x.dtype);
  let cur = x;
  for (let j = 0; j < dims.length || j === 0; j += 2) {
    const pair = dims.slice(j, j + 2);
    const next = padPair(cur, pair, mode, fill);
    if (cur !== x) cur.dispose();
    cur = next;
  }
  return track('pad', x, cur, { amounts, mode });
}

function padPair(x: Tensor, pair: { dim: number; before: number; after: number }[], mode: PadMode, fill: number): Tensor {
  const outShape = x.shape.slice();
  for (const { dim, before, after } of pair) outShape[dim] += before + after;
  if (pair.length === 0) return copyAs('pad', x);
  const specs = pair.map(({ dim, before }) => ({ dim, before, size: x.shape[dim], stride: x.strides[dim] }));
  const [a, b] = [specs[0], specs[1] ?? { ...NO_DIM, dim: specs[0].dim }];
  const kind = dtypeInfo(x.dtype).compute;
  const scalars: Scalar[] = [
    { kind: 'u32', value: a.dim | (b.dim << 8) },
    ...[a, b].flatMap((s) => [s.before, s.size, s.stride].map((value): Scalar => ({ kind: 'i32', value }))),
    { kind, value: fill },
  ];
  return runMap({
    device: x.device,
    outShape,
    outDtype: x.dtype,
    argKind: kind,
    scalars,
    kernel: padKernel(mode, kind),
    inputs: [
      {
        storage: x.ref.storage,
        dtype: x.dtype,
        strides: x.strides.slice(),
        offset: x.offset - a.before * a.stride - (b === specs[1] ? b.before * b.stride : 0),
      },
    ],
  });
}
