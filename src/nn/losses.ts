import { needsGrad, record, type BackwardFn } from '../autograd/record.js';
import { noGrad } from '../autograd/grad_mode.js';
import { XpuDTypeError, XpuShapeError, XpuValueError } from '../errors.js';
import { fmtValue } from '../format_value.js';
import { arange } from '../ops/creation.js';
import { where } from '../ops/elementwise.js';
import { abs, add, div, eq, exp, log1p, mul, ne, neg, relu, sigmoid, square, sub } from '../ops/math.js';
import { logSoftmax, softmax } from '../ops/norm.js';
import { mean, sum } from '../ops/reduce.js';
import { gather } from '../ops/structural.js';
import { to } from '../ops/transfer.js';
import { optionalTensorArg, optionsArg, tensorArg } from '../ops/common.js';
import { permute, reshape } from '../ops/views.js';
import { fmtShape, shapeEq } from '../tensor/shape.js';
import { runScope } from '../tensor/scope.js';
import { isTensor, type Tensor } from '../tensor/tensor.js';

/**
 * Losses with torch.nn.functional's semantics (xpu.nn.functional.crossEntropy, ...). crossEntropy
 * and binaryCrossEntropyWithLogits compute their forward under noGrad as one fused expression and
 * record ONE graph node whose backward is the closed form (softmax - target distribution,
 * sigmoid - target), recomputed from the logits rather than saved; mseLoss and l1Loss are
 * composites whose gradients come from their ops. Targets get no gradient.
 */
export type Reduction = 'none' | 'mean' | 'sum';

function reductionArg(op: string, r: unknown): Reduction {
  if (r !== 'none' && r !== 'mean' && r !== 'sum')
    throw new XpuValueError('reduction must be none, mean or sum', {
      op,
      arg: 'reduction',
      expected: "'none' | 'mean' | 'sum'",
      got: fmtValue(r),
    });
  return r;
}

function floatArg(op: string, arg: string, x: Tensor): Tensor {
  if (x.dtype !== 'float32' && x.dtype !== 'float16')
    throw new XpuDTypeError('expects a float tensor', { op, arg, expected: 'float32 or float16', got: x.dtype });
  return x;
}

function reduce(x: Tensor, reduction: Reduction): Tensor {
  return reduction === 'none' ? x : reduction === 'sum' ? sum(x) : mean(x);
}

const scoped = <T>(fn: () => T): T => runScope(fn, isTensor);
/** A scope frees intermediates, unless the graph being recorded needs them for backward. */
const scopedUnlessGrad = <T>(inputs: unknown[], fn: () => T): T => (needsGrad(...inputs) ? fn() : scoped(fn));

export interface CrossEntropyOptions {
  /** Targets equal to this class index contribute nothing (default -100, torch's). */
  ignoreIndex?: number;
  /** Mixes the one-hot target with the uniform distribution: (1 - s) onehot + s / C. */
  labelSmoothing?: number;
  reduction?: Reduction;
}

/**
 * torch.nn.functional.cross_entropy with class-index targets: input [N, C] (or [C], or
 * [N, C, d1, ...] with the classes in dim 1), target int32 [N] (or [], [N, d1, ...]). The loss of a
 * row is -(1 - s) logp[target] - (s / C) sum_c logp[c] (logp = logSoftmax over the classes);
 * rows whose target is ignoreIndex give 0 and are left out of the mean (a mean over no rows is
 * NaN, as torch). Gradient: (softmax - q) scaled by the incoming gradient (and 1 / count for the
 * mean), q the smoothed one-hot target, zero on ignored rows.
 */
