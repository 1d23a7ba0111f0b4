import type { OptimHyper } from '../backends/optim_spec.js';
import { XpuValueError } from '../errors.js';
import { checkBool, checkRange, Optimizer, type GroupOptions, type ParamGroup, type ParamsArg } from './optimizer.js';

export interface SGDOptions extends GroupOptions {
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent (torch.optim.SGD, 1.13 semantics): weight decay added to the
 * gradient, momentum with dampening (the buffer starts as the first gradient), Nesterov, maximize.
 * lr has no default in torch; here it defaults to 1e-3 like torch 2.x's SGD.
 */
export class SGD extends Optimizer<SGDOptions> {
  protected readonly rule = 'sgd' as const;

  constructor(params: ParamsArg<SGDOptions>, options: SGDOptions = {}) {
    super('SGD', params, { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...options });
  }

  protected stateNames(group: ParamGroup<SGDOptions>): string[] {
    return group.momentum !== 0 ? ['momentumBuffer'] : [];
  }

  protected checkOptions(op: string, g: Required<SGDOptions>): void {
    checkRange(op, 'lr', g.lr, 0);
    checkRange(op, 'momentum', g.momentum, 0);
    checkRange(op, 'dampening', g.dampening, -Infinity);
    checkRange(op, 'weightDecay', g.weightDecay, 0);
    checkBool(op, 'nesterov', g.nesterov);
    checkBool(op, 'maximize', g.maximize);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new XpuValueError('Nesterov momentum requires a momentum and zero dampening', {
        op,
        arg: 'nesterov',
        expected: 'momentum > 0 and dampening = 0',
        got: `momentum ${g.momentum}, dampening ${g.dampening}`,
      });
    }
  }

  protected hyper(g: ParamGroup<SGDOptions>): OptimHyper {
    return {
      lr: g.lr,
      weightDecay: g.weightDecay,
      maximize: g.maximize,
      momentum: g.momentum,
      dampening: g.dampening,
      nesterov: g.nesterov,
      beta1: 0,
      beta2: 0,
      eps: 0,
      amsgrad: false,
    };
  }
}
