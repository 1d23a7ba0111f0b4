import { XpuDeviceError, XpuValueError } from '../errors.js';
import { zeros } from '../ops/creation.js';
import { copyInto } from '../ops/copy_into.js';
import { add, clamp, div, mul } from '../ops/math.js';
import { norm } from '../ops/reduce_ops.js';
import { stack } from '../ops/structural.js';
import { tensorArg } from '../ops/common.js';
import { keep, runScope } from '../tensor/scope.js';
import { noGrad } from '../autograd/grad_mode.js';
import { isTensor, type Tensor } from '../tensor/tensor.js';

/**
 * torch.nn.utils.clip_grad_norm_: the normType-norm of all gradients together (the norm of the
 * per-parameter norms), and every gradient scaled in place by min(1, maxNorm / (total + 1e-6)).
 * Returns the total norm as a 0-dim tensor; nothing is read back to the host (the scale stays on
 * the device), so a training step does not wait here. normType: a positive number or Infinity.
 */
export function clipGradNorm(params: Iterable<Tensor> | Tensor, maxNorm: number, normType = 2): Tensor {
  const op = 'clipGradNorm';
  const list = isTensor(params) ? [params] : [...params];
  list.forEach((p, i) => tensorArg(op, `params[${i}]`, p));
  if (typeof maxNorm !== 'number' || !(maxNorm >= 0))
    throw new XpuValueError('maxNorm must be a number >= 0', { op, arg: 'maxNorm', expected: 'a number >= 0', got: String(maxNorm) });
  if (typeof normType !== 'number' || !(normType > 0))
    throw new XpuValueError('normType must be a positive number or Infinity', {
      op,
      arg: 'normType',
      expected: 'a number > 0',
      got: String(normType),
    });
  const grads = list.map((p) => p.grad).filter((g): g is Tensor => g !== null);
  if (grads.length === 0) return zeros([], { device: list[0]?.device });
  const device = grads[0].device;
  grads.forEach((g, i) => {
    if (g.device !== device)
      throw new XpuDeviceError('gradients on more than one device', {
        op,
        arg: `params[${i}].grad`,
        expected: String(device),
        got: String(g.device),
      });
  });
  // Under noGrad, as torch's @torch.no_grad(): gradients made with createGraph record nothing here.
  return noGrad(() =>
    runScope(() => {
      const total = norm(stack(grads.map((g) => norm(g, normType))), normType);
      const coef = clamp(div(maxNorm, add(total, 1e-6)), undefined, 1);
      for (const p of list) {
        const g = p.grad;
        if (!g) continue;
        const scaled = mul(g, coef);
        if (g.isContiguous() && scaled.dtype === g.dtype) {
          copyInto(g, scaled);
        } else {
          p.grad = keep(scaled);
          g.dispose();
        }
      }
      return total;
    }, isTensor),
  );
}