export function crossEntropy(input: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  floatArg(op, 'input', tensorArg(op, 'input', input));
  tensorArg(op, 'target', target);
  optionsArg(op, options);
  const reduction = reductionArg(op, options.reduction ?? 'mean');
  const ignoreIndex = options.ignoreIndex ?? -100;
  const smoothing = options.labelSmoothing ?? 0;
  if (!Number.isInteger(ignoreIndex))
    throw new XpuValueError('ignoreIndex must be an integer', {
      op,
      arg: 'ignoreIndex',
      expected: 'an integer',
      got: fmtValue(ignoreIndex),
    });
  if (typeof smoothing !== 'number' || !(smoothing >= 0 && smoothing <= 1))
    throw new XpuValueError('labelSmoothing must be in [0, 1]', {
      op,
      arg: 'labelSmoothing',
      expected: 'a number in [0, 1]',
      got: fmtValue(smoothing),
    });
  if (target.dtype !== 'int32' && target.dtype !== 'uint32')
    throw new XpuDTypeError('class-index targets must be integers', { op, arg: 'target', expected: 'int32', got: target.dtype });
  if (input.ndim === 0)
    throw new XpuShapeError('input needs a class dim', {
      op,
      arg: 'input',
      expected: '[C], [N, C] or [N, C, d1, ...]',
      got: fmtShape(input.shape),
    });
  // The classes go last: rows [M, C] and targets [M].
  const classDim = input.ndim === 1 ? 0 : 1;
  const expectTarget = input.shape.filter((_, i) => i !== classDim);
  if (!shapeEq(target.shape, expectTarget))
    throw new XpuShapeError('target shape must be the input shape without the class dim', {
      op,
      arg: 'target',
      expected: fmtShape(expectTarget),
      got: fmtShape(target.shape),
    });
  if (input.device !== target.device)
    throw new XpuValueError('input and target are on different devices', {
      op,
      arg: 'target',
      expected: String(input.device),
      got: String(target.device),
    });
  const c = input.shape[classDim];
  const m = expectTarget.reduce((a, b) => a * b, 1);
  const order = [...expectTarget.keys()].map((i) => (i < classDim ? i : i + 1));
  const toRows = (x: Tensor): Tensor => reshape(input.ndim <= 2 ? x : permute(x, [...order, classDim]), [m, c]);
  const fromRows = (g: Tensor): Tensor => {
    if (input.ndim <= 2) return reshape(g, [...input.shape]);
    const permuted = [...expectTarget.slice(0, 1), ...expectTarget.slice(1), c];
    const back = order.concat(classDim).map((_, i) => [...order, classDim].indexOf(i));
    return permute(reshape(g, permuted), back);
  };
  // Per row: the target (ignored ones replaced by class 0 for the gather), the kept-row mask.
  const rowsOf = (inp: Tensor, tgt: Tensor): { x: Tensor; safe: Tensor; kept: Tensor } => {
    const x = toRows(inp);
    const t = reshape(tgt.dtype === 'int32' ? tgt : to(tgt, 'int32'), [m, 1]);
    const kept = ne(t, ignoreIndex);
    return { x, safe: where(kept, t, 0), kept };
  };
  const forward = (): Tensor =>
    scoped(() => {
      const { x, safe, kept } = rowsOf(input, target);
      const logp = logSoftmax(x, 1);
      let nll = neg(gather(logp, 1, safe));
      if (smoothing > 0) nll = add(mul(nll, 1 - smoothing), mul(neg(sum(logp, 1, true)), smoothing / c));
      const keptF = to(kept, input.dtype);
      const rows = mul(nll, keptF);
      return reduction === 'none' ? reshape(rows, expectTarget) : reduction === 'sum' ? sum(rows) : div(sum(rows), sum(keptF));
    });
  if (!needsGrad(input)) return forward();
  const loss = noGrad(forward);
  const backward: BackwardFn = ([g], saved) => {
    if (!g) return [null, null];
    const [inp, tgt] = saved.inputs as Tensor[];
    return [
      scoped(() => {
        const { x, safe, kept } = rowsOf(inp, tgt);
        const onehot = to(eq(arange(0, c, 1, { device: inp.device, dtype: 'int32' }), safe), inp.dtype);
        const q = smoothing > 0 ? add(mul(onehot, 1 - smoothing), smoothing / c) : onehot;
        const keptF = to(kept, inp.dtype);
        const scale =
          reduction === 'none' ? mul(reshape(g, [m, 1]), keptF) : reduction === 'sum' ? mul(g, keptF) : mul(div(g, sum(keptF)), keptF);
        return fromRows(mul(sub(softmax(x, 1), q), scale));
      }),
      null,
    ];
  };
  record('crossEntropy', [input, target], loss, backward, { inputs: true });
  return loss;
}

