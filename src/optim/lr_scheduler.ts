import { XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';

/** What a scheduler needs of an optimizer: its groups' learning rates. */
export interface HasParamGroups {
  paramGroups: { lr: number }[];
}

/**
 * The base of the learning-rate schedulers (torch.optim.lr_scheduler's shape): each group's lr is
 * baseLr * factor(epoch); the constructor applies epoch 0, and step() advances one epoch (or
 * step: call it after optimizer.step(), as in torch). The closed forms are used (torch's
 * _get_closed_form_lr), so schedulers do not compound and set lr from scratch each step.
 */
export abstract class LRScheduler {
  readonly baseLrs: number[];
  lastEpoch = 0;

  protected constructor(
    readonly optimizer: HasParamGroups,
    op: string,
  ) {
    if (typeof optimizer !== 'object' || optimizer === null || !Array.isArray(optimizer.paramGroups)) {
      throw new XpuTypeError('a scheduler needs an optimizer', {
        op,
        arg: 'optimizer',
        expected: 'an optimizer (SGD, Adam, AdamW)',
        got: typeName(optimizer),
      });
    }
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
  }

  /** The lr of group i at `epoch`. */
  protected abstract lrAt(baseLr: number, epoch: number, group: number): number;

  protected apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = this.lrAt(this.baseLrs[i], this.lastEpoch, i)));
  }

  step(): void {
    this.lastEpoch++;
    this.apply();
  }

  /** The learning rates set by the last step (torch's get_last_lr()). */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  stateDict(): { lastEpoch: number; baseLrs: number[] } {
    return { lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs] };
  }

  loadStateDict(sd: { lastEpoch: number; baseLrs: number[] }): void {
    this.lastEpoch = sd.lastEpoch;
    this.baseLrs.splice(0, this.baseLrs.length, ...sd.baseLrs);
    this.apply();
  }
}

function posInt(op: string, arg: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new XpuValueError(`${arg} must be an integer >= ${min}`, { op, arg, expected: `an integer >= ${min}`, got: String(v) });
  return v;
}

/** torch's LambdaLR: lr = baseLr * lrLambda(epoch). */
export class LambdaLR extends LRScheduler {
  constructor(
    optimizer: HasParamGroups,
    readonly lrLambda: (epoch: number) => number,
  ) {
    super(optimizer, 'LambdaLR');
    if (typeof lrLambda !== 'function')
      throw new XpuTypeError('lrLambda must be a function', {
        op: 'LambdaLR',
        arg: 'lrLambda',
        expected: '(epoch) => factor',
        got: typeName(lrLambda),
      });
    this.apply();
  }

  protected lrAt(baseLr: number, epoch: number): number {
    return baseLr * this.lrLambda(epoch);
  }
}

/**
 * Linear warm-up: the factor rises as epoch / warmupSteps from 0 to 1, then stays at 1 (the
 * warm-up half of Hugging Face's get_linear_schedule_with_warmup; a LambdaLR).
 */
export function linearWarmup(optimizer: HasParamGroups, warmupSteps: number): LambdaLR {
  const w = posInt('linearWarmup', 'warmupSteps', warmupSteps, 0);
  return new LambdaLR(optimizer, (e) => (e < w ? e / w : 1));
}

/**
 * torch's CosineAnnealingLR (closed form, without restarts): lr = etaMin + (baseLr - etaMin)
 * (1 + cos(pi epoch / tMax)) / 2; past tMax the cosine continues, as torch's closed form does.
 */
export class CosineAnnealingLR extends LRScheduler {
  constructor(
    optimizer: HasParamGroups,
    readonly tMax: number,
    readonly etaMin = 0,
  ) {
    super(optimizer, 'CosineAnnealingLR');
    posInt('CosineAnnealingLR', 'tMax', tMax);
    if (typeof etaMin !== 'number' || !Number.isFinite(etaMin))
      throw new XpuValueError('etaMin must be a finite number', {
        op: 'CosineAnnealingLR',
        arg: 'etaMin',
        expected: 'a finite number',
        got: String(etaMin),
      });
    this.apply();
  }

  protected lrAt(baseLr: number, epoch: number): number {
    return this.etaMin + ((baseLr - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}

/**
 * Linear warm-up then cosine decay to minLrRatio * baseLr at totalSteps (Hugging Face's
 * get_cosine_schedule_with_warmup with half a cycle, plus a floor): factor = epoch / warmupSteps
 * during warm-up, then minLrRatio + (1 - minLrRatio) (1 + cos(pi progress)) / 2 with progress =
 * (epoch - warmupSteps) / (totalSteps - warmupSteps), clamped to [0, 1].
 */
export function warmupCosine(
  optimizer: HasParamGroups,
  options: { warmupSteps: number; totalSteps: number; minLrRatio?: number },
): LambdaLR {
  const op = 'warmupCosine';
  if (typeof options !== 'object' || options === null)
    throw new XpuTypeError('options must be { warmupSteps, totalSteps }', {
      op,
      arg: 'options',
      expected: '{ warmupSteps, totalSteps, minLrRatio? }',
      got: typeName(options),
    });
  const w = posInt(op, 'warmupSteps', options.warmupSteps, 0);
  const total = posInt(op, 'totalSteps', options.totalSteps, Math.max(1, w));
  const floor = options.minLrRatio ?? 0;
  if (typeof floor !== 'number' || !(floor >= 0 && floor <= 1))
    throw new XpuValueError('minLrRatio must be in [0, 1]', { op, arg: 'minLrRatio', expected: 'a number in [0, 1]', got: String(floor) });
  return new LambdaLR(optimizer, (e) => {
    if (e < w) return e / w;
    const progress = Math.min(1, Math.max(0, (e - w) / Math.max(1, total - w)));
    return floor + ((1 - floor) * (1 + Math.cos(Math.PI * progress))) / 2;
  });
}
