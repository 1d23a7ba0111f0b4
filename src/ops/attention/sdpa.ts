import { XpuDTypeError, XpuShapeError, XpuValueError } from '../../errors.js';
import { isFloating } from '../../tensor/dtype.js';
import { broadcastShapes, broadcastStrides, fmtShape, numberArg, shapeEq } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { checkSameDevice, optionalTensorArg } from '../common.js';
import { recordAttention } from './backward.js';
import { checkQkv, operand4, runAttention } from './run.js';
import type { AttentionSpec } from './spec.js';

export interface SdpaOptions {
  /**
   * Broadcastable to [B, Hq, L, S] ([N, L, S] for 3-D inputs). bool: true = attend (PyTorch's
   * convention); float32/float16: added to the scores.
   */
  attnMask?: Tensor | null;
  /** Top-left aligned causal mask, PyTorch's tril(ones(L, S)): query i attends keys j <= i. */
  isCausal?: boolean;
  /** Multiplies q.k; default 1 / sqrt(E). */
  scale?: number | null;
  /** Grouped-query attention: Hq may be a multiple of Hkv (query head h reads key head h / (Hq / Hkv)). */
  enableGqa?: boolean;
}

/**
 * torch.nn.functional.scaled_dot_product_attention: softmax(q k^T * scale + mask) v, fused (flash
 * attention on xpu, a blocked kernel on cpu: the [L, S] scores never exist in memory).
 * q [B, Hq, L, E], k [B, Hkv, S, E], v [B, Hkv, S, Ev] -> [B, Hq, L, Ev]; 3-D [N, L, E] works too.
 * A query row whose keys are all masked gives 0 (PyTorch's flash and memory-efficient kernels do
 * the same; its math kernel gives NaN there).
 */
export function scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, options: SdpaOptions = {}): Tensor {
  const spec = sdpaSpec(query, key, value, options);
  const out = runAttention(OP, query.device, query, spec);
  recordAttention(OP, spec, query, key, value, out, [{ arg: 'attnMask', t: options.attnMask ?? undefined }]);
  return out;
}

const OP = 'scaledDotProductAttention';

/** Checks scaledDotProductAttention's arguments into the primitive's spec (also what its backward runs). */
export function sdpaSpec(query: Tensor, key: Tensor, value: Tensor, options: SdpaOptions = {}): AttentionSpec {
  const op = OP;
  if (typeof options !== 'object' || options === null)
    throw new XpuValueError('options must be an object', {
      op,
      arg: 'options',
      expected: '{ attnMask, isCausal, scale, enableGqa }',
      got: String(options),
    });
  const { isCausal = false, enableGqa = false } = options;
  const attnMask = optionalTensorArg(op, 'attnMask', options.attnMask);
  if (typeof isCausal !== 'boolean')
    throw new XpuValueError('isCausal must be a boolean', { op, arg: 'isCausal', expected: 'true or false', got: String(isCausal) });
  if (typeof enableGqa !== 'boolean')
    throw new XpuValueError('enableGqa must be a boolean', { op, arg: 'enableGqa', expected: 'true or false', got: String(enableGqa) });
  const dims = checkQkv(op, query, key, value, enableGqa, true);
  const scale = checkScale(op, options.scale, dims.e);
  let mask: AttentionSpec['mask'];
  if (attnMask !== undefined) {
    if (isCausal)
      throw new XpuValueError('attnMask and isCausal cannot both be set (as in PyTorch)', {
        op,
        arg: 'attnMask',
        expected: 'null when isCausal is true (put the causal mask into attnMask instead)',
        got: `a tensor ${fmtShape(attnMask.shape)}`,
      });
    checkSameDevice(op, [query, attnMask], ['query', 'attnMask']);
    const kind = attnMask.dtype === 'bool' ? 'bool' : isFloating(attnMask.dtype) ? 'additive' : undefined;
    if (!kind)
      throw new XpuDTypeError('attnMask must be bool (true = attend) or float (added to the scores)', {
        op,
        arg: 'attnMask',
        expected: 'bool, float32 or float16',
        got: attnMask.dtype,
      });
    const full = dims.threeD ? [dims.batch, dims.l, dims.s] : [dims.batch, dims.heads, dims.l, dims.s];
    let ok = attnMask.ndim <= full.length;
    if (ok) {
      try {
        ok = shapeEq(broadcastShapes(op, full, attnMask.shape), full);
      } catch {
        ok = false;
      }
    }
    if (!ok)
      throw new XpuShapeError('attnMask does not broadcast to the scores', {
        op,
        arg: 'attnMask',
        expected: `a shape broadcastable to ${fmtShape(full)}`,
        got: fmtShape(attnMask.shape),
      });
    const st = broadcastStrides(attnMask.shape, attnMask.strides, full);
    mask = {
      kind,
      operand: {
        storage: attnMask.ref.storage,
        dtype: attnMask.dtype,
        strides: dims.threeD ? [st[0], 0, st[1], st[2]] : st,
        offset: attnMask.offset,
      },
    };
  }
  const spec: AttentionSpec = {
    q: operand4(query, dims.threeD),
    k: operand4(key, dims.threeD),
    v: operand4(value, dims.threeD),
    batch: dims.batch,
    heads: dims.heads,
    kvHeads: dims.kvHeads,
    l: dims.l,
    s: dims.s,
    e: dims.e,
    ev: dims.ev,
    scale,
    causal: isCausal,
    mask,
    captures: [],
  };
  return spec;
}

export function checkScale(op: string, scale: unknown, e: number): number {
  if (scale === undefined || scale === null) return 1 / Math.sqrt(e);
  return numberArg(op, 'scale', scale, true);
}
