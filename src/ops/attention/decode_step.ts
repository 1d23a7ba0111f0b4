import type { Tensor } from '../../tensor/tensor.js';
import type { Operand } from '../../backends/backend.js';
import { needsGrad } from '../../autograd/record.js';
import { wrap } from '../common.js';

/**
 * A KV-cached decode step of one attention layer (backends/decode_attention_spec.ts) as one
 * primitive where the backend has it (cpu): q and k rotated at `start`, k and v written into the
 * cache row `start`, attention of q over rows 0 .. start. Returns null where the caller must
 * compose the same ops instead (no such primitive, more than one new token, gradients, other
 * dtypes or layouts, positions out of range: the composition raises the errors).
 */
export interface DecodeStepArgs {
  /** Projections [B, 1, heads * D], [B, 1, kvHeads * D], [B, 1, kvHeads * D]. */
  q: Tensor;
  k: Tensor;
  v: Tensor;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Rotary tables [maxPositions, D] (RotaryEmbedding.tables). */
  cos: Tensor;
  sin: Tensor;
  /** Cache buffers [B, maxLen, kvHeads, D] (KVCache.keys / values of the layer). */
  keys: Tensor;
  values: Tensor;
  start: number;
}

/** [B, 1, N * D] with unit-stride rows as [B, 1, N, D] strides. */
function headsOperand(t: Tensor, d: number): Operand {
  return {
    storage: t.ref.storage,
    dtype: t.dtype,
    strides: [t.strides[0], t.strides[1], d * t.strides[2], t.strides[2]],
    offset: t.offset,
  };
}

/** A contiguous [rows, D] table's row as a [D] operand. */
const rowOperand = (t: Tensor, row: number): Operand => ({
  storage: t.ref.storage,
  dtype: t.dtype,
  strides: [t.strides[1]],
  offset: t.offset + row * t.strides[0],
});

export function decodeAttentionStep(a: DecodeStepArgs): Tensor | null {
  const { q, k, v, cos, sin, keys, values, heads, kvHeads, headDim: d, start } = a;
  const device = q.device;
  const decode = device.backend.decodeAttention;
  if (!decode) return null;
  const all = [q, k, v, cos, sin, keys, values];
  if (all.some((t) => t.device !== device || t.dtype !== 'float32')) return null;
  const [b] = q.shape;
  const maxLen = keys.shape[1];
  const fits = (t: Tensor, n: number): boolean =>
    t.ndim === 3 && t.shape[0] === b && t.shape[1] === 1 && t.shape[2] === n * d && t.strides[2] === 1;
  const cacheOk = (t: Tensor): boolean =>
    t.ndim === 4 &&
    t.shape[0] === b &&
    t.shape[1] === maxLen &&
    t.shape[2] === kvHeads &&
    t.shape[3] === d &&
    t.offset === 0 &&
    t.isContiguous();
  const tableOk = (t: Tensor): boolean => t.ndim === 2 && t.shape[1] === d && t.strides[1] === 1 && start < t.shape[0];
  if (!fits(q, heads) || !fits(k, kvHeads) || !fits(v, kvHeads) || !cacheOk(keys) || !cacheOk(values)) return null;
  if (!tableOk(cos) || !tableOk(sin) || !Number.isInteger(start) || start < 0 || start >= maxLen) return null;
  if (needsGrad(q, k, v, keys, values)) return null;
  const storage = decode.call(device.backend, {
    batch: b,
    heads,
    kvHeads,
    headDim: d,
    start,
    maxLen,
    scale: 1 / Math.sqrt(d),
    q: headsOperand(q, d),
    k: headsOperand(k, d),
    v: headsOperand(v, d),
    cos: rowOperand(cos, start),
    sin: rowOperand(sin, start),
    keys: keys.ref.storage,
    values: values.ref.storage,
  });
  return storage ? wrap(device, storage, [b, 1, heads * d], 'float32') : null;
}
