// xpu.autograd: the public face of the engine, and the gradient formulas (registered at import).
import './formulas/index.js';

export { backward, grad, type BackwardOptions, type GradOptions } from './engine.js';
export { noGrad, enableGrad, isGradEnabled } from './grad_mode.js';
export { gradcheck, type GradcheckOptions } from './gradcheck.js';
