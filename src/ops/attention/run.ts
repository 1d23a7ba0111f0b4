import type { Operand } from '../../backends/backend.js';
import type { Device } from '../../device/device.js';
import { XpuDTypeError, XpuShapeError, XpuValueError } from '../../errors.js';
import { isFloating } from '../../tensor/dtype.js';
import { fmtShape, numel } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { zeros } from '../creation.js';
import { checkSameDevice, copyAs, tensorArg, wrap } from '../common.js';
import type { AttentionDims, AttentionSpec } from './spec.js';

/**
 * What sdpa.ts and flex_attention.ts share: checking q, k, v, reading them as 4-D operands, and
 * running the backend primitive (with the float16 cast and the empty cases).
 */

export interface QkvDims extends AttentionDims {
  /** q had no head dim ([N, L, E]): a head dim of 1 is inserted. */
  threeD: boolean;
}

const need = (op: string, t: unknown, arg: string): Tensor => tensorArg(op, arg, t);

/** Checks q [B, Hq, L, E], k [B, Hkv, S, E], v [B, Hkv, S, Ev] (or all 3-D [N, L|S, E]). */
export function checkQkv(op: string, q0: unknown, k0: unknown, v0: unknown, enableGqa: boolean, allow3d: boolean): QkvDims {
  const q = need(op, q0, 'query');
  const k = need(op, k0, 'key');
  const v = need(op, v0, 'value');
  checkSameDevice(op, [q, k, v], ['query', 'key', 'value']);
  const ranks = allow3d ? '3 or 4' : '4';
  for (const [t, arg] of [
    [q, 'query'],
    [k, 'key'],
    [v, 'value'],
  ] as const) {
    if (!isFloating(t.dtype))
      throw new XpuDTypeError('attention needs floating point inputs', { op, arg, expected: 'float32 or float16', got: t.dtype });
    if (!(t.ndim === 4 || (allow3d && t.ndim === 3)))
      throw new XpuShapeError(`attention inputs need ${ranks} dims`, {
        op,
        arg,
        expected: allow3d ? '[B, H, L, E] or [N, L, E]' : '[B, H, L, E]',
        got: fmtShape(t.shape),
      });
  }
  if (k.dtype !== q.dtype || v.dtype !== q.dtype) {
    throw new XpuDTypeError('query, key and value must have the same dtype', {
      op,
      arg: k.dtype !== q.dtype ? 'key' : 'value',
      expected: q.dtype,
      got: k.dtype !== q.dtype ? k.dtype : v.dtype,
    });
  }
  if (k.ndim !== q.ndim || v.ndim !== q.ndim) {
    throw new XpuShapeError('query, key and value must have the same number of dims', {
      op,
      arg: k.ndim !== q.ndim ? 'key' : 'value',
      expected: `${q.ndim} dims (query is ${fmtShape(q.shape)})`,
      got: fmtShape(k.ndim !== q.ndim ? k.shape : v.shape),
    });
  }
  const threeD = q.ndim === 3;
  const d4 = (t: Tensor) => (threeD ? [t.shape[0], 1, t.shape[1], t.shape[2]] : t.shape);
  const [B, Hq, L, E] = d4(q);
  const [Bk, Hkv, S, Ek] = d4(k);
  const [Bv, Hv, Sv, Ev] = d4(v);
  if (Bk !== B || Bv !== B)
    throw new XpuShapeError('batch sizes differ', {
      op,
      arg: Bk !== B ? 'key' : 'value',
      expected: `batch ${B} (query is ${fmtShape(q.shape)})`,
      got: fmtShape(Bk !== B ? k.shape : v.shape),
    });
  if (Ek !== E)
    throw new XpuShapeError('key must have the head dim of query', {
      op,
      arg: 'key',
      expected: `last dim ${E} (query is ${fmtShape(q.shape)})`,
      got: fmtShape(k.shape),
    });
  if (E < 1) throw new XpuShapeError('the head dim must not be empty', { op, arg: 'query', expected: 'E >= 1', got: fmtShape(q.shape) });
  if (Hv !== Hkv || Sv !== S)
    throw new XpuShapeError('key and value must have the same heads and length', {
      op,
      arg: 'value',
      expected: `[${B}, ${Hkv}, ${S}, *] (key is ${fmtShape(k.shape)})`,
      got: fmtShape(v.shape),
    });
  if (Hkv !== Hq) {
    if (!enableGqa)
      throw new XpuShapeError('query and key have different head counts', {
        op,
        arg: 'key',
        expected: `${Hq} heads, or enableGqa: true with a head count dividing ${Hq}`,
        got: fmtShape(k.shape),
      });
    if (Hkv === 0 || Hq % Hkv !== 0)
      throw new XpuShapeError('grouped-query attention needs the query heads to be a multiple of the key heads', {
        op,
        arg: 'key',
        expected: `a head count dividing ${Hq}`,
        got: `${Hkv} heads`,
      });
  }
  return { batch: B, heads: Hq, kvHeads: Hkv, l: L, s: S, e: E, ev: Ev, threeD };
}

/** A tensor's strides as a 4-D operand (a head stride of 0 inserted for 3-D inputs). */
export function operand4(t: Tensor, threeD: boolean): Operand {
  const st = t.strides;
  return { storage: t.ref.storage, dtype: t.dtype, strides: threeD ? [st[0], 0, st[1], st[2]] : st.slice(), offset: t.offset };
}

export function outputShape(q: Tensor, ev: number): number[] {
  return [...q.shape.slice(0, -1), ev];
}

/** Runs the primitive; empty problems give zeros without a launch. */
export function runAttention(op: string, device: Device, q: Tensor, spec: AttentionSpec): Tensor {
  const shape = outputShape(q, spec.ev);
  if (numel(shape) === 0 || spec.s === 0) return zeros(shape, { device, dtype: q.dtype });
  const backend = device.backend;
  if (!backend.attention)
    throw new XpuValueError('this device has no attention kernel', {
      op,
      arg: 'query',
      expected: 'a device with attention (cpu or xpu)',
      got: String(device),
    });
  const out = wrap(device, backend.attention({ ...spec, op }), shape, 'float32');
  if (q.dtype === 'float32') return out;
  const cast = copyAs(op, out, q.dtype);
  out.dispose();
  return cast;
}
