import { needsGrad, record } from '../../autograd/record.js';
import type { Device } from '../../device/device.js';
import { XpuValueError } from '../../errors.js';
import { scoreDerivative } from '../../flex/derivative.js';
import { numel } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { zeros } from '../creation.js';
import { copyAs, wrap } from '../common.js';
import type { AttentionSpec } from './spec.js';
import { composedAttentionBackward, prefersComposedBackward } from './backward_composed.js';

/**
 * The gradients of one attention call (sdpa.ts, flex_attention.ts) with respect to q, k and v:
 * the backend's flash backward (Backend.attentionBackward; see AttentionBackwardSpec), given the
 * forward's spec, its output and the output's gradient. Returns dq, dk, dv in the shapes and
 * dtypes of q, k and v (contiguous; computed in float32). The mask operand and flex captures
 * get no gradient.
 */
export function attentionBackward(
  op: string,
  device: Device,
  spec: AttentionSpec,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  out: Tensor,
  dOut: Tensor,
): [Tensor, Tensor, Tensor] {
  const result = (t: Tensor, like: Tensor): Tensor => {
    if (like.dtype === 'float32') return t;
    const cast = copyAs(op, t, like.dtype);
    t.dispose();
    return cast;
  };
  if (numel(q.shape) === 0 || numel(k.shape) === 0 || numel(v.shape) === 0) {
    return [
      zeros(q.shape.slice(), { device, dtype: q.dtype }),
      zeros(k.shape.slice(), { device, dtype: k.dtype }),
      zeros(v.shape.slice(), { device, dtype: v.dtype }),
    ];
  }
  const backend = device.backend;
  if (!backend.attentionBackward)
    throw new XpuValueError('this device has no attention backward', {
      op,
      arg: 'query',
      expected: 'a device with attentionBackward (cpu or xpu)',
      got: String(device),
    });
  // The kernels read out and dOut as contiguous float32 from element 0.
  const dense = (t: Tensor): Tensor | null =>
    t.dtype === 'float32' && t.offset === 0 && t.isContiguous() ? null : copyAs(op, t, 'float32');
  const o32 = dense(out);
  const d32 = dense(dOut);
  try {
    const g = backend.attentionBackward({
      ...spec,
      op,
      out: (o32 ?? out).ref.storage,
      dOut: (d32 ?? dOut).ref.storage,
      scoreModGrad: spec.scoreMod ? scoreDerivative(spec.scoreMod) : undefined,
    });
    return [
      result(wrap(device, g.dq, q.shape, 'float32'), q),
      result(wrap(device, g.dk, k.shape, 'float32'), k),
      result(wrap(device, g.dv, v.shape, 'float32'), v),
    ];
  } finally {
    o32?.dispose();
    d32?.dispose();
  }
}

/**
 * Records an attention call for autograd when q, k or v needs a gradient (sdpa.ts,
 * flex_attention.ts): its backward is attentionBackward over the same spec. The node saves q, k,
 * v, the output and `constants` (the mask, block flags and capture copies the spec reads) as
 * views, so their storages outlive whatever the caller disposes until the graph is freed.
 * `constants` get no gradient: one that requires grad is refused here, before any graph exists.
 * The gradients are constants to autograd (no double backward, as torch's flash kernels).
 */
export function recordAttention(
  op: string,
  spec: AttentionSpec,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  out: Tensor,
  constants: readonly { arg: string; t: Tensor | undefined }[],
): void {
  if (!needsGrad(q, k, v)) {
    if (constants.some((c) => c.t && needsGrad(c.t))) noConstantGrad(op, constants);
    return;
  }
  noConstantGrad(op, constants);
  const kept = constants.flatMap((c) => (c.t ? [c.t] : []));
  record(
    op,
    [q, k, v, ...kept],
    out,
    (grads, saved) => {
      const dOut = grads[0];
      if (!dOut) return [];
      const [sq, sk, sv] = saved.inputs as Tensor[];
      // Short dense problems on xpu: the composed backward (backward_composed.ts); else the flash kernels.
      if (prefersComposedBackward(sq.device, spec, sq, dOut))
        return composedAttentionBackward(sq.device, spec, sq, sk, sv, saved.outputs[0], dOut);
      return attentionBackward(op, sq.device, spec, sq, sk, sv, saved.outputs[0], dOut);
    },
    { inputs: true, outputs: true },
  );
}

function noConstantGrad(op: string, constants: readonly { arg: string; t: Tensor | undefined }[]): void {
  for (const c of constants) {
    if (c.t instanceof Tensor && c.t.requiresGrad && needsGrad(c.t)) {
      throw new XpuValueError(`${c.arg} cannot take a gradient through attention`, {
        op,
        arg: c.arg,
        expected: 'a tensor without requiresGrad (gradients flow to query, key and value only)',
        got: 'a tensor that requires grad',
      });
    }
  }
}
