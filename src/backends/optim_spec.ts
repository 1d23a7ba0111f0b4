import type { Storage } from './operand.js';

/**
 * One fused optimizer step over a parameter group (src/optim): the backend primitive behind
 * SGD, Adam and AdamW. The group's state (momentum buffer; Adam's moments) lives in flat float32
 * storages owned by the optimizer, one per kind of state, each parameter at a fixed range
 * [start, start + numel). A step updates the parameters that have a gradient (the segments) in
 * place, in their own storages, and the state ranges they own; the others are left as they are.
 *
 * The arithmetic is torch 1.13's single-tensor form (torch/optim/sgd.py, adam.py, adamw.py), op by
 * op in float32 with the hyper-parameters rounded to float32, as torch's CPU kernels compute:
 * every backend follows the TypeScript twin (optimStepTwin in src/backends/cpu/optim.ts, the
 * reference), native/compute/optim.cc and kernels/optim.wgsl transcribing it.
 */
export type OptimRule = 'sgd' | 'adam' | 'adamw';

export interface OptimSegment {
  /** The parameter's storage and its first element (the parameter is contiguous). */
  param: Storage;
  paramOffset: number;
  /** Its gradient: contiguous, same numel, float32. */
  grad: Storage;
  gradOffset: number;
  /** Where it sits in the flat state storages. */
  start: number;
  numel: number;
  /** Adam: lr / (1 - beta1^step), in float64. */
  stepSize: number;
  /** Adam: sqrt(1 - beta2^step), in float64. */
  bc2Sqrt: number;
  /** SGD with momentum: the buffer is not initialised yet (torch's first step clones d_p into it). */
  first: boolean;
}

export interface OptimHyper {
  lr: number;
  weightDecay: number;
  maximize: boolean;
  /** SGD. */
  momentum: number;
  dampening: number;
  nesterov: boolean;
  /** Adam / AdamW. */
  beta1: number;
  beta2: number;
  eps: number;
  amsgrad: boolean;
}

export interface OptimStepSpec {
  rule: OptimRule;
  hyper: OptimHyper;
  segments: readonly OptimSegment[];
  /** SGD: [momentum buffer] (none without momentum); Adam/AdamW: [exp_avg, exp_avg_sq] (+ max_exp_avg_sq with amsgrad). */
  state: readonly Storage[];
  /** Elements of each flat state storage (the group's total). */
  total: number;
}

/** The float32 scalars every kernel receives (hyper-parameters rounded once, as torch's float kernels take them). */
export interface OptimScalars {
  lr: number;
  wd: number;
  mom: number;
  /** 1 - dampening. */
  damp1: number;
  b1: number;
  /** 1 - beta1. */
  omb1: number;
  b2: number;
  omb2: number;
  eps: number;
  /** AdamW: 1 - lr * weight_decay. */
  decay: number;
}

export function optimScalars(h: OptimHyper): OptimScalars {
  const f = Math.fround;
  return {
    lr: f(h.lr),
    wd: f(h.weightDecay),
    mom: f(h.momentum),
    damp1: f(1 - h.dampening),
    b1: f(h.beta1),
    omb1: f(1 - h.beta1),
    b2: f(h.beta2),
    omb2: f(1 - h.beta2),
    eps: f(h.eps),
    decay: f(1 - h.lr * h.weightDecay),
  };
}
