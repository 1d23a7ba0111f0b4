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
 * every backend (the TypeScript twin, native/compute/optim.cc, kernels/optim.wgsl) follows
 * optimStepElement below.
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

const f = Math.fround;

export function optimScalars(h: OptimHyper): OptimScalars {
  return {
    lr: f(h.lr), wd: f(h.weightDecay), mom: f(h.momentum), damp1: f(1 - h.dampening),
    b1: f(h.beta1), omb1: f(1 - h.beta1), b2: f(h.beta2), omb2: f(1 - h.beta2), eps: f(h.eps), decay: f(1 - h.lr * h.weightDecay),
  };
}

/**
 * The reference arithmetic for one element (the TypeScript twin runs it; the WGSL and C++ kernels
 * transcribe it). `s` holds the element's state values and is updated; returns the new parameter.
 * Each Math.fround is one float32 op of torch's sequence.
 */
export function optimStepElement(rule: OptimRule, h: OptimHyper, c: OptimScalars, p: number, g: number, s: number[], seg: OptimSegment): number {
  let d = h.maximize ? -g : g;
  if (rule === 'sgd') {
    if (c.wd !== 0) d = f(d + f(c.wd * p));
    if (c.mom !== 0) {
      const buf = seg.first ? d : f(f(s[0] * c.mom) + f(c.damp1 * d));
      s[0] = buf;
      d = h.nesterov ? f(d + f(c.mom * buf)) : buf;
    }
    return f(p + f(-c.lr * d));
  }
  if (rule === 'adamw') p = f(p * c.decay);
  else if (c.wd !== 0) d = f(d + f(c.wd * p));
  const m = f(f(s[0] * c.b1) + f(c.omb1 * d));
  const v = f(f(s[1] * c.b2) + f(c.omb2 * f(d * d)));
  s[0] = m;
  s[1] = v;
  let vh = v;
  if (h.amsgrad) {
    // torch.maximum: NaN wins.
    vh = Number.isNaN(s[2]) || Number.isNaN(v) ? NaN : Math.max(s[2], v);
    s[2] = vh;
  }
  const denom = f(f(f(Math.sqrt(vh)) / f(seg.bc2Sqrt)) + c.eps);
  return f(p + f(f(-seg.stepSize) * f(m / denom)));
}
