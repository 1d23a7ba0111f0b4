import type { MatmulEpilogue, Operand } from '../../backends/backend.js';
import type { Device } from '../../device/device.js';
import { noGrad } from '../../autograd/grad_mode.js';
import type { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../creation.js';
import { mul } from '../math.js';
import { runGemm } from '../matmul.js';
import { softmax } from '../norm.js';
import { sum } from '../reduce.js';
import type { AttentionSpec } from './spec.js';

/**
 * The attention backward by composition, for short dense problems on xpu: the scores are
 * recomputed and kept for the length of the backward (B H L S floats, transient: the forward
 * still saves no [L, S] matrix), then five GEMMs and one row softmax do what the flash kernels'
 * two sweeps do. On a software adapter (lavapipe) the GEMM kernels run near the adapter's peak
 * while the flash backward's per-row loops do not; bench/results/README.md (train) has the
 * measurement. The scale, the causal mask and dP - delta ride in the GEMM epilogues (alpha, a
 * broadcast bias), so the whole backward is 5 GEMMs, a softmax, two elementwise passes and a row sum
 * (plus the causal mask's upload). Unlike the flash kernels, a NaN or infinity in a key or value
 * hidden by the causal mask reaches the gradients (a GEMM multiplies a masked pair's zero by it),
 * as in torch's math backward; finite inputs give the same gradients. FlashAttention-2's
 * formulas (Dao 2023):
 *   P = softmax(scale Q K^T + mask), dV = P^T dO, dP = dO V^T, delta = rowsum(dO * O),
 *   dS = P (dP - delta), dQ = scale dS K, dK = scale dS^T Q.
 */

/** Scores (B H L S floats) up to which the composed backward is chosen; above, the flash kernels. */
export const COMPOSED_MAX_SCORES = 1 << 22;

/** Whether attentionBackward's composed form serves this problem (see the module comment). */
export function prefersComposedBackward(device: Device, spec: AttentionSpec, q: Tensor, dOut: Tensor): boolean {
  const plain = !spec.mask && !spec.scoreMod && !spec.maskMod && !spec.blockMask && spec.captures.length === 0;
  const f32 = q.dtype === 'float32' && spec.k.dtype === 'float32' && spec.v.dtype === 'float32' && dOut.dtype === 'float32';
  return (
    device.type === 'xpu' &&
    plain &&
    f32 &&
    spec.heads === spec.kvHeads &&
    q.ndim === 4 &&
    dOut.ndim === 4 &&
    spec.batch * spec.heads * spec.l * spec.s <= COMPOSED_MAX_SCORES
  );
}

/** 0 where key j is visible to query i (j <= i), -inf elsewhere; built on the host (L S floats, one upload). */
function causalBias(L: number, S: number): Float32Array {
  const out = new Float32Array(L * S);
  for (let i = 0; i < L; i++) out.fill(-Infinity, i * S + Math.min(i + 1, S), (i + 1) * S);
  return out;
}

/** An operand's strides with its last two dims swapped (a transpose read in place). */
const transposed = (o: Operand): Operand => ({
  ...o,
  strides: [...o.strides.slice(0, -2), o.strides[o.strides.length - 1], o.strides[o.strides.length - 2]],
});
/** A contiguous float32 tensor [B, H, rows, cols] as an operand. */
const dense = (t: Tensor): Operand => ({ storage: t.ref.storage, dtype: t.dtype, strides: t.strides.slice(), offset: t.offset });

/**
 * dq, dk, dv (contiguous float32, in the shapes of q, k and v) of a dense or causal attention call
 * with heads === kvHeads and 4-D float32 operands (prefersComposedBackward's conditions; the
 * caller checks them). q, k, v are read through the spec's operands; out and dOut in any layout.
 */
export function composedAttentionBackward(
  device: Device,
  spec: AttentionSpec,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  out: Tensor,
  dOut: Tensor,
): [Tensor, Tensor, Tensor] {
  const { batch: B, heads: H, l: L, s: S, e: E, ev: Ev, scale } = spec;
  const batch = [B, H];
  const temps: Tensor[] = [];
  const temp = (t: Tensor): Tensor => {
    temps.push(t);
    return t;
  };
  return noGrad(() => {
    try {
      // Top-left causal (key j visible to query i when j <= i, as torch and the kernels): an
      // additive [L, S] bias of 0 / -inf, broadcast over the batch by the GEMM's epilogue.
      let mask: Operand | undefined;
      if (spec.causal) {
        const bias = temp(tensor(causalBias(L, S), { device, shape: [L, S] }));
        mask = { storage: bias.ref.storage, dtype: 'float32', strides: [0, 0, S, 1], offset: bias.offset };
      }
      const scores = temp(runGemm(device, spec.q, transposed(spec.k), batch, L, E, S, 'float32', { alpha: scale, bias: mask }));
      const p = temp(softmax(scores, -1));
      const dO: Operand = { storage: dOut.ref.storage, dtype: 'float32', strides: dOut.strides.slice(), offset: dOut.offset };
      const dv = runGemm(device, transposed(dense(p)), dO, batch, S, L, Ev, 'float32', undefined, v.shape);
      // delta = rowsum(dO * O), subtracted from dP = dO V^T in the GEMM's store (bias, beta -1).
      const delta = temp(sum(temp(mul(dOut, out)), -1, true));
      const minusDelta: MatmulEpilogue = {
        bias: { storage: delta.ref.storage, dtype: 'float32', strides: [H * L, L, 1, 0], offset: delta.offset },
        beta: -1,
      };
      const dpShifted = temp(runGemm(device, dO, transposed(spec.v), batch, L, Ev, S, 'float32', minusDelta));
      const ds = dense(temp(mul(p, dpShifted)));
      const dq = runGemm(device, ds, spec.k, batch, L, S, E, 'float32', { alpha: scale }, q.shape);
      const dk = runGemm(device, transposed(ds), spec.q, batch, S, L, E, 'float32', { alpha: scale }, k.shape);
      return [dq, dk, dv];
    } finally {
      for (const t of temps) t.dispose();
    }
  });
}
