// xpu.optim: SGD, Adam, AdamW on fused per-group kernels, clipGradNorm, learning-rate schedulers.
export {
  Optimizer,
  type GroupOptions,
  type ParamGroup,
  type ParamGroupInit,
  type ParamsArg,
  type OptimizerStateDict,
} from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { clipGradNorm } from './clip_grad.js';
import * as lrScheduler from './lr_scheduler.js';
export { lrScheduler };