/** torch.nn.functional.mse_loss: mean (or sum / none) of (input - target)^2; broadcasts as torch. */
export function mseLoss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  const op = 'mseLoss';
  floatArg(op, 'input', tensorArg(op, 'input', input));
  tensorArg(op, 'target', target);
  const reduction = reductionArg(op, optionsArg(op, options).reduction ?? 'mean');
  return scopedUnlessGrad([input, target], () => reduce(square(sub(input, target)), reduction));
}

/** torch.nn.functional.l1_loss: mean (or sum / none) of |input - target| (gradient sign(input - target), 0 at 0). */
export function l1Loss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  const op = 'l1Loss';
  floatArg(op, 'input', tensorArg(op, 'input', input));
  tensorArg(op, 'target', target);
  const reduction = reductionArg(op, optionsArg(op, options).reduction ?? 'mean');
  return scopedUnlessGrad([input, target], () => reduce(abs(sub(input, target)), reduction));
}

export interface BceOptions {
  /** Per-element rescaling weight, broadcast against the input. */
  weight?: Tensor;
  /** Weight of the positive examples, broadcast along the last dim (torch's pos_weight). */
  posWeight?: Tensor;
  reduction?: Reduction;
}

/**
 * torch.nn.functional.binary_cross_entropy_with_logits in its stable form: with lw = 1 + (posWeight
 * - 1) target, loss = (1 - target) x + lw (log1p(exp(-|x|)) + max(-x, 0)), times weight.
 * Gradient (one node): ((1 - target) - lw sigmoid(-x)) weight, scaled; none to the target.
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, options: BceOptions = {}): Tensor {
  const op = 'binaryCrossEntropyWithLogits';
  floatArg(op, 'input', tensorArg(op, 'input', input));
  tensorArg(op, 'target', target);
  optionsArg(op, options);
  const weight = optionalTensorArg(op, 'weight', options.weight);
  const posWeight = optionalTensorArg(op, 'posWeight', options.posWeight);
  const reduction = reductionArg(op, options.reduction ?? 'mean');
  if (!shapeEq(input.shape, target.shape))
    throw new XpuShapeError('target must have the input shape', {
      op,
      arg: 'target',
      expected: fmtShape(input.shape),
      got: fmtShape(target.shape),
    });
  const lw = (t: Tensor, pw: Tensor | undefined): Tensor | number => (pw ? add(mul(sub(pw, 1), t), 1) : 1);
  const forward = (): Tensor =>
    scoped(() => {
      const softplusNeg = add(log1p(exp(neg(abs(input)))), relu(neg(input)));
      let l = add(mul(sub(1, target), input), mul(lw(target, posWeight), softplusNeg));
      if (weight) l = mul(l, weight);
      return reduce(l, reduction);
    });
  if (!needsGrad(input)) return forward();
  const loss = noGrad(forward);
  const backward: BackwardFn = ([g], saved) => {
    if (!g) return [null, null, null, null];
    const [x, t, w, pw] = saved.inputs as (Tensor | undefined)[];
    return [
      scoped(() => {
        let d = sub(sub(1, t as Tensor), mul(lw(t as Tensor, pw), sigmoid(neg(x as Tensor))));
        if (w) d = mul(d, w);
        return mul(d, reduction === 'mean' ? div(g, (x as Tensor).numel) : g);
      }),
      null,
      null,
      null,
    ];
  };
  record('binaryCrossEntropyWithLogits', [input, target, weight, posWeight], loss, backward, { inputs: true });
  return loss;
}
