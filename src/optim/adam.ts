import type { OptimHyper, OptimRule } from '../backends/optim_spec.js';
import { XpuTypeError } from '../errors.js';
import { typeName } from '../format_value.js';
import { checkBool, checkRange, Optimizer, type GroupOptions, type ParamGroup, type ParamsArg } from './optimizer.js';

export interface AdamOptions extends GroupOptions {
  betas?: [number, number];
  eps?: number;
  amsgrad?: boolean;
}

abstract class AdamBase extends Optimizer<AdamOptions> {
  protected stateNames(group: ParamGroup<AdamOptions>): string[] {
    return group.amsgrad ? ['expAvg', 'expAvgSq', 'maxExpAvgSq'] : ['expAvg', 'expAvgSq'];
  }

  protected checkOptions(op: string, g: Required<AdamOptions>): void {
    checkRange(op, 'lr', g.lr, 0);
    checkRange(op, 'eps', g.eps, 0);
    if (!Array.isArray(g.betas) || g.betas.length !== 2)
      throw new XpuTypeError('betas must be a pair', { op, arg: 'betas', expected: '[beta1, beta2]', got: typeName(g.betas) });
    checkRange(op, 'betas[0]', g.betas[0], 0, 1);
    checkRange(op, 'betas[1]', g.betas[1], 0, 1);
    checkRange(op, 'weightDecay', g.weightDecay, 0);
    checkBool(op, 'amsgrad', g.amsgrad);
    checkBool(op, 'maximize', g.maximize);
  }

  protected hyper(g: ParamGroup<AdamOptions>): OptimHyper {
    return {
      lr: g.lr,
      weightDecay: g.weightDecay,
      maximize: g.maximize,
      momentum: 0,
      dampening: 0,
      nesterov: false,
      beta1: g.betas[0],
      beta2: g.betas[1],
      eps: g.eps,
      amsgrad: g.amsgrad,
    };
  }
}

/**
 * Adam (torch.optim.Adam, 1.13's single-tensor arithmetic): weight decay as L2 added to the
 * gradient, bias-corrected moments, optional AMSGrad and maximize. Defaults as torch's.
 */
export class Adam extends AdamBase {
  protected readonly rule: OptimRule = 'adam';
  constructor(params: ParamsArg<AdamOptions>, options: AdamOptions = {}) {
    super('Adam', params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, ...options });
  }
}

/**
 * AdamW (torch.optim.AdamW): Adam with decoupled weight decay, p *= 1 - lr * weightDecay before
 * the update. Defaults as torch's (weightDecay 0.01).
 */
export class AdamW extends AdamBase {
  protected readonly rule: OptimRule = 'adamw';
  constructor(params: ParamsArg<AdamOptions>, options: AdamOptions = {}) {
    super('AdamW', params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false, ...options });
  }
}
