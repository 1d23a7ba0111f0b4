import { XpuDTypeError, XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';
import { tensor } from '../ops/creation.js';
import { data } from '../ops/transfer.js';
import { isFloating } from '../tensor/dtype.js';
import { isTensor, type Tensor } from '../tensor/tensor.js';
import { grad } from './engine.js';
import { noGrad } from './grad_mode.js';
import { mulberry32 } from '../host_rng.js';

export interface GradcheckOptions {
  /** Relative step of the central differences: h = eps * max(1, |x|) (default 1e-3; float32 has no float64 twin here). */
  eps?: number;
  /** Absolute tolerance (default 1e-3). */
  atol?: number;
  /** Relative tolerance (default 1e-2). */
  rtol?: number;
  /** Random output projections compared (default 2). */
  projections?: number;
  /** Throw an XpuValueError naming the first mismatch (default true), else return false. */
  raiseException?: boolean;
}

type Fn = (...inputs: Tensor[]) => Tensor | readonly Tensor[];

const outputsOf = (r: Tensor | readonly Tensor[]): Tensor[] => (isTensor(r) ? [r] : [...r]);

async function host(t: Tensor): Promise<Float64Array> {
  return Float64Array.from((await data(t)) as ArrayLike<number>);
}

/**
 * torch.autograd.gradcheck: compares the analytic gradients of `fn` at `inputs` (the ones with
 * requiresGrad) with central finite differences. There is no float64 dtype, so `fn` runs in
 * the inputs' dtype (float32) and the differences are taken in float64 on the host from the
 * actual (rounded) steps; instead of the full Jacobian, `projections` random vectors v are
 * compared: v^T J from autograd.grad against v^T (f(x + h e_j) - f(x - h e_j)) / 2h for every
 * input element j (torch's fast mode idea). With h = 1e-3 max(1, |x|) the float32 rounding
 * error of a difference is about 1e-4 |f| / h-relative, hence atol 1e-3 and rtol 1e-2 by
 * default. Every input element costs two evaluations of `fn`: keep shapes small.
 */
export async function gradcheck(fn: Fn, inputs: Tensor | readonly Tensor[], options: GradcheckOptions = {}): Promise<boolean> {
  const op = 'gradcheck';
  if (typeof fn !== 'function')
    throw new XpuTypeError('expects a function', { op, arg: 'fn', expected: 'a function of tensors', got: typeName(fn) });
  const xs = isTensor(inputs) ? [inputs] : Array.isArray(inputs) ? [...(inputs as Tensor[])] : null;
  if (!xs) throw new XpuTypeError('expects tensors', { op, arg: 'inputs', expected: 'a Tensor or Tensor[]', got: typeName(inputs) });
  xs.forEach((x, i) => {
    if (!isTensor(x)) throw new XpuTypeError('expects tensors', { op, arg: `inputs[${i}]`, expected: 'a Tensor', got: typeName(x) });
    x.check(op, `inputs[${i}]`);
  });
  const eps = options.eps ?? 1e-3;
  const atol = options.atol ?? 1e-3;
  const rtol = options.rtol ?? 1e-2;
  const projections = options.projections ?? 2;
  const diff = xs.map((x, i) => ({ x, i })).filter(({ x }) => x.requiresGrad);
  if (!diff.length)
    throw new XpuValueError('no input requires grad', {
      op,
      arg: 'inputs',
      expected: 'at least one tensor with requiresGrad',
      got: 'none',
    });
  for (const { x, i } of diff) {
    if (!isFloating(x.dtype)) throw new XpuDTypeError('needs float inputs', { op, arg: `inputs[${i}]`, expected: 'float32', got: x.dtype });
  }

  // Analytic: v^T J for each projection v, through autograd.grad.
  const outs = outputsOf(fn(...xs));
  const rand = mulberry32(1234);
  const vs: Float64Array[][] = [];
  const analytic: Float64Array[][] = []; // [projection][diff input]
  for (let p = 0; p < projections; p++) {
    const v = outs.map((o) => Float64Array.from({ length: o.numel }, () => rand() * 2 - 1));
    vs.push(v);
    const live = outs.map((o, k) => ({ o, k })).filter(({ o }) => o.requiresGrad);
    if (!live.length) {
      analytic.push(diff.map(({ x }) => new Float64Array(x.numel)));
      continue;
    }
    const seeds = live.map(({ o, k }) => tensor(Float32Array.from(v[k]), { shape: o.shape.slice(), dtype: o.dtype, device: o.device }));
    const gs = grad(
      live.map((l) => l.o),
      diff.map((d) => d.x),
      seeds,
      { retainGraph: true, allowUnused: true },
    );
    analytic.push(await Promise.all(gs.map(host)));
  }

  // Numerical: central differences, one input element at a time.
  for (const [di, { x, i }] of diff.entries()) {
    const base = await host(x);
    for (let j = 0; j < base.length; j++) {
      const h = eps * Math.max(1, Math.abs(base[j]));
      const evalAt = async (value: number): Promise<Float64Array[]> => {
        const moved = Float32Array.from(base);
        moved[j] = value;
        // It requires grad as x does, so that an fn that differentiates inside (enableGrad + grad
        // with createGraph: second derivatives) still can.
        const xj = tensor(moved, { shape: x.shape.slice(), dtype: x.dtype, device: x.device, requiresGrad: true });
        const r = noGrad(() => outputsOf(fn(...xs.map((t, k) => (k === i ? xj : t)))));
        return Promise.all(r.map(host));
      };
      const up = Math.fround(base[j] + h);
      const down = Math.fround(base[j] - h);
      const [fp, fm] = [await evalAt(up), await evalAt(down)];
      for (let p = 0; p < projections; p++) {
        let num = 0;
        outs.forEach((_, k) => {
          for (let e = 0; e < fp[k].length; e++) num += vs[p][k][e] * (fp[k][e] - fm[k][e]);
        });
        num /= up - down;
        const ana = analytic[p][di][j];
        if (!(Math.abs(ana - num) <= atol + rtol * Math.abs(num))) {
          if (options.raiseException === false) return false;
          throw new XpuValueError('Jacobian mismatch', {
            op,
            arg: `inputs[${i}]`,
            expected: `numerical v^T J = ${num} at element ${j} (projection ${p}, atol ${atol}, rtol ${rtol})`,
            got: `analytic ${ana}`,
          });
        }
      }
    }
  }
  return true;
}
